from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts import api as accounts_api
from accounts import views as accounts_views
from billing import api as billing_api
from otpportal.api import healthz

handler404 = "otpportal.api.handler404"
handler500 = "otpportal.api.handler500"

api_v1 = [
    path("me", accounts_api.MeApi.as_view(), name="me"),
    path("balance", billing_api.BalanceApi.as_view(), name="balance"),
    path("schema/", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="schema"),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="api:schema", authentication_classes=[], permission_classes=[]),
        name="docs",
    ),
]

dashboard = [
    path("", accounts_views.home, name="home"),
    path("switch-customer/", accounts_views.switch_customer, name="switch_customer"),
]

urlpatterns = [
    path("", include((dashboard, "dashboard"))),
    path("billing/", include(("billing.urls", "billing"))),
    path("api/v1/", include((api_v1, "api"))),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/done/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
