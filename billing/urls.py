from django.urls import path

from billing import views

urlpatterns = [
    path("billing/", views.billing_home, name="billing_home"),
    path("billing/runs/", views.billing_run_create, name="billing_run_create"),
    path("billing/runs/table/", views.billing_runs_table, name="billing_runs_table"),
    path("billing/runs/<uuid:run_id>/", views.billing_run_detail, name="billing_run_detail"),
    path(
        "billing/runs/<uuid:run_id>/progress/",
        views.billing_run_progress,
        name="billing_run_progress",
    ),
    path("invoices/", views.invoice_list, name="invoice_list"),
    path("invoices/export.csv", views.invoice_export, name="invoice_export"),
    path(
        "invoices/payments/import/",
        views.bank_statement_import,
        name="bank_statement_import",
    ),
    path(
        "invoices/<uuid:invoice_id>/payments/",
        views.payment_create,
        name="payment_create",
    ),
    path("invoices/<uuid:invoice_id>/", views.invoice_detail, name="invoice_detail"),
    path("invoices/<uuid:invoice_id>/pdf/", views.invoice_pdf, name="invoice_pdf"),
    path(
        "invoices/<uuid:invoice_id>/credit-note/",
        views.credit_note_create,
        name="credit_note_create",
    ),
]
