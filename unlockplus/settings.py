"""One settings module, driven by environment variables (see README "Configuration")."""

import os
import sys
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
# Every PDF is deterministic: fontTools stamps embedded fonts with the current time unless the
# reproducible-builds variable is set (1980-01-01).
os.environ.setdefault("SOURCE_DATE_EPOCH", "315532800")

env = environ.Env()

DEBUG: bool = env.bool("DJANGO_DEBUG", default=False)
DEV_SECRET_KEY = "dev-only-insecure-key-change-me-in-production-0123456789abcdefghijkl"  # noqa: S105
# Keys published with the project (here and once in docker-compose.yml): anyone can sign
# sessions and password-reset links with them.
PUBLIC_SECRET_KEYS = frozenset(
    {DEV_SECRET_KEY, "change-me-change-me-change-me-change-me-change-me-0123"}
)
SECRET_KEY: str = env.str("DJANGO_SECRET_KEY", default="").strip()
ALLOWED_HOSTS: list[str] = env.list("DJANGO_ALLOWED_HOSTS", default=[])
if DEBUG:
    SECRET_KEY = SECRET_KEY or DEV_SECRET_KEY
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["localhost", "127.0.0.1"]
elif "mypy" not in sys.modules:
    # Without DEBUG the settings are production's: no fallback may sign anything. (The type
    # checker's Django plugin imports this module to read it, never to serve: it is let through.)
    if not SECRET_KEY or SECRET_KEY in PUBLIC_SECRET_KEYS:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set to a long random value when DJANGO_DEBUG is off "
            "(the published development key is refused)."
        )
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "DJANGO_ALLOWED_HOSTS must list the served host names when DJANGO_DEBUG is off."
        )
CSRF_TRUSTED_ORIGINS: list[str] = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL: str = env.str("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_tables2",
    "django_htmx",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "portal",
    "underwriting",
    "claims",
    "studies",
    "monitoring",
    "conversations",
    "billing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "portal.middleware.RequestSizeLimitMiddleware",
    # The order-time API calls, answered before the page and session middleware below.
    "portal.middleware.LeanAPIMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "portal.middleware.FrenchByDefaultMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Session rows and the insurer staff's idle timeout and lifetime (after auth and messages).
    "portal.sessions.SessionActivityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    # Two-factor sign-in: a signed-in user who owes a code (or an enrolment) reaches nothing else.
    "portal.two_factor_gate.TwoFactorGateMiddleware",
    "portal.tenancy.TenantScopeMiddleware",
]

ROOT_URLCONF = "unlockplus.urls"
WSGI_APPLICATION = "unlockplus.wsgi.application"

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
                "portal.context_processors.navigation",
            ],
            # Money, rates and grades are written one way everywhere (DESIGN §6): the filters
            # need no {% load %}.
            "builtins": ["portal.templatetags.presentation"],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/unlockplus"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL: str = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="unlockplus"),
        # The cache shares the broker's server: a frozen server fails a request in a second
        # instead of holding it.
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    },
}

AUTH_USER_MODEL = "portal.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
# A refused CSRF check answers in the platform's layout, not Django's bare page.
CSRF_FAILURE_VIEW = "portal.views_errors.csrf_failure"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login throttling: after AXES_FAILURE_LIMIT failures for one (username, IP) pair, the pair is
# locked out for AXES_COOLOFF_TIME hours.
AXES_FAILURE_LIMIT: int = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME: float = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Two-factor sign-in (django-otp): TOTP apps show this issuer; wrong codes back off exponentially
# per device (1, 2, 4 ... seconds); the admin never shows a device's secret.
OTP_TOTP_ISSUER = "Unlock Plus"
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
TWO_FACTOR_RECOVERY_CODES: int = env.int("TWO_FACTOR_RECOVERY_CODES", default=10)
# Password reset throttling: at most this many requests per address and per IP in a window
# (counted in the cache); over it, the same page and no e-mail.
PASSWORD_RESET_THROTTLE_PER_ADDRESS: int = env.int("PASSWORD_RESET_THROTTLE_PER_ADDRESS", default=3)
PASSWORD_RESET_THROTTLE_PER_IP: int = env.int("PASSWORD_RESET_THROTTLE_PER_IP", default=10)
PASSWORD_RESET_THROTTLE_WINDOW_SECONDS: int = env.int(
    "PASSWORD_RESET_THROTTLE_WINDOW_SECONDS", default=60 * 60
)

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True
USE_THOUSAND_SEPARATOR = True
# 1 234,56 with a narrow no-break space in French, 1,234.56 in English; 28/11/2026 in both.
FORMAT_MODULE_PATH = ["unlockplus.formats"]

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Transport security: on unless UNLOCKPLUS_SECURE=false (plain-http development and tests).
SECURE: bool = env.bool("UNLOCKPLUS_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = SECURE
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_HSTS_SECONDS = 31_536_000 if SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 8 * 3600
# Insurer staff only (portal.sessions): signed out after this long without a request, and this
# long after signing in whatever they do. Policyholders and brokers keep SESSION_COOKIE_AGE.
INSURER_SESSION_IDLE_MINUTES: int = env.int("INSURER_SESSION_IDLE_MINUTES", default=30)
INSURER_SESSION_MAX_HOURS: int = env.int("INSURER_SESSION_MAX_HOURS", default=10)
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
    },
}

