"""Dashboard pages of the messaging app (mounted at /messaging/, namespace "messaging")."""

from django.urls import URLPattern, path

from messaging import views

urlpatterns: list[URLPattern] = [
    path("messages/", views.message_list, name="messages"),
    path("messages/<str:message_id>/", views.message_detail, name="message"),
    path("verifications/", views.verification_list, name="verifications"),
    path("sandbox/", views.sandbox, name="sandbox"),
    path("sandbox/send/", views.sandbox_send, name="sandbox_send"),
    path("webhooks/", views.webhooks, name="webhooks"),
    path("webhooks/create/", views.webhook_create, name="webhook_create"),
    path("webhooks/deliveries/<int:delivery_id>/resend/", views.delivery_resend, name="delivery_resend"),
    path("webhooks/<str:endpoint_id>/delete/", views.webhook_delete, name="webhook_delete"),
    path("webhooks/<str:endpoint_id>/test/", views.webhook_test, name="webhook_test"),
    path("templates/", views.templates, name="templates"),
    path("templates/<str:locale>/", views.template_set, name="template_set"),
    path("templates/<str:locale>/delete/", views.template_delete, name="template_delete"),
    path("api-keys/", views.api_keys, name="api_keys"),
    path("api-keys/create/", views.api_key_create, name="api_key_create"),
    path("api-keys/<int:key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
]
