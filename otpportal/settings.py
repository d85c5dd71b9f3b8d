"""Settings for the OTP portal: one module, read from the environment.

Every variable is documented in `.env.example` and the README. Production
(DEBUG off) refuses to start without SECRET_KEY and OTP_HMAC_KEY.
"""

from __future__ import annotations

import sys
from email.utils import getaddresses
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
TESTING = env.bool("TESTING", default="pytest" in sys.modules)

_DEV_SECRET = "dev-insecure-secret-key-only-for-debug-and-tests-0123456789abcdef"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if DEBUG or TESTING:
        SECRET_KEY = _DEV_SECRET
    else:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Production (DEBUG off) refuses to start without it; "
            "set DEBUG=true only for local development."
        )

# Key for the HMAC of verification codes and for encrypting message bodies
# while they wait in the outbox. Required in production (review 8.11); DEBUG
# and tests fall back to SECRET_KEY.
OTP_HMAC_KEY = env.str("OTP_HMAC_KEY", default="")
if not OTP_HMAC_KEY:
    if DEBUG or TESTING:
        OTP_HMAC_KEY = SECRET_KEY
    else:
        raise ImproperlyConfigured(
            "OTP_HMAC_KEY is not set. Production (DEBUG off) refuses to start without it: it keys the "
            "verification-code HMACs and the sealed outbox bodies; set a long random value of its own."
        )

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"] if (DEBUG or TESTING) else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "backoffice.admin_app.BackOfficeAdminConfig",  # django.contrib.admin with the back office's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",  # customers' recovery codes
    "axes",
    "csp",
    "accounts",
    "billing",
    "senderids",
    "messaging",
    "auditlog",
    "backoffice",  # after the domain apps: it may import all of them, none imports it
]

MIDDLEWARE = [
    "otpportal.apichain.ApiChainMiddleware",  # /api/v1/ (key-authenticated) takes API_MIDDLEWARE below (issue 11)
    "django.middleware.security.SecurityMiddleware",
    "otpportal.csp.ContentSecurityPolicyMiddleware",  # django-csp, with the admin's and API docs' own (issue 14)
    "accounts.middleware.ClientAddressMiddleware",  # the client's address for the activity log
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "otpportal.middleware.ChosenLanguageMiddleware",
    "otpportal.middleware.ApiLanguageMiddleware",  # Review 8.19: /api/ follows Accept-Language (en by default)
    "otpportal.api.ApiErrorMiddleware",  # errors under /api/ always in the contract's JSON shape
    "otpportal.outage.OutageMiddleware",  # database or Redis out of reach: 503, never a 500 page (issue 14)
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "otpportal.staff2fa.StaffTwoFactorMiddleware",
    "backoffice.middleware.AuditActorMiddleware",  # who made each audited change (django-auditlog)
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]
# The key-authenticated API's own chain (otpportal.apichain): no session, signed-in user,
# CSRF, messages, lockouts or static files there; the same headers, language, JSON errors,
# outage answer and host check as everywhere.
API_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "otpportal.apichain.ApiPolicyMiddleware",
    "accounts.middleware.ClientAddressMiddleware",
    "otpportal.middleware.ApiLanguageMiddleware",
    "otpportal.api.ApiErrorMiddleware",
    "otpportal.outage.OutageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "otpportal.urls"
WSGI_APPLICATION = "otpportal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.current_customer",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
# Default: an embedded SQLite file (WAL, IMMEDIATE transactions so that
# writers queue instead of failing with "database is locked").
VAR_DIR.mkdir(exist_ok=True)
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        }
    )
else:
    # Persistent connections in production; none in tests (live-server threads would hold them).
    DATABASES["default"]["CONN_MAX_AGE"] = 0 if TESTING else env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # The same backend, its health check asking the socket before it sends SELECT 1.
        DATABASES["default"]["ENGINE"] = "otpportal.pgbackend"
        # Issue 11: the hot statements (the send's one statement, otpportal.rowsql's) are
        # prepared on their connection (rowsql.prepared_cursor asks psycopg explicitly; never
        # automatically: Django's own queries bind on the client and are never prepared). Off
        # for a pooler in transaction mode that cannot keep prepared statements (PgBouncer
        # before 1.21): they are then bound on the server, unprepared.
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
            2**31 - 1 if env.bool("DATABASE_PREPARED_STATEMENTS", default=True) else None
        )
DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default="") or None}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://otpportal")}

