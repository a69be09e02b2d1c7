from django.urls import path

from studies import views, views_invitation

urlpatterns = [
    path("studies/", views.study_list, name="study_list"),
    path("studies/new/", views.study_new, name="study_new"),
    path("studies/new/prospect/", views.study_new_prospect, name="study_new_prospect"),
    path("studies/template.<str:format>", views.study_template, name="study_template"),
    path("studies/<uuid:study_id>/", views.study_detail, name="study_detail"),
    path("studies/<uuid:study_id>/progress/", views.study_progress, name="study_progress"),
    path("studies/<uuid:study_id>/upload/", views.study_upload, name="study_upload"),
    # One pattern per format, the format as a default kwarg: the route walker of the tenancy
    # tests then needs only the study to build the URL.
    *(
        path(
            f"studies/<uuid:study_id>/verdicts.{kind}",
            views.study_verdicts,
            {"format": kind},
            name="study_verdicts",
        )
        for kind in ("csv", "xlsx")
    ),
    path("studies/<uuid:study_id>/submit/", views.study_submit, name="study_submit"),
    path(
        "studies/<uuid:study_id>/lines/<uuid:line_id>/adjust/",
        views.study_line_adjust,
        name="study_line_adjust",
    ),
    path("studies/<uuid:study_id>/finalise/", views.study_finalise, name="study_finalise"),
    path("studies/<uuid:study_id>/countersign/", views.study_countersign, name="study_countersign"),
    path("studies/<uuid:study_id>/accept/", views.study_accept, name="study_accept"),
    path("studies/<uuid:study_id>/decline/", views.study_decline, name="study_decline"),
    path("studies/<uuid:study_id>/report/", views.study_report, name="study_report"),
    path(
        "studies/<uuid:study_id>/invitation/<uidb64>/<token>/",
        views_invitation.study_invitation,
        name="study_invitation",
    ),
    path(
        "studies/<uuid:study_id>/report.pdf", views.study_report_pdf_view, name="study_report_pdf"
    ),
]
