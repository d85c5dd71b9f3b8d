"""Dashboard pages of the billing app (mounted at /billing/, namespace "billing")."""

from django.urls import URLPattern, path

from billing import views

urlpatterns: list[URLPattern] = [
    path("", views.balance, name="balance"),
    path("threshold/", views.threshold, name="threshold"),
    path("ledger/", views.ledger, name="ledger"),
    path("ledger.csv", views.ledger_csv, name="ledger_csv"),
    path("topup/", views.topup, name="topup"),
]
