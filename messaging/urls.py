"""Dashboard pages of the messaging app (mounted at /messaging/, namespace "messaging")."""

from django.urls import URLPattern, path

from messaging import views
from messaging import views_developers as developers

urlpatterns: list[URLPattern] = [
    path("messages/", views.message_list, name="messages"),
    path("messages.csv", views.message_csv, name="messages_csv"),
    path("messages/<str:message_id>/", views.message_detail, name="message"),
    path("verifications/", views.verification_list, name="verifications"),
    path("verifications.csv", views.verification_csv, name="verifications_csv"),
    path("verifications/<str:verification_id>/", views.verification_detail, name="verification"),
    path("pricing/", views.pricing, name="pricing"),
    path("pricing/quote/", views.pricing_quote, name="pricing_quote"),
    # The developer pages: messaging/views_developers.py
    path("sandbox/", developers.sandbox, name="sandbox"),
    path("sandbox/send/", developers.sandbox_send, name="sandbox_send"),
    path("sandbox/inbox/", developers.sandbox_inbox, name="sandbox_inbox"),
    path("sandbox/try/send/", developers.try_send, name="try_send"),
    path("sandbox/try/check/", developers.try_check, name="try_check"),
    path("webhooks/", developers.webhooks, name="webhooks"),
    path("webhooks/create/", developers.webhook_create, name="webhook_create"),
    path("webhooks/deliveries/<int:delivery_id>/resend/", developers.delivery_resend, name="delivery_resend"),
    path("webhooks/<str:endpoint_id>/delete/", developers.webhook_delete, name="webhook_delete"),
    path("webhooks/<str:endpoint_id>/test/", developers.webhook_test, name="webhook_test"),
    path("templates/", developers.templates, name="templates"),
    path("templates/<str:locale>/", developers.template_set, name="template_set"),
    path("templates/<str:locale>/delete/", developers.template_delete, name="template_delete"),
    path("api-keys/", developers.api_keys, name="api_keys"),
    path("api-keys/create/", developers.api_key_create, name="api_key_create"),
    path("api-keys/<int:key_id>/revoke/", developers.api_key_revoke, name="api_key_revoke"),
    path("quick-start/", developers.quickstart, name="quickstart"),
]
