"""Dashboard pages of the billing app (mounted at /billing/, namespace "billing")."""

from django.urls import URLPattern, path

from billing import views

urlpatterns: list[URLPattern] = [
    path("", views.balance, name="balance"),
    path("threshold/", views.threshold, name="threshold"),
    path("ledger/", views.ledger, name="ledger"),
    path("ledger.csv", views.ledger_csv, name="ledger_csv"),
    path("topup/", views.topup, name="topup"),
    path("invoices/", views.invoices, name="invoices"),
    path("invoices/<str:number>/", views.invoice_detail, name="invoice"),
    path("invoices/<str:number>/pdf/", views.invoice_pdf, name="invoice_pdf"),
    path("invoices/<str:number>/csv/", views.invoice_csv, name="invoice_csv"),
    path("statements/", views.statements, name="statements"),
    path("statements/<str:month>/pdf/", views.statement_pdf, name="statement_pdf"),
]