# Redis for atomic limits and provider throughput buckets. Empty: limits
# are counted in the database (atomic, slower), which suits `make run`.
REDIS_URL = env.str("REDIS_URL", default="")
RATE_LIMIT_KEY_PREFIX = env.str("RATE_LIMIT_KEY_PREFIX", default="otpportal:bucket:")

# --- Auth -----------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:  # fast hashing in tests only; production keeps Django's PBKDF2 default
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Staff need a TOTP second factor before the admin (on in production).
ADMIN_REQUIRE_2FA = env.bool("ADMIN_REQUIRE_2FA", default=not (DEBUG or TESTING))
OTP_TOTP_ISSUER = "OTP Portal"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = 1  # hours
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
# Review 8.9: lock out a user name from one client address, never a whole
# address (behind a load balancer every client may share one), and read the
# client's address as accounts.client_ip does for the API's limits too.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"  # the login forms' field (it holds the email), not USERNAME_FIELD
AXES_CLIENT_IP_CALLABLE = "accounts.client_ip.client_ip"
# Reverse proxies in front of Django that append to X-Forwarded-For: 0 = use
# the socket's address (REMOTE_ADDR); N = the Nth address from the right.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- I18N -----------------------------------------------------------------
LANGUAGE_CODE = "id"
LANGUAGES = [("id", _("Indonesian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Jakarta")
USE_I18N = True
USE_TZ = True

# --- Static and media -----------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not (DEBUG or TESTING)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Email ----------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="OTP Portal <no-reply@otpportal.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Staff who get operational alerts (mail_admins), e.g. a failed ledger
# reconciliation: "Finance <finance@example.co.id>,ops@example.co.id".
ADMINS = [(name, address) for name, address in getaddresses([env.str("ADMINS", default="")]) if address]

# --- Security (production) ------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
# Flash messages live in the server-side session, never in a cookie: a
# webhook secret shown once must not travel in the browser's cookies.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
# Content security policy (django-csp, issue 14): the dashboard's, self only, on every
# response; otpportal.csp relaxes it for the admin and the API docs.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG and not TESTING:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- REST framework -------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.authentication.HasApiKey"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "otpportal.schema.AutoSchema",  # drf-spectacular's, plus every error response
    "EXCEPTION_HANDLER": "otpportal.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": ["messaging.throttles.ApiKeyRateThrottle"],
}
# Called by accounts.authentication on every failed key (per-IP limit).
API_AUTH_FAILURE_GUARD = "messaging.throttles.auth_failure_guard"
SPECTACULAR_SETTINGS = {
    "TITLE": "OTP Portal API",
    "DESCRIPTION": "Send and check one-time codes by SMS, WhatsApp and WhatsApp Official.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ChannelEnum": "billing.models.Channel",
        "CustomerModeEnum": "accounts.models.Customer.Mode",
        "CustomerStatusEnum": "accounts.models.Customer.Status",
        "KeyModeEnum": "accounts.models.ApiKey.Mode",
        "VerificationStatusEnum": "messaging.models.Verification.Status",
        "MessageStatusEnum": "messaging.models.Message.Status",
        "InvoiceStatusEnum": "billing.models.Invoice.Status",
        "InvoiceKindEnum": "billing.models.Invoice.Kind",
        "WebhookEventEnum": "messaging.models.WebhookEndpoint.Event",
        "SenderIdStatusEnum": "senderids.models.Registration.Status",
        "ErrorCodeEnum": "otpportal.schema.ERROR_CODES",
    },
}

# --- Celery ---------------------------------------------------------------
# Default: the filesystem transport in var/broker (no server needed, for
# `make run`). Production and tests: Redis.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    (_broker_dir / "queue").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith("redis"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "queue_order_strategy": "priority"}
    if env.str("CELERY_BROKER_KEYPREFIX", default=""):  # several deployments (or test runs) on one Redis
        CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = env.str("CELERY_BROKER_KEYPREFIX")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=120)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=100)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    # messaging.tasks.dispatch: first attempts on "otp", retries on
    # "dispatch-sms" / "dispatch-wa" (chosen at enqueue time).
    "messaging.tasks.dispatch": {"queue": "otp"},
    "messaging.tasks.deliver_webhook": {"queue": "webhooks"},
    "billing.tasks.*": {"queue": "billing"},
}
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Business policy (see docs/rules.md) -----------------------------------
ALLOWED_COUNTRIES = env.list("ALLOWED_COUNTRIES", default=["ID"])  # R-OP-2
DEPOSIT_VALIDITY_DAYS = env.int("DEPOSIT_VALIDITY_DAYS", default=365)  # R-PRE-5
INACTIVITY_FORFEIT_MONTHS = env.int("INACTIVITY_FORFEIT_MONTHS", default=6)  # R-PRE-6
REFUND_UNDELIVERED = env.bool("REFUND_UNDELIVERED", default=False)  # R-PRE-4
PLATFORM_SENDER_ID = env.str("PLATFORM_SENDER_ID", default="OTPPORTAL")  # R-CH-4
# Providers (issue 5). Each SMPP account is a URL:
# smpp://SYSTEM_ID:PASSWORD@HOST:PORT/?system_type=OTP&tps=50&name=main
SMPP_ACCOUNTS = env.list("SMPP_ACCOUNTS", default=[])
BANK_TRANSFER_DETAILS = env.str(
    "BANK_TRANSFER_DETAILS", default="Bank BCA 123-456-7890 a.n. PT. Adsmedia Digital Indonesia"
)

