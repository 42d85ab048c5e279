"""Settings shared by every runtime shape, read from the environment.

Embedded default (no DATABASE_URL): the embedded PostgreSQL server under var/ (see
``settlement_ops.embedded_db``), Celery eager (no REDIS_URL). Production overrides live in
``production.py``; the test suite's in ``test.py``.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab

from settlement_ops import embedded_db

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost"]),
    REDIS_URL=(str, ""),
    REPORTING_CURRENCY=(str, "EUR"),
)

DEBUG = env("DEBUG")
# Only the embedded default may fall back to a development key; production.py refuses it.
SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-change-me")
ALLOWED_HOSTS = env("ALLOWED_HOSTS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "simple_history",
    "import_export",
    "axes",
    "settlement_ops",
    "vendors",
    "sellers",
    "billing",
    "billing.payables",
    "billing.receivables",
    "compensation",
    "risk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Django's LocaleMiddleware, after sign-in: a seller reads the portal in their market's language
    # unless they chose another with the switch; staff pages stay English unless chosen.
    "settlement_ops.i18n.LocaleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "settlement_ops.urls"
WSGI_APPLICATION = "settlement_ops.wsgi.application"

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
                "settlement_ops.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=embedded_db.DEFAULT_URL),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out user or address before the password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "settlement_ops.backends.SignedInUserBackend"]

# --- Sign-in throttling and lockout (django-axes) and the client address ------------------------
# Proxies in front of the app that append to X-Forwarded-For (0: none, the peer is the client).
# The client is the address the outermost trusted proxy saw, so a forged header changes nothing.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "settlement_ops.security.client_ip"
# Failures count per user name and, separately, per client address; either locks for the cool-off.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_RESET_ON_SUCCESS = True
# Sign-ins and failures are already in the append-only audit log (settlement_ops.signals).
AXES_DISABLE_ACCESS_LOG = True
AXES_LOCKOUT_TEMPLATE = "settlement_ops/locked_out.html"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("fr", "Français"), ("id", "Bahasa Indonesia"), ("vi", "Tiếng Việt")]
# Stored times are UTC; each market's business date is computed in its own timezone (Market.tz).
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# The catalogues (locale/<lang>/LC_MESSAGES/django.po) are compiled to .mo by `make`
# (manage.py catalogues_compile, pure Python). Number and date formats per language, one date
# format per locale, live in settlement_ops/formats/<lang>/formats.py.
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["settlement_ops.formats"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media"))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Uploads: refuse big files before parsing (invoice files of 200k lines are ~30 MB).
MAX_UPLOAD_BYTES = env.int("MAX_UPLOAD_BYTES", default=64 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

REPORTING_CURRENCY = env("REPORTING_CURRENCY")

# --- REST API -------------------------------------------------------------------------------
# An unset choice filter shows everything: say so ("All"), not "---------".
FILTERS_EMPTY_CHOICE_LABEL = "All"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Named, scoped, expiring tokens per integration (settlement_ops.api_tokens); the plain
        # DRF token still works for accounts that have one (the demo's integration user).
        "settlement_ops.api_tokens.ApiTokenAuthentication",
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["settlement_ops.permissions.HasRolePermission"],
    "DEFAULT_SCHEMA_CLASS": "settlement_ops.schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Page numbers with a bounded count: exact up to 10,000 rows, estimated past (no COUNT(*) over millions).
    "DEFAULT_PAGINATION_CLASS": "settlement_ops.pagination.EstimatedCountPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "settlement_ops.api.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    # Generous: an integration pushing batches and the test suite never come close; a runaway
    # client or a token-guessing script does.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_THROTTLE_ANON", default="120/minute"),
        "user": env("API_THROTTLE_USER", default="3000/minute"),
    },
    # The client address for throttling, read like sign-in's (X-Forwarded-For cannot be forged).
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
# Throttle counters: shared through Redis across web processes in production, in memory otherwise.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env("REDIS_URL")}
        if env("REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# Sessions read through the cache, written through to the database: one query less per request.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SPECTACULAR_SETTINGS = {
    "TITLE": "Settlement Ops API",
    "DESCRIPTION": "Logistics settlement: vendors, billing, payables, receivables, compensation, risk.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets share field names (status, kind) across models: name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "ApprovalLimitActionEnum": "settlement_ops.models.ApprovalLimit.Action",
        "TicketStateEnum": "sellers.models.Ticket.State",
        "SeverityEnum": "risk.models.Severity",  # the seller health warnings use the same three levels
        "TicketReferenceKindEnum": "sellers.models.Ticket.ReferenceKind",
        "TicketChannelEnum": "sellers.models.Ticket.Channel",
        "AuditEventKindEnum": "settlement_ops.models.AuditEvent.Kind",
        "BillingRunChunkStatusEnum": "billing.models.BillingRunChunk.Status",
        "BillingRunStatusEnum": "billing.models.BillingRun.Status",
        "BillingRunTriggerEnum": "billing.models.BillingRun.Trigger",
        "ChargeLineKindEnum": "billing.models.ChargeLine.Kind",
        "CollectionNoteKindEnum": "billing.receivables.models.CollectionNote.Kind",
        "ContractStatusEnum": "vendors.models.Contract.Status",
        "ContractVersionStatusEnum": "vendors.models.ContractVersion.Status",
        "IdempotencyRecordStatusEnum": "settlement_ops.models.IdempotencyRecord.Status",
        "InvoiceImportStatusEnum": "billing.payables.models.InvoiceImport.Status",
        # Seller invoices also have Vietnam's adjustment invoices; vendor invoices only (invoice, credit_note).
        "InvoiceKindEnum": "billing.receivables.models.Invoice.Kind",
        "VendorInvoiceKindEnum": "billing.payables.models.VendorInvoice.Kind",
        "InvoiceStatusEnum": "billing.receivables.models.Invoice.Status",
        "PayableKindEnum": "billing.payables.models.Payable.Kind",
        "PayableStatusEnum": "billing.payables.models.Payable.Status",
        "PaymentRunStatusEnum": "billing.payables.models.PaymentRun.Status",
        "PaymentStatusEnum": "billing.payables.models.Payment.Status",
        "PayoutDeductionStatusEnum": "billing.receivables.models.PayoutDeduction.Status",
        "RatingExceptionCodeEnum": "billing.models.RatingException.Code",
        "ReceiptStatusEnum": "billing.receivables.models.Receipt.Status",
        "SellerFeeScheduleStatusEnum": "billing.models.SellerFeeSchedule.Status",
        "SellerStatusEnum": "sellers.models.Seller.Status",
        "ShipmentStatusEnum": "billing.models.Shipment.Status",
        "SurchargeKindEnum": "vendors.models.Surcharge.Kind",
        "VendorBankAccountStatusEnum": "vendors.models.VendorBankAccount.Status",
        "VendorBankChangeRequestStatusEnum": "vendors.models.VendorBankChangeRequest.Status",
        "VendorInvoiceLineDecisionEnum": "billing.payables.models.VendorInvoiceLine.Decision",
        "VendorInvoiceStatusEnum": "billing.payables.models.VendorInvoice.Status",
        "VendorStatusEnum": "vendors.models.Vendor.Status",
        "VendorTypeEnum": "vendors.models.Vendor.Type",
        "WriteOffStatusEnum": "billing.receivables.models.WriteOff.Status",
    },
}

# --- Celery ---------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
# Run state lives in PostgreSQL; results are not needed from the broker.
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# No REDIS_URL: the embedded default runs tasks in-process.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Keep every countdown well under this; a redelivered message re-runs an idempotent task.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TIMEZONE = "UTC"
# Billing runs heal themselves (billing.services.billing_runs_sweep, run by beat every
# BILLING_SWEEP_EVERY seconds): a chunk message not taken within BILLING_REQUEUE_AFTER seconds
# of an idle run is re-sent (the wait doubles per re-send, at most 16x, far under the visibility
# timeout); a run without progress for BILLING_STALL_AFTER seconds is shown stalled; a failed run
# is resumed after BILLING_RECOVERY_BACKOFF seconds, doubled per attempt, at most
# BILLING_RECOVERY_MAX_ATTEMPTS times, then finance is e-mailed once (BILLING_ALERT_EMAILS, or the
# active finance users with an address). A chunk failing BILLING_CHUNK_MAX_ATTEMPTS times fails its run.
BILLING_SWEEP_EVERY = env.int("BILLING_SWEEP_EVERY", default=15)
BILLING_REQUEUE_AFTER = env.int("BILLING_REQUEUE_AFTER", default=30)
BILLING_STALL_AFTER = env.int("BILLING_STALL_AFTER", default=300)
BILLING_CHUNK_MAX_ATTEMPTS = env.int("BILLING_CHUNK_MAX_ATTEMPTS", default=3)
BILLING_RECOVERY_BACKOFF = env.int("BILLING_RECOVERY_BACKOFF", default=60)
BILLING_RECOVERY_MAX_ATTEMPTS = env.int("BILLING_RECOVERY_MAX_ATTEMPTS", default=5)
BILLING_ALERT_EMAILS = env.list("BILLING_ALERT_EMAILS", default=[])
# Nightly chain: a failed step is retried NIGHTLY_RETRY_BACKOFF seconds later (doubled per
# attempt) up to NIGHTLY_MAX_ATTEMPTS times, then finance is e-mailed (NIGHTLY_ALERT_EMAILS, or
# the active finance users with an address) and the steps after it wait for a rerun.
NIGHTLY_DISPATCH_EVERY = env.int("NIGHTLY_DISPATCH_EVERY", default=300)
NIGHTLY_RETRY_BACKOFF = env.int("NIGHTLY_RETRY_BACKOFF", default=60)
NIGHTLY_MAX_ATTEMPTS = env.int("NIGHTLY_MAX_ATTEMPTS", default=3)
NIGHTLY_ALERT_EMAILS = env.list("NIGHTLY_ALERT_EMAILS", default=[])
# Nightly jobs (Celery beat).
CELERY_BEAT_SCHEDULE = {
    # One chain per market after its local midnight: billing run, statements, compensation,
    # risk rules, dunning, SLA sweeps, ledger checks (each app's nightly.py; risk.nightly_chain).
    # Also resumes chains whose waiting or retrying step is due, so every 5 minutes is safe.
    "nightly-chain": {
        "task": "risk.tasks.nightly_dispatch_task",
        "schedule": timedelta(seconds=NIGHTLY_DISPATCH_EVERY),
    },
    # Re-sends lost chunk and posting messages, marks stalled runs, resumes failed ones with
    # back-off (see BILLING_* above); a few queries on active and failed runs only.
    "billing-sweep": {
        "task": "billing.tasks.billing_sweep_task",
        "schedule": timedelta(seconds=BILLING_SWEEP_EVERY),
    },
    # The seller desk's SLA clock: breaches escalate to tier 2 within minutes (idempotent).
    "desk-sla-sweep": {
        "task": "sellers.tasks.desk_sla_sweep_task",
        "schedule": timedelta(minutes=10),
    },
    # Background imports (settlement_ops.import_jobs): lost messages re-sent, dead runs resumed.
    "import-jobs-sweep": {
        "task": "settlement_ops.tasks.import_jobs_sweep_task",
        "schedule": timedelta(minutes=5),
    },
    # Marks contracts past their end date expired (idempotent).
    "vendors-expire-contracts": {
        "task": "vendors.tasks.contracts_expire_task",
        "schedule": timedelta(hours=6),
    },
    # The compensation audit runs in the nightly chain; the QA digest goes out on Monday mornings.
    "compensation-digest": {
        "task": "compensation.tasks.compensation_digest_task",
        "schedule": crontab(hour=7, minute=0, day_of_week=1),
    },
}
# `manage.py run_nightly` (and `make demo`) runs the same chains in-process; the orchestrator
# sits above the kernel, so the kernel names it by path.
NIGHTLY_CHAIN = "risk.nightly_chain.chain_run"
NIGHTLY_CHAIN_TASK = "risk.tasks.nightly_chain_task"
NIGHTLY_BUSINESS_DATE = "risk.nightly_chain.business_date_for"

# Embedded default: outgoing mail (dunning letters, remittance advice) lands as files in var/mail.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(BASE_DIR / "var" / "mail"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="settlement@marketplace.example")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="WARNING")},
}
