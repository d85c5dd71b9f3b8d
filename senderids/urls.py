"""Dashboard pages of sender IDs (mounted at /sender-ids/, namespace "senderids")."""

from django.urls import URLPattern, path

from senderids import views

urlpatterns: list[URLPattern] = [
    path("", views.sender_id_list, name="list"),
    path("apply/", views.apply, name="apply"),
    path("apply/form.pdf", views.appointment_form, name="appointment_form"),
    path("<str:sender_id>/", views.detail, name="detail"),
    path("<str:sender_id>/form/", views.uploaded_form, name="uploaded_form"),
    path("<str:sender_id>/registrations/<int:registration_id>/reactivate/", views.reactivate, name="reactivate"),
]