# Postpaid (R-POST-1 … R-POST-8; docs/rules.md).
POSTPAID_GUARANTEE_MIN = env.int("POSTPAID_GUARANTEE_MIN", default=10_000_000)  # R-POST-1
POSTPAID_CAP_PERCENT = env.int("POSTPAID_CAP_PERCENT", default=200)  # R-POST-2: 2 × the guarantee
POSTPAID_CAP_WARN_PERCENT = env.int("POSTPAID_CAP_WARN_PERCENT", default=80)  # R-POST-2 policy
INVOICE_DUE_DAYS = env.int("INVOICE_DUE_DAYS", default=14)  # R-POST-5
INVOICE_REMIND_DAYS_BEFORE = env.int("INVOICE_REMIND_DAYS_BEFORE", default=3)  # R-POST-5 policy
VAT_ENABLED = env.bool("VAT_ENABLED", default=True)  # R-POST-8
GUARANTEE_REFUND_WORKING_DAYS = env.int("GUARANTEE_REFUND_WORKING_DAYS", default=7)  # R-POST-7
WORKING_DAYS_SKIP_COLLECTIVE_LEAVE = env.bool("WORKING_DAYS_SKIP_COLLECTIVE_LEAVE", default=True)  # R-POST-7
# The seller on invoices and statements.
COMPANY_NAME = env.str("COMPANY_NAME", default="PT. Adsmedia Digital Indonesia")
COMPANY_NPWP = env.str("COMPANY_NPWP", default="00.000.000.0-000.000")
COMPANY_ADDRESS = env.str("COMPANY_ADDRESS", default="Jakarta, Indonesia")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "weasyprint": {"level": "WARNING"}},
}

# Celery beat: the daily run at 00:10 WIB (django-celery-beat reads this at
# start and keeps it in its tables; staff can change times in the admin).
from celery.schedules import crontab  # noqa: E402

CELERY_BEAT_SCHEDULE = {
    "billing-run-daily": {"task": "billing.tasks.run_daily", "schedule": crontab(hour=0, minute=10)},
    # Prove ledger == lot balances after the daily run; emails ADMINS on a mismatch.
    "billing-reconcile": {"task": "billing.tasks.reconcile", "schedule": crontab(hour=0, minute=30)},
    # R-POST-3: invoices (and prepaid statements) for the month just ended.
    "billing-close-month": {
        "task": "billing.tasks.close_month",
        "schedule": crontab(hour=0, minute=5, day_of_month=1),
    },
}
# R-SID-6, R-SID-7: the quarter just ended judged at 00:20 WIB on its next
# quarter's first day; low-traffic warnings from two weeks before a quarter
# ends (daily, idempotent). R-SID-5's monthly minimum is a step of close_month.
CELERY_BEAT_SCHEDULE.update(
    {
        "senderids-quarter-review": {
            "task": "senderids.tasks.quarter_review",
            "schedule": crontab(hour=0, minute=20, day_of_month=1, month_of_year="1,4,7,10"),
        },
        "senderids-quarter-warn": {"task": "senderids.tasks.quarter_warn", "schedule": crontab(hour=9, minute=0)},
    }
)

