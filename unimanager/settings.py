"""Unimanager settings.

Everything that differs between deployments comes from environment variables. With none set, the
console runs in the embedded mode: SQLite under ``var/``, Celery on the in-memory transport inside
the server process, and the in-memory channel layer. Setting ``DATABASE_URL`` and ``REDIS_URL``
switches to the distributed mode (PostgreSQL, Redis broker, Redis channel layer and cache).
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DATA_DIR = Path(os.environ.get("UNIMANAGER_DATA_DIR", BASE_DIR / "var"))
DEBUG = env_bool("UNIMANAGER_DEBUG", False)
SECRET_KEY = os.environ.get("UNIMANAGER_SECRET_KEY", "")
if not SECRET_KEY:
    # Embedded installs get a stable random key kept beside the database.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    _key_file = DATA_DIR / "secret_key"
    if not _key_file.exists():
        import secrets

        _key_file.write_text(secrets.token_urlsafe(50))
        _key_file.chmod(0o600)
    SECRET_KEY = _key_file.read_text().strip()

ALLOWED_HOSTS = env_list("UNIMANAGER_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("UNIMANAGER_CSRF_TRUSTED_ORIGINS", "")

REDIS_URL = os.environ.get("REDIS_URL", "")
DATABASE_URL = os.environ.get("DATABASE_URL", "")
# "embedded" or "distributed": decided by whether a broker is configured.
MODE = "distributed" if REDIS_URL else "embedded"
# The in-process worker and beat run inside the server only in the embedded mode, and only in the
# process that serves requests (``manage.py serve`` turns this on).
EMBEDDED_WORKER = env_bool("UNIMANAGER_EMBEDDED_WORKER", False)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "channels",
    "apps.core",
    "apps.organizations",
    "apps.rbac",
    "apps.security",
    "apps.clouds",
    "apps.resources",
    "apps.provisioning",
    "apps.quotas",
    "apps.billing",
    "apps.alerts",
    "apps.dashboards",
    "apps.resilience",
    # The project package: start-up wiring (``manage.py serve``), allowed to know every app.
    "unimanager",
]

MIDDLEWARE = [
    "apps.core.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "apps.security.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.security.middleware.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.core.middleware.MetricsMiddleware",
    "apps.core.middleware.NotFoundPageMiddleware",
]

ROOT_URLCONF = "unimanager.urls"
ASGI_APPLICATION = "unimanager.asgi.application"
WSGI_APPLICATION = "unimanager.wsgi.application"
AUTH_USER_MODEL = "organizations.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.context_processors.product",
                "apps.core.context_processors.csp_nonce",
            ],
        },
    },
]

if DATABASE_URL:
    # Django's ASGI handler serves each request on a thread made for it, and a connection belongs to its thread,
    # so a kept connection (CONN_MAX_AGE) was never used again: every request opened its own, 4-9 ms of the
    # server's time (measured on a session-authenticated read). A pool per process hands each request a
    # connection already open, checked before use; the threads that live long (the ingestion lane, the
    # notification senders, the live dashboards) keep the one they took. UNIMANAGER_DB_POOL_MAX=0 turns the
    # pool off (a connection per thread, kept for a minute).
    DB_POOL_MAX = int(os.environ.get("UNIMANAGER_DB_POOL_MAX", "30"))
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0 if DB_POOL_MAX else 60,
                                                  conn_health_checks=True)}
    if DB_POOL_MAX:
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": min(DB_POOL_MAX, int(os.environ.get("UNIMANAGER_DB_POOL_MIN", "2"))),
            "max_size": DB_POOL_MAX,
            "timeout": float(os.environ.get("UNIMANAGER_DB_POOL_TIMEOUT", "20")),
        }
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            # Django's backend, with the file's connections kept for the next requests (see the module).
            "ENGINE": "apps.core.backends.sqlite3",
            "NAME": os.environ.get("UNIMANAGER_SQLITE_PATH", str(DATA_DIR / "unimanager.sqlite3")),
            # The server and the in-process worker share the file: WAL lets readers run beside a
            # writer, IMMEDIATE takes the write lock up front so concurrent writers wait (busy
            # timeout) instead of failing with "database is locked" half-way through.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    # The realtime replay buffer lives here (REALTIME_REPLAY_EVENTS per topic for REALTIME_REPLAY_SECONDS):
    # the default of 300 entries culled a third of it whenever the demo's activity filled it, so a
    # client resuming with `after` got a reset instead of the events it missed.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "unimanager",
                          "OPTIONS": {"MAX_ENTRIES": 50_000}}}
    # A client that falls this far behind loses events (and is told by a reset when it resubscribes).
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1000}}}

# The simulated Apsara Stack region of the demo: beside the console (embedded mode, a thread of
# ``manage.py serve``) or a service of its own (distributed mode) that the console reaches here.
CLOUDSIM_PORT = int(os.environ.get("UNIMANAGER_CLOUDSIM_PORT", "9100"))
CLOUDSIM_ENDPOINT = os.environ.get("UNIMANAGER_CLOUDSIM_ENDPOINT", f"127.0.0.1:{CLOUDSIM_PORT}")

CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {"visibility_timeout": 3600, "socket_connect_timeout": 2}
    if REDIS_URL
    # The in-memory transport polls; its default of once a second would delay every task by up to 1 s.
    else {"polling_interval": 0.01}
)
# Processes that share a Redis but must not take each other's tasks (two installations, or a test's own
# workers beside a running stack) each name their queue; a worker consumes its default queue only.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("UNIMANAGER_TASK_QUEUE", "celery")
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "apps.security.validators.OrganizationPasswordPolicyValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
NODE_MODULES = BASE_DIR / "node_modules"
# Front-end packages come from npm (package.json) and are served straight from node_modules.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/tabler", NODE_MODULES / "@tabler" / "core" / "dist"),
    ("vendor/tabler-icons", NODE_MODULES / "@tabler" / "icons-webfont" / "dist"),
    ("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"),
    ("vendor/echarts", NODE_MODULES / "echarts" / "dist"),
    ("vendor/gridstack", NODE_MODULES / "gridstack" / "dist"),
]
STATICFILES_DIRS = [d for d in STATICFILES_DIRS if Path(d[1] if isinstance(d, tuple) else d).exists()]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("UNIMANAGER_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("UNIMANAGER_BEHIND_PROXY", False) else None
SESSION_COOKIE_AGE = int(os.environ.get("UNIMANAGER_SESSION_HOURS", "12")) * 3600
if SESSION_COOKIE_SECURE:
    SECURE_HSTS_SECONDS = int(os.environ.get("UNIMANAGER_HSTS_SECONDS", "31536000"))
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.security.authentication.AccessKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.CursorPagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "apps.core.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # The API speaks JSON only: any other body is a 415, and request bodies are documented as JSON.
    "DEFAULT_PARSER_CLASSES": ["apps.core.api.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Unimanager API",
    "DESCRIPTION": "Northbound API of the Unimanager unified cloud operations console.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    # Offline: the page must not send the schema to an outside validator.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "apps.core.api.schema.postprocess"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("UNIMANAGER_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "daphne": {"level": "WARNING"},
        "celery": {"level": "WARNING"},
    },
}

# Events: how long a topic's recent events stay available for reconnecting clients, and how many.
REALTIME_REPLAY_SECONDS = int(os.environ.get("UNIMANAGER_REALTIME_REPLAY_SECONDS", "600"))
REALTIME_REPLAY_EVENTS = int(os.environ.get("UNIMANAGER_REALTIME_REPLAY_EVENTS", "200"))
METRICS_TOKEN = os.environ.get("UNIMANAGER_METRICS_TOKEN", "")  # set: /metrics needs "Authorization: Bearer <it>"

# Security center: sign-in lockout (an organization's policy may be stricter for its people), MFA and
# the audit log. Secrets at rest are encrypted with UNIMANAGER_ENCRYPTION_KEYS (apps/security/crypto.py).
SIGNIN_LOCKOUT_THRESHOLD = int(os.environ.get("UNIMANAGER_SIGNIN_LOCKOUT_THRESHOLD", "5"))
SIGNIN_LOCKOUT_MINUTES = int(os.environ.get("UNIMANAGER_SIGNIN_LOCKOUT_MINUTES", "15"))
SIGNIN_IP_THRESHOLD = int(os.environ.get("UNIMANAGER_SIGNIN_IP_THRESHOLD", "20"))
SIGNIN_IP_LOCKOUT_MINUTES = int(os.environ.get("UNIMANAGER_SIGNIN_IP_LOCKOUT_MINUTES", "15"))
MFA_ISSUER = os.environ.get("UNIMANAGER_MFA_ISSUER", "Unimanager")
MFA_REQUIRED_FOR_DUTIES = env_bool("UNIMANAGER_MFA_REQUIRED_FOR_DUTIES", True)
AUDIT_RETENTION_DAYS = int(os.environ.get("UNIMANAGER_AUDIT_RETENTION_DAYS", "365"))
# Keys the audit log's hash chain (HMAC-SHA256), so the chain cannot be recomputed with database
# access alone; without it one is derived from the secret key (apps/security/audit.py).
AUDIT_KEY = os.environ.get("UNIMANAGER_AUDIT_KEY", "")