EMAIL_BACKEND: str = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST: str = env.str("EMAIL_HOST", default="127.0.0.1")
EMAIL_PORT: int = env.int("EMAIL_PORT", default=25)
DEFAULT_FROM_EMAIL: str = env.str(
    "DEFAULT_FROM_EMAIL", default="Unlock Plus <noreply@unlockplus.example>"
)

# Premium invoices: payment term and the insurer's bank details printed on every invoice.
BILLING_PAYMENT_TERM_DAYS: int = env.int("BILLING_PAYMENT_TERM_DAYS", default=30)
# Unpaid invoices: the reminder e-mail goes out once, this many days after the due date
# (beat `billing-invoice-reminders`, daily).
INVOICE_REMINDER_DAYS_AFTER_DUE: int = env.int("INVOICE_REMINDER_DAYS_AFTER_DUE", default=15)
# A queued or running billing run without a heartbeat (one per group of contracts) for this
# long is resumed, or closed, by the supervisor (beat `billing-runs-supervise`).
BILLING_RUN_STALL_SECONDS: int = env.int("BILLING_RUN_STALL_SECONDS", default=300)
# How far ahead a policyholder may date a change of its own (a reported primary limit).
POLICYHOLDER_DATE_WINDOW_DAYS: int = env.int("POLICYHOLDER_DATE_WINDOW_DAYS", default=31)
# Portfolio studies: a prospect's draft contract rate, how long a study report stays open, and
# from how many lines a buyer list is analysed by a worker (with a progress bar).
STUDY_DEFAULT_MONTHLY_RATE: str = env.str("STUDY_DEFAULT_MONTHLY_RATE", default="0.0012")
STUDY_VALIDITY_DAYS: int = env.int("STUDY_VALIDITY_DAYS", default=30)
STUDY_ASYNC_LINES: int = env.int("STUDY_ASYNC_LINES", default=300)
# Conversations: at most one e-mail per thread per person per window; attachments' size limit.
OUTBOX_BATCH_WINDOW_SECONDS: int = env.int("OUTBOX_BATCH_WINDOW_SECONDS", default=15 * 60)
CONVERSATION_ATTACHMENT_MAX_BYTES: int = env.int(
    "CONVERSATION_ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024
)
# Claims: the size limit of a supporting document (PDF, PNG, JPEG).
CLAIM_DOCUMENT_MAX_BYTES: int = env.int("CLAIM_DOCUMENT_MAX_BYTES", default=10 * 1024 * 1024)
# The outer bound of any request body (413 above it, before anything reads it): a little more
# than the largest document an upload accepts; buyer-health files (REQUEST_LARGE_PATHS) are
# exported by the tens of megabytes (monitoring.common.ImportLimits).
REQUEST_MAX_BYTES: int = env.int("REQUEST_MAX_BYTES", default=12 * 1024 * 1024)
REQUEST_MAX_BYTES_LARGE: int = env.int("REQUEST_MAX_BYTES_LARGE", default=52 * 1024 * 1024)
REQUEST_LARGE_PATHS = ("/api/v1/health-files/", "/backoffice/monitoring/import/")
# Django's own bounds for what it reads into memory (form fields; files above go to disk).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Buyer-health monitoring: files above this size are imported by a worker (progress bar);
# extra providers the daily sweep reads (dotted paths of BuyerHealthProvider classes).
MONITORING_ASYNC_BYTES: int = env.int("MONITORING_ASYNC_BYTES", default=256 * 1024)
MONITORING_PROVIDERS: list[str] = env.list("MONITORING_PROVIDERS", default=[])
BILLING_IBAN: str = env.str("BILLING_IBAN", default="FR76 3000 4000 0312 3456 7890 143")
BILLING_BIC: str = env.str("BILLING_BIC", default="BNPAFRPPXXX")
BILLING_BANK: str = env.str("BILLING_BANK", default="BNP Paribas, Paris Opéra")
# The insurer's legal identity and the French legal mentions printed on every filed document
# (invoices, credit notes, study reports, indemnity statements): billing.pdf.insurer_identity.
INSURER_LEGAL_NAME: str = env.str("INSURER_LEGAL_NAME", default="Unlock Plus Assurance")
INSURER_LEGAL_FORM: str = env.str("INSURER_LEGAL_FORM", default="Société anonyme")
INSURER_SHARE_CAPITAL: int = env.int("INSURER_SHARE_CAPITAL", default=12_000_000)  # euros
INSURER_RCS: str = env.str("INSURER_RCS", default="RCS Paris 542 065 479")
INSURER_REGISTERED_OFFICE: str = env.str(
    "INSURER_REGISTERED_OFFICE", default="12 rue de la Paix, 75002 Paris"
)
INSURER_SUPERVISION: str = env.str(
    "INSURER_SUPERVISION",
    default="Entreprise régie par le Code des assurances, soumise au contrôle de l'Autorité de "
    "contrôle prudentiel et de résolution (ACPR), 4 place de Budapest, CS 92459, "
    "75436 Paris Cedex 09",
)
# Late payment (code de commerce, L441-10): the interest rate as printed, and the fixed
# recovery indemnity (D441-5: 40 €).
INVOICE_LATE_INTEREST: str = env.str(
    "INVOICE_LATE_INTEREST",
    default="taux de refinancement de la Banque centrale européenne majoré de 10 points",
)
INVOICE_RECOVERY_INDEMNITY: int = env.int("INVOICE_RECOVERY_INDEMNITY", default=40)  # euros

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "portal.api_schema.ErrorDocumentingAutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    "EXCEPTION_HANDLER": "portal.api_errors.exception_handler",
    # Each list's query parameters are a FilterSet (`<app>/filters.py`): documented, validated.
    "DEFAULT_FILTER_BACKENDS": ["portal.api_filters.ListFilterBackend"],
}
# API tokens (django-rest-knox): stored hashed, expire after API_TOKEN_TTL_HOURS, one per device;
# a password change or deactivation revokes them all (portal.signals).
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env.int("API_TOKEN_TTL_HOURS", default=720)),
    "AUTO_REFRESH": False,
    "TOKEN_PREFIX": "up_",
    "AUTH_HEADER_PREFIX": "Token",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Unlock Plus API",
    "DESCRIPTION": "Top-up trade credit insurance: requests, guarantees, coverage, invoices.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files: the CSP allows no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "InvoiceKindEnum": "billing.models.InvoiceKind",
        "ClaimStatusEnum": "claims.models.ClaimStatus",
    },
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER: bool = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# After-commit kicks leave from a background thread with short broker timeouts, so a request
# never waits for the broker (portal.kick); the tests turn it off to observe kicks in order.
JOB_KICK_IN_BACKGROUND: bool = env.bool("JOB_KICK_IN_BACKGROUND", default=True)
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "portal-heartbeat": {
        "task": "portal.tasks.heartbeat",
        "schedule": crontab(minute="*/5"),
    },
    # The outbox: deliveries whose after-commit kick was lost are sent by this sweep.
    "portal-deliveries-sweep": {
        "task": "portal.tasks.deliveries_sweep",
        "schedule": 10.0,
    },
    "studies-analyse-stalled": {
        "task": "studies.tasks.studies_analyse_stalled_task",
        "schedule": crontab(minute="*/5"),
    },
    "studies-expire": {
        "task": "studies.tasks.studies_expire_task",
        "schedule": crontab(hour=0, minute=30),
    },
    "underwriting-expire-seasonal-limits": {
        "task": "underwriting.tasks.expire_seasonal_limits",
        "schedule": crontab(hour=0, minute=15),
    },
    # Buyer health: the daily sweep over what the providers received (06:00 Europe/Paris,
    # after BODACC's overnight publication).
    "monitoring-daily-sweep": {
        "task": "monitoring.tasks.monitoring_sweep_task",
        "schedule": crontab(minute=0, hour=6),
    },
    # Month-end billing of the month before, the 1st at 02:00 Europe/Paris (CELERY_TIMEZONE).
    "billing-month-end": {
        "task": "billing.tasks.billing_run_month",
        "schedule": crontab(minute=0, hour=2, day_of_month=1),
    },
    # Runs that stopped making progress (a killed worker, a lost kick, a database restart) are
    # resumed after their last group, or closed; on the billing queue, so behind a live run.
    "billing-runs-supervise": {
        "task": "billing.tasks.billing_run_supervise",
        "schedule": crontab(minute="*/5"),
        "options": {"expires": 240},
    },
    # Invoices and credit notes whose PDF is not stored a minute after issue (the kick after
    # commit was lost) are rendered; on the PDF queue, and expiring behind a backlog of renders.
    "billing-pdfs-sweep": {
        "task": "billing.tasks.invoice_render_sweep",
        "schedule": 60.0,
        "options": {"expires": 50},
    },
    # Reminders of unpaid invoices INVOICE_REMINDER_DAYS_AFTER_DUE days past due, once each
    # (08:00 Europe/Paris, office hours).
    "billing-invoice-reminders": {
        "task": "billing.tasks.invoice_reminders_send_task",
        "schedule": crontab(minute=0, hour=8),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        # WeasyPrint logs every rendering step at INFO; invoices are rendered by the thousand.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