# --- Messaging policy (issue 4; README "Configuration") ---------------------
OTP_GUARD_MAX_SMS = env.int("OTP_GUARD_MAX_SMS", default=3)  # R-CH-3
OTP_GUARD_BLOCK_LINKS = env.bool("OTP_GUARD_BLOCK_LINKS", default=True)  # R-CH-3
OTP_GUARD_PROMO_WORDS = env.list(
    "OTP_GUARD_PROMO_WORDS",
    default=[
        "promo",
        "diskon",
        "gratis",
        "hadiah",
        "undian",
        "cashback",
        "discount",
        "free",
        "sale",
        "menang",
        "bonus",
    ],
)
# Issue 11: seconds a process keeps an API key, a template, an active sender ID or
# a customer's webhook endpoints it has read (otpportal/hotcache.py); a revocation or suspension takes effect
# everywhere within this time. 0 turns the caches off (the tests' default).
HOT_CACHE_SECONDS = env.float("HOT_CACHE_SECONDS", default=0.0 if TESTING else 5.0)
# Issue 11: API keys' "last used" times are noted in each process and written together once
# this many seconds have passed since the last write (0: at once, the tests' default).
KEY_USE_FLUSH_SECONDS = env.float("KEY_USE_FLUSH_SECONDS", default=0.0 if TESTING else 10.0)
VERIFICATION_RESEND_COOLDOWN = env.int("VERIFICATION_RESEND_COOLDOWN", default=30)  # seconds
LIMIT_KEY_RATE = env.float("LIMIT_KEY_RATE", default=50.0)  # requests/s per API key
LIMIT_KEY_BURST = env.float("LIMIT_KEY_BURST", default=100.0)
LIMIT_NUMBER_PER_HOUR = env.int("LIMIT_NUMBER_PER_HOUR", default=5)  # verifications per number per customer
LIMIT_AUTH_FAILURES_PER_MINUTE = env.int("LIMIT_AUTH_FAILURES_PER_MINUTE", default=20)  # per client IP
PUMPING_WINDOW_SECONDS = env.int("PUMPING_WINDOW_SECONDS", default=600)
PUMPING_MIN_NUMBERS = env.int("PUMPING_MIN_NUMBERS", default=20)  # distinct numbers in one range per window
PUMPING_MIN_APPROVAL_RATE = env.float("PUMPING_MIN_APPROVAL_RATE", default=0.1)
PUMPING_PREFIX_DIGITS = env.int("PUMPING_PREFIX_DIGITS", default=8)  # "+628123…" = +62 and 6 national digits
# Retries are budgeted in time (review 8.14): a verification's message until the verification
# expires, a /messages message for MESSAGE_RETRY_WINDOW seconds. DISPATCH_MAX_ATTEMPTS is only a
# safety ceiling on attempts that reached the provider (refusals, ambiguous errors).
MESSAGE_RETRY_WINDOW = env.int("MESSAGE_RETRY_WINDOW", default=600)  # seconds after a /messages message's creation
DISPATCH_MAX_ATTEMPTS = env.int("DISPATCH_MAX_ATTEMPTS", default=6)
DISPATCH_BACKOFF_BASE = env.float("DISPATCH_BACKOFF_BASE", default=2.0)  # seconds, doubled per attempt, jittered
DISPATCH_BACKOFF_MAX = env.float("DISPATCH_BACKOFF_MAX", default=30.0)  # longest wait between two attempts
FALLBACK_AFTER_DOWN = env.int("FALLBACK_AFTER_DOWN", default=30)  # s of failing sends before the fallback channel
# Issue 11: a dispatch task also claims up to DISPATCH_BATCH - 1 other ready SMS (SMPP only) and
# keeps up to SMPP_WINDOW submit_sm outstanding on the process's bind. 1 turns batching off.
DISPATCH_BATCH = env.int("DISPATCH_BATCH", default=32)
SMPP_WINDOW = env.int("SMPP_WINDOW", default=8)
# Issue 11: first attempts of live SMS publish no task each; a send wakes one of this many
# drainers (a task that claims batches from the outbox until none is ready). 0: a task each.
DISPATCH_DRAINERS = env.int("DISPATCH_DRAINERS", default=4)
DISPATCH_CLAIM_TIMEOUT = env.int("DISPATCH_CLAIM_TIMEOUT", default=150)  # a 'sending' claim older than this is retaken
OUTBOX_SWEEP_AFTER = env.int("OUTBOX_SWEEP_AFTER", default=30)  # seconds a message may sit 'queued'
FALLBACK_TIMEOUT_WA = env.int("FALLBACK_TIMEOUT_WA", default=60)  # s: not delivered by then -> next channel
FALLBACK_TIMEOUT_SMS = env.int("FALLBACK_TIMEOUT_SMS", default=120)
WEBHOOK_RETRY_HOURS = env.int("WEBHOOK_RETRY_HOURS", default=24)
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=5.0)
# Review 8.7 (SSRF): customer webhook URLs may not reach private, loopback or
# reserved addresses. On only for local receivers (`make run`, some tests).
WEBHOOK_ALLOW_PRIVATE_HOSTS = env.bool("WEBHOOK_ALLOW_PRIVATE_HOSTS", default=False)
IDEMPOTENCY_TTL_HOURS = 24
# Providers per channel: sandbox | smpp | wa_gateway | wa_cloud
PROVIDER_SMS = env.str("PROVIDER_SMS", default="sandbox")
PROVIDER_WA = env.str("PROVIDER_WA", default="sandbox")
PROVIDER_WA_OFFICIAL = env.str("PROVIDER_WA_OFFICIAL", default="sandbox")
# Review 8.10: production (DEBUG off) refuses to start with a channel on the
# sandbox (system check otpportal.E001) unless this is set, e.g. for a staging site.
ALLOW_SANDBOX_IN_PRODUCTION = env.bool("ALLOW_SANDBOX_IN_PRODUCTION", default=False)
SMS_ROUTES = env.list("SMS_ROUTES", default=[])  # "telkomsel=main,default=backup" (SMPP account names)
SANDBOX_DELIVERY_DELAY = env.float("SANDBOX_DELIVERY_DELAY", default=2.0)  # seconds until "delivered"
SANDBOX_SEND_DELAY = env.float("SANDBOX_SEND_DELAY", default=0.0)  # seconds a sandbox send takes (drills)
SANDBOX_FAIL_NUMBERS = env.list(
    "SANDBOX_FAIL_NUMBERS", default=[]
)  # "+62…" or "sms:+62…": numbers the sandbox refuses for good (testing fallback)

