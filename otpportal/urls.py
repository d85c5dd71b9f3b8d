from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import api as accounts_api
from accounts import views as accounts_views
from billing import api as billing_api
from messaging import api as m
from messaging import home as messaging_home
from messaging import inbound
from otpportal.api import CATCH_ALL_NAME, api_not_found, healthz
from otpportal.staff2fa import staff_2fa, staff_2fa_enrol
from senderids import api as senderids_api

handler404 = "otpportal.api.handler404"
handler500 = "otpportal.outage.handler500"  # an outage is a 503 (issue 14), any other error otpportal.api's 500

api_v1 = [
    path("me", accounts_api.MeApi.as_view(), name="me"),
    path("balance", billing_api.BalanceApi.as_view(), name="balance"),
    path("verifications", m.VerificationsApi.as_view(), name="verifications"),
    path("verifications/check", m.VerificationCheckByNumberApi.as_view(), name="verification-check-by-number"),
    path("verifications/<str:verification_id>", m.VerificationDetailApi.as_view(), name="verification"),
    path("verifications/<str:verification_id>/check", m.VerificationCheckApi.as_view(), name="verification-check"),
    path("verifications/<str:verification_id>/resend", m.VerificationResendApi.as_view(), name="verification-resend"),
    path("verifications/<str:verification_id>/cancel", m.VerificationCancelApi.as_view(), name="verification-cancel"),
    path("messages", m.MessagesApi.as_view(), name="messages"),
    path("messages/<str:message_id>", m.MessageDetailApi.as_view(), name="message"),
    path("pricing/quote", m.QuoteApi.as_view(), name="quote"),
    path("sandbox/messages", m.SandboxMessagesApi.as_view(), name="sandbox-messages"),
    path("webhooks", m.WebhooksApi.as_view(), name="webhooks"),
    path("webhooks/<str:endpoint_id>", m.WebhookDetailApi.as_view(), name="webhook"),
    path("invoices", billing_api.InvoicesApi.as_view(), name="invoices"),
    # An invoice number: INV/2026/000123 (slashes, or %2F) or INV-2026-000123.
    re_path(
        r"^invoices/(?P<number>(?:INV|CN)[/-]\d{4}[/-]\d{6})$", billing_api.InvoiceDetailApi.as_view(), name="invoice"
    ),
    re_path(
        r"^invoices/(?P<number>(?:INV|CN)[/-]\d{4}[/-]\d{6})/pdf$",
        billing_api.InvoicePdfApi.as_view(),
        name="invoice-pdf",
    ),
    re_path(
        r"^invoices/(?P<number>(?:INV|CN)[/-]\d{4}[/-]\d{6})/csv$",
        billing_api.InvoiceCsvApi.as_view(),
        name="invoice-csv",
    ),
    path("sender-ids", senderids_api.SenderIdsApi.as_view(), name="sender-ids"),
    path("sender-ids/<str:sender_id>", senderids_api.SenderIdDetailApi.as_view(), name="sender-id"),
    path("schema/", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="schema"),
    path(
        "docs/",
        # The split view serves Swagger UI's start-up script as a file: no inline script (issue 14, CSP).
        SpectacularSwaggerSplitView.as_view(url_name="api:schema", authentication_classes=[], permission_classes=[]),
        name="docs",
    ),
]

dashboard = [
    path("", messaging_home.home, name="home"),
    path("switch-customer/", accounts_views.switch_customer, name="switch_customer"),
]

urlpatterns = [
    path("", include((dashboard, "dashboard"))),
    path("account/", include(("accounts.urls", "account"))),
    path("billing/", include(("billing.urls", "billing"))),
    path("messaging/", include(("messaging.urls", "messaging"))),
    path("sender-ids/", include(("senderids.urls", "senderids"))),
    path("api/v1/", include((api_v1, "api"))),
    # Review 8.18: every other path under /api/ is a JSON 404 (never DEBUG's page, never an APPEND_SLASH redirect).
    re_path(r"^api(?:/.*)?$", api_not_found, name=CATCH_ALL_NAME),
    path("healthz", healthz, name="healthz"),
    path("webhooks/wa-cloud", inbound.wa_cloud_webhook, name="wa-cloud-webhook"),
    path("webhooks/wa-gateway", inbound.wa_gateway_webhook, name="wa-gateway-webhook"),
    path("staff/2fa/", staff_2fa, name="staff_2fa"),
    path("staff/2fa/enrol/<str:token>/", staff_2fa_enrol, name="staff_2fa_enrol"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/done/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]

# Uploaded files (transfer proofs, signed forms) and stored documents (invoices,
# statements) are never served from MEDIA_URL, not even under DEBUG: each is
# downloaded through a view that checks who asks.
