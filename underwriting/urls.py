from django.urls import path

from underwriting import views, views_backoffice

urlpatterns = [
    # wholesaler (and its broker) side
    path("contracts/<uuid:contract_id>/buyers/", views.buyer_search, name="buyer_search"),
    path(
        "contracts/<uuid:contract_id>/buyers/<uuid:buyer_id>/",
        views.buyer_page,
        name="buyer_page",
    ),
    path(
        "contracts/<uuid:contract_id>/buyers/<uuid:buyer_id>/coverage/",
        views.coverage,
        name="coverage_check",
    ),
    path(
        "contracts/<uuid:contract_id>/buyers/<uuid:buyer_id>/primary/",
        views.primary_report,
        name="primary_report",
    ),
    path(
        "contracts/<uuid:contract_id>/buyers/<uuid:buyer_id>/request/",
        views.request_new,
        name="request_new",
    ),
    path(
        "contracts/<uuid:contract_id>/buyers/<uuid:buyer_id>/request/limits/",
        views.request_limits,
        name="request_limits",
    ),
    path("requests/", views.request_list, name="request_list"),
    path("requests/<uuid:request_id>/", views.request_detail, name="request_detail"),
    path("requests/<uuid:request_id>/withdraw/", views.request_withdraw, name="request_withdraw"),
    path("guarantees/", views.guarantee_list, name="guarantee_list"),
    # arbiter side
    path("backoffice/queue/", views_backoffice.queue, name="queue"),
    path(
        "backoffice/requests/<uuid:request_id>/",
        views_backoffice.arbiter_request,
        name="arbiter_request",
    ),
    path(
        "backoffice/requests/<uuid:request_id>/assign/",
        views_backoffice.request_assign,
        name="request_assign",
    ),
    path(
        "backoffice/requests/<uuid:request_id>/countersign/",
        views_backoffice.request_countersign,
        name="request_countersign",
    ),
    path(
        "backoffice/requests/<uuid:request_id>/resume/",
        views_backoffice.request_resume,
        name="request_resume",
    ),
    path(
        "backoffice/buyers/<uuid:buyer_id>/",
        views_backoffice.buyer_risk_file,
        name="buyer_risk_file",
    ),
    path(
        "backoffice/contracts/<uuid:contract_id>/end/",
        views_backoffice.contract_end,
        name="contract_end",
    ),
    path(
        "backoffice/guarantees/<uuid:guarantee_id>/change/",
        views_backoffice.guarantee_change,
        name="guarantee_change",
    ),
]