CELERY_BEAT_SCHEDULE.update(
    {
        "messaging-sweep-outbox": {"task": "messaging.tasks.sweep_outbox", "schedule": 15.0},
        "messaging-expire-verifications": {"task": "messaging.tasks.expire_verifications", "schedule": 30.0},
        "messaging-retry-webhooks": {"task": "messaging.tasks.sweep_webhooks", "schedule": 60.0},
        "messaging-purge-idempotency": {"task": "messaging.tasks.purge_idempotency_records", "schedule": 3600.0},
    }
)

# WhatsApp providers (issue 5); see README "Providers".
WA_CLOUD_BASE_URL = env.str("WA_CLOUD_BASE_URL", default="https://graph.facebook.com")
WA_CLOUD_API_VERSION = env.str("WA_CLOUD_API_VERSION", default="v21.0")
WA_CLOUD_TOKEN = env.str("WA_CLOUD_TOKEN", default="")
WA_CLOUD_PHONE_NUMBER_ID = env.str("WA_CLOUD_PHONE_NUMBER_ID", default="")
WA_CLOUD_TEMPLATE_NAME = env.str("WA_CLOUD_TEMPLATE_NAME", default="otp_auth")
WA_CLOUD_TEMPLATE_LANGUAGE = env.str("WA_CLOUD_TEMPLATE_LANGUAGE", default="id")
WA_CLOUD_APP_SECRET = env.str("WA_CLOUD_APP_SECRET", default="")
WA_CLOUD_VERIFY_TOKEN = env.str("WA_CLOUD_VERIFY_TOKEN", default="")
WA_CLOUD_TIMEOUT = env.float("WA_CLOUD_TIMEOUT", default=10.0)
WA_GATEWAY_BASE_URL = env.str("WA_GATEWAY_BASE_URL", default="")
WA_GATEWAY_TOKEN = env.str("WA_GATEWAY_TOKEN", default="")
WA_GATEWAY_DEVICE = env.str("WA_GATEWAY_DEVICE", default="")
WA_GATEWAY_CALLBACK_SECRET = env.str("WA_GATEWAY_CALLBACK_SECRET", default="")
WA_GATEWAY_TIMEOUT = env.float("WA_GATEWAY_TIMEOUT", default=10.0)
SMPP_WORKER_BIND_MODE = env.str("SMPP_WORKER_BIND_MODE", default="transceiver")
SMPP_RESPONSE_TIMEOUT = env.float("SMPP_RESPONSE_TIMEOUT", default=10.0)
SMPP_CONNECT_TIMEOUT = env.float("SMPP_CONNECT_TIMEOUT", default=5.0)
SMPP_ENQUIRE_LINK_INTERVAL = env.float("SMPP_ENQUIRE_LINK_INTERVAL", default=30.0)
SMPP_BACKOFF_MAX = env.float("SMPP_BACKOFF_MAX", default=60.0)
SMPP_THROTTLE_TIMEOUT = env.float("SMPP_THROTTLE_TIMEOUT", default=2.0)
