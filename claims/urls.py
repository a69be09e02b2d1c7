from django.urls import path

from claims import views, views_backoffice

urlpatterns = [
    # The policyholder's side (its users and its brokers).
    path("claims/", views.claim_list, name="claim_list"),
    path("claims/new/", views.claim_new, name="claim_new"),
    path("claims/template.csv", views.claim_invoices_template, name="claim_invoices_template"),
    path("claims/<uuid:claim_id>/", views.claim_detail, name="claim_detail"),
    path("claims/<uuid:claim_id>/invoices/", views.claim_invoices_add, name="claim_invoices_add"),
    path(
        "claims/<uuid:claim_id>/invoices/upload/",
        views.claim_invoices_upload,
        name="claim_invoices_upload",
    ),
    path("claims/<uuid:claim_id>/documents/", views.claim_document_add, name="claim_document_add"),
    path(
        "claims/<uuid:claim_id>/documents/<uuid:document_id>/",
        views.claim_document,
        name="claim_document",
    ),
    path("claims/<uuid:claim_id>/statement.pdf", views.claim_statement, name="claim_statement"),
    # The claims handler's side.
    path("backoffice/claims/", views_backoffice.claim_queue, name="claim_queue"),
    path("backoffice/claims/export.csv", views_backoffice.claim_export, name="claim_export"),
    path("backoffice/claims/<uuid:claim_id>/", views_backoffice.claim_handle, name="claim_handle"),
    path(
        "backoffice/claims/<uuid:claim_id>/<str:action>/",
        views_backoffice.claim_action,
        name="claim_action",
    ),
]
