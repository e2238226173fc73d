"""Guanxi settings, read from the environment (design.md §6).

Embedded default: SQLite + Huey-on-SQLite under GUANXI_HOME (./var). Production: set
DATABASE_URL=postgres://…, REDIS_URL=redis://…, GUANXI_PRODUCTION=1 and ALLOWED_HOSTS.
"""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from guanxi.config.databases import database_from_url
from guanxi.config.env import env_bool, env_int, env_list, env_str, env_url, guanxi_home, secret_key

PACKAGE_DIR = Path(__file__).resolve().parent.parent
GUANXI_HOME = guanxi_home()

PRODUCTION = env_bool("GUANXI_PRODUCTION", False)
DEBUG = env_bool("GUANXI_DEBUG", False)
SECRET_KEY = secret_key(GUANXI_HOME)
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "huey.contrib.djhuey",
    "ninja",
    "django_htmx",
    "guanxi.core",
    "guanxi.accounts",
    "guanxi.customers",
    "guanxi.commerce",
    "guanxi.analytics",
    "guanxi.sales",
    "guanxi.loyalty",
    "guanxi.segments",
    "guanxi.messaging",
    "guanxi.service",
    "guanxi.marketing",
    "guanxi.privacy",
    "guanxi.reports",
    "guanxi.demo",
    "guanxi.api",
    "guanxi.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "guanxi.web.middleware.PreferredLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "guanxi.accounts.mfa.RequireMfaMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
]

ROOT_URLCONF = "guanxi.config.urls"
WSGI_APPLICATION = "guanxi.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "guanxi.web.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(env_str("DATABASE_URL", f"sqlite:///{GUANXI_HOME / 'guanxi.sqlite3'}")),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "guanxi",
        "url": REDIS_URL,
        "immediate": False,
        "consumer": {"workers": 2, "worker_type": "thread"},
    }
else:
    # The file cache is shared by the web server and the worker, which a per-process
    # memory cache is not; login throttles and API rate limits rely on that.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(GUANXI_HOME / "cache"),
        }
    }
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "guanxi",
        "filename": str(GUANXI_HOME / "huey.sqlite3"),
        "immediate": False,
        "consumer": {"workers": 2, "worker_type": "thread"},
    }

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "guanxi.accounts.passwords.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "web:dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"

# Login throttling: failures per username and per client address inside the window.
LOGIN_FAILURES_PER_USERNAME = env_int("LOGIN_FAILURES_PER_USERNAME", 5)
LOGIN_FAILURES_PER_ADDRESS = env_int("LOGIN_FAILURES_PER_ADDRESS", 20)
LOGIN_THROTTLE_WINDOW_SECONDS = env_int("LOGIN_THROTTLE_WINDOW_SECONDS", 15 * 60)

OTP_TOTP_ISSUER = "Guanxi"
OTP_FAILURES_PER_USER = env_int("OTP_FAILURES_PER_USER", 5)

# API
API_MAX_PAGE_SIZE = 100
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 600)

