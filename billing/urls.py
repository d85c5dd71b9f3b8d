"""Dashboard pages of the billing app (mounted at /billing/, namespace "billing")."""

from django.urls import path

urlpatterns: list = []