# Sessions and CSRF: cookies never readable by scripts; sessions end with the browser
# after 12 hours at most. HTTPS-only flags are switched on by GUANXI_PRODUCTION.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 12 * 60 * 60
SESSION_COOKIE_NAME = "guanxi_session"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_NAME = "guanxi_csrf"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LANGUAGE_CODE = env_str("LANGUAGE_CODE", "zh-hans")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
FORMAT_MODULE_PATH = ["guanxi.config.formats"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = GUANXI_HOME / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns about a missing root even when serving from finders
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = GUANXI_HOME / "media"
GUANXI_MAX_IMPORT_BYTES = env_int("GUANXI_MAX_IMPORT_BYTES", 200 * 1024 * 1024)
# A segment count that takes longer is cancelled with a message (PostgreSQL statement_timeout, SQLite
# progress handler) rather than hanging a web worker.
SEGMENT_COUNT_TIMEOUT_MS = env_int("GUANXI_SEGMENT_COUNT_TIMEOUT_MS", 5000)
# Where the heavy analytics run (ADR 0036): "embedded" (numpy over the database, no extra service) or
# "clickhouse": the refresh's per-customer aggregates and segment counts run in ClickHouse, at
# GUANXI_CLICKHOUSE_URL: http(s)://user:password@host:8123/database for a server or cluster, or
# chdb:PATH for the in-process engine (chDB) keeping its tables under PATH (default GUANXI_HOME/clickhouse).
GUANXI_ANALYTICS_ENGINE = env_str("GUANXI_ANALYTICS_ENGINE", "embedded").strip().lower()
if GUANXI_ANALYTICS_ENGINE not in ("embedded", "clickhouse"):
    raise ImproperlyConfigured(
        f"GUANXI_ANALYTICS_ENGINE must be embedded or clickhouse, not {GUANXI_ANALYTICS_ENGINE!r}"
    )
GUANXI_CLICKHOUSE_URL = env_str("GUANXI_CLICKHOUSE_URL", f"chdb:{GUANXI_HOME / 'clickhouse'}")
GUANXI_SERVICE_ATTACHMENT_MB = env_int("GUANXI_SERVICE_ATTACHMENT_MB", 10)  # per file on a ticket
GUANXI_IMPORT_UPLOAD_DAYS = env_int(
    "GUANXI_IMPORT_UPLOAD_DAYS", 7
)  # uploaded import files are kept this long
# Privacy (docs/guide/privacy.md): an erasure needs a second person's approval; a subject access
# export can be downloaded this many days; retention horizons per data class (the retention page
# may override them).
GUANXI_PRIVACY_TWO_PERSON = env_bool("GUANXI_PRIVACY_TWO_PERSON", True)
GUANXI_PRIVACY_EXPORT_DAYS = env_int("GUANXI_PRIVACY_EXPORT_DAYS", 7)
GUANXI_RETENTION_DAYS = {
    "events": env_int("GUANXI_RETENTION_EVENTS_DAYS", 730),
    "messages": env_int("GUANXI_RETENTION_MESSAGES_DAYS", 365),
    "audit": env_int("GUANXI_RETENTION_AUDIT_DAYS", 1095),
    "import_files": env_int("GUANXI_RETENTION_IMPORT_FILES_DAYS", GUANXI_IMPORT_UPLOAD_DAYS),
}

GUANXI_SITE_NAME = _("Guanxi CRM")
# The address the outside world reaches this install at (https://crm.example.com), for the URLs given
# to others: the webhook address a platform is told to call, unsubscribe links and gateway callbacks.
# Unset, pages say so instead of offering an address only this machine can reach (`guanxi demo` sets
# it to its own local address).
GUANXI_PUBLIC_URL = env_url("GUANXI_PUBLIC_URL", "")
# Whether messaging channels may point at private or loopback addresses (the local fake gateways of
# tests and the demo; `guanxi check --deploy` refuses it in production).
GUANXI_ALLOW_PRIVATE_GATEWAYS = env_bool("GUANXI_ALLOW_PRIVATE_GATEWAYS", False)
# Roles and permissions whose holders must sign in with a one-time code (ADR 0041): on by default in
# production for administrators, user managers, exporters and erasers; comma-separated to change.
GUANXI_MFA_REQUIRED_FOR = frozenset(
    env_list(
        "GUANXI_MFA_REQUIRED_FOR",
        ["system_admin", "accounts.manage", "data.export", "privacy.approve"] if PRODUCTION else [],
    )
)
# How long a worker holds a batch of outbox messages before another may take them over.
GUANXI_MESSAGING_LEASE_SECONDS = env_int("GUANXI_MESSAGING_LEASE_SECONDS", 60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"forbidden_logged_by_deny": {"()": "guanxi.core.logs.ForbiddenLoggedByDeny"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
    # The worker's own lines (started, task done) once: with a handler here, run_huey adds none of
    # its own, which it did beside the root's and so printed every line twice.
    "loggers": {
        "huey": {"handlers": ["console"], "level": env_str("HUEY_LOG_LEVEL", "INFO"), "propagate": False},
        # A 403 is one line from guanxi.access (user, path, permission), not Django's traceback.
        "django.request": {"filters": ["forbidden_logged_by_deny"]},
    },
}
