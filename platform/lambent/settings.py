"""Settings of the Lambent control plane, read from ``LAMBENT_*`` environment variables.

Every variable is listed in the README's configuration table. The defaults run the whole
platform on one machine with nothing to install: SQLite and an embedded Redis under the
data directory, secrets generated into that directory on first start. ``LAMBENT_ENV=
production`` turns those conveniences off: it refuses to start until a real secret key,
master key, database and Redis are given, because a replica that generated its own would
not agree with its peers.
"""

from __future__ import annotations

import hashlib
import ipaddress
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

from lambent.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_mapping,
    env_path,
    env_secret,
    env_str,
    local_secret,
    parse_bind,
)

BASE_DIR = Path(__file__).resolve().parents[2]

#: ``development`` (the default) or ``production``.
ENVIRONMENT = env_choice("LAMBENT_ENV", choices=("development", "production"), default="development")
PRODUCTION = ENVIRONMENT == "production"

#: Local state of the one-machine setup: SQLite file, embedded Redis, code, secrets.
DATA_DIR = env_path("LAMBENT_DATA_DIR", default=Path(".lambent"))
DATA_DIR.mkdir(parents=True, exist_ok=True)

#: ``host:port`` the API server listens on.
BIND = env_str("LAMBENT_BIND", default="127.0.0.1:8000")

#: What tells two installations on one host apart: their data directories (a second one cannot share
#: the first's, which holds its executor's socket and its sandboxes). Defaults that would collide on
#: a host (the cgroup parent, the sandboxes' uids) are derived from it; the metrics ports follow the
#: API's port, which two installations cannot share either.
_INSTALLATION = int(hashlib.sha256(str(DATA_DIR).encode()).hexdigest()[:8], 16)
_API_PORT = parse_bind(BIND)[1]

DEBUG = env_bool("LAMBENT_DEBUG", default=False)
ALLOWED_HOSTS = env_list("LAMBENT_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

# --- secrets, database and Redis -----------------------------------------------------------

_given_secret_key = env_secret("LAMBENT_SECRET_KEY")
_given_master_key = env_secret("LAMBENT_MASTER_KEY")
_database_url = env_str("LAMBENT_DATABASE_URL")
_redis_url = env_str("LAMBENT_REDIS_URL")

if PRODUCTION:
    _missing = [
        name
        for name, given in (
            ("LAMBENT_SECRET_KEY", _given_secret_key),
            ("LAMBENT_MASTER_KEY", _given_master_key),
            ("LAMBENT_DATABASE_URL", _database_url),
            ("LAMBENT_REDIS_URL", _redis_url),
        )
        if not given
    ]
    if _missing:
        raise ImproperlyConfigured("LAMBENT_ENV=production refuses to start without " + ", ".join(_missing))
    assert _given_secret_key is not None and _database_url is not None
    if len(_given_secret_key) < 50 or _given_secret_key.startswith("django-insecure"):
        raise ImproperlyConfigured("LAMBENT_SECRET_KEY must be a random string of at least 50 characters")
    if not _database_url.startswith(("postgres://", "postgresql://", "pgsql://")):
        raise ImproperlyConfigured("LAMBENT_DATABASE_URL must name a PostgreSQL database in production")

#: Django's signing key (sessions, CSRF of the admin and console).
SECRET_KEY = _given_secret_key or local_secret(DATA_DIR / "secret_key", generate=get_random_secret_key)

#: Encrypts access-key secrets at rest. Any string; a Fernet key is derived from it.
MASTER_KEY = _given_master_key or local_secret(
    DATA_DIR / "master_key", generate=lambda: Fernet.generate_key().decode()
)

if _database_url:
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "lambent.sqlite3"),
            # Reopening the file and re-running the pragmas costs ~1 ms: keep connections.
            "CONN_MAX_AGE": 600,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {
                # Several processes share the file: WAL lets readers run beside a writer,
                # IMMEDIATE takes the write lock up front instead of failing on upgrade.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }

#: Unix socket of the embedded Redis, used when LAMBENT_REDIS_URL is unset.
EMBEDDED_REDIS_SOCKET = DATA_DIR / "redis.sock"
EMBEDDED_REDIS = _redis_url is None
REDIS_URL = _redis_url or f"unix://{EMBEDDED_REDIS_SOCKET}"

# --- Lambda compatibility -----------------------------------------------------------------

#: Partition and region written into ARNs.
ARN_PARTITION = env_str("LAMBENT_PARTITION", default="aws")
REGION = env_str("LAMBENT_REGION", default="us-east-1")
#: Regions a SigV4 signature of the Lambda-compatible API may be scoped to (clients sign with
#: the region they are configured for); the ARN region first.
SIGNING_REGIONS = [REGION, *(r for r in env_list("LAMBENT_SIGNING_REGIONS", default=[]) if r != REGION)]
#: Seconds a GetFunction code download link stays valid, as Lambda's presigned URL (10 minutes).
CODE_LINK_SECONDS = env_int("LAMBENT_CODE_LINK_SECONDS", default=600, minimum=1)

# --- execution ----------------------------------------------------------------------------

#: What the api and worker processes invoke through (a dotted path to an Executor class):
#: the client of the executor process, or the in-memory fake in tests of the layers above.
EXECUTOR = env_str("LAMBENT_EXECUTOR", default="worker.executors.client.ExecutorClient")
#: What the executor process (``lambent executor``) runs sandboxes with.
EXECUTOR_BACKEND = env_str("LAMBENT_EXECUTOR_BACKEND", default="worker.executors.local.LocalExecutor")
#: Unix socket on which the executor process listens for the api and worker processes.
EXECUTOR_SOCKET = env_path("LAMBENT_EXECUTOR_SOCKET", default=DATA_DIR / "executor.sock")
#: ``host:port`` on which the executor process listens over TCP too, for api and worker processes
#: on other hosts (a Kubernetes install); ``none``: the Unix socket only. A TCP connection attaches
#: with a key derived from the secret key before anything else (``worker.executors.server``).
EXECUTOR_BIND = env_str("LAMBENT_EXECUTOR_BIND", default="none")
#: ``host:port`` where the api and worker processes reach the executor over TCP; empty: its Unix socket.
EXECUTOR_ADDRESS = env_str("LAMBENT_EXECUTOR_ADDRESS", default="")
for _name, _value in (("LAMBENT_EXECUTOR_BIND", EXECUTOR_BIND), ("LAMBENT_EXECUTOR_ADDRESS", EXECUTOR_ADDRESS)):
    if _value not in ("", "none"):
        try:
            parse_bind(_value)
        except ImproperlyConfigured as exc:
            raise ImproperlyConfigured(f"{_name}: {exc}") from None
#: ``bwrap`` isolates every sandbox; ``none`` runs functions as plain processes (no isolation).
SANDBOX = env_choice("LAMBENT_SANDBOX", choices=("bwrap", "none"), default="bwrap")
#: ``default`` runs every bwrap sandbox under the seccomp allow-list and the agent's guard
#: (worker.executors.local.seccomp); ``unconfined`` without them, for chasing a function that
#: needs a system call the list lacks.
SECCOMP = env_choice("LAMBENT_SECCOMP", choices=("default", "unconfined"), default="default")
#: Seconds an idle warm sandbox is kept before it is reaped.
KEEP_ALIVE_SECONDS = env_int("LAMBENT_KEEP_ALIVE_SECONDS", default=300, minimum=1)
#: Seconds a sandbox lent to an api or worker process stays its own without being renewed (the
#: holder renews every third of it); after that, the executor takes it back, or destroys it if an
#: invocation was in flight: what a killed or hung process holds comes back this long after.
SANDBOX_LEASE_SECONDS = env_float("LAMBENT_SANDBOX_LEASE_SECONDS", default=10.0, minimum=0.2)
#: Seconds an api or worker process keeps a lent sandbox it is not using before giving it back.
SANDBOX_HOLD_SECONDS = env_float("LAMBENT_SANDBOX_HOLD_SECONDS", default=1.0, minimum=0.0)
#: Interpreters for the Python runtimes, ``python3.12=/path/to/python3.12,...``; found on the node when unset.
PYTHON_INTERPRETERS = env_mapping("LAMBENT_PYTHON_INTERPRETERS")
#: Seconds the invoke path may reuse an access key and a qualifier's routing it looked up
#: (see lambent.invocations.hot_cache); writes in this process clear them at once. 0: never.
INVOKE_CACHE_SECONDS = env_float("LAMBENT_INVOKE_CACHE_SECONDS", default=1.0, minimum=0.0)
#: Milliseconds the ledger rows of synchronous invocations wait in the api process to be
#: written together, after their responses (lambent.invocations.ledger_writer); 0 writes
#: each before its response. A read of the ledger writes them at once.
LEDGER_LINGER_MS = env_int("LAMBENT_LEDGER_LINGER_MS", default=100, minimum=0)
#: Generic sandboxes (interpreter and agent started, no code) kept ready per interpreter, so
#: a cold start only specializes one; 0 starts every sandbox on demand.
GENERIC_POOL_SIZE = env_int("LAMBENT_GENERIC_POOL_SIZE", default=2, minimum=0)
#: The cgroup (in each hierarchy) this installation's sandboxes live under. An executor reaps at
#: start whatever it finds there, so two installations on one host need different ones.
CGROUP_PARENT = env_str("LAMBENT_CGROUP_PARENT", default=f"lambent-{_INSTALLATION:08x}")
#: First host uid (and gid) of the range sandboxes run as (65536 of them); never root. Two
#: installations on one host need ranges that do not overlap, or their sandboxes could share a uid.
SANDBOX_UID_BASE = env_int("LAMBENT_SANDBOX_UID_BASE", default=200000 + 65536 * (_INSTALLATION % 4096), minimum=1000)

# --- Kubernetes ---------------------------------------------------------------------------
# What worker.executors.kubernetes.KubernetesExecutor runs pods with (LAMBENT_EXECUTOR_BACKEND);
# worker.executors.kubernetes.settings reads these into one object and says more of each.

#: The kubeconfig file the executor reaches the cluster with; unset, the in-cluster configuration
#: (the executor pod's service account).
KUBERNETES_KUBECONFIG = env_str("LAMBENT_KUBERNETES_KUBECONFIG")
#: The kubeconfig's context to use; unset, its current context.
KUBERNETES_CONTEXT = env_str("LAMBENT_KUBERNETES_CONTEXT")
#: The namespace of each tenant's pods, ``{account_id}`` replaced by the tenant's 12 digits.
KUBERNETES_NAMESPACE_PATTERN = env_str("LAMBENT_KUBERNETES_NAMESPACE_PATTERN", default="lambent-{account_id}")
#: The value of the ``lambent.dev/installation`` label on everything the executor makes: what is this
#: installation's (two installations can share a cluster if their names and namespace patterns differ).
KUBERNETES_INSTALLATION = env_str("LAMBENT_KUBERNETES_INSTALLATION", default="lambent")
#: The namespace the platform itself runs in: the executor's leader Lease lives there, and its pods
#: selected by the selector below are the only ones that may reach the sandboxes' agents.
KUBERNETES_PLATFORM_NAMESPACE = env_str("LAMBENT_KUBERNETES_PLATFORM_NAMESPACE", default="lambent-system")
#: Labels (``key=value,...``) of the platform's pods (api, worker and executor) in that namespace.
KUBERNETES_PLATFORM_POD_SELECTOR = (env_mapping("LAMBENT_KUBERNETES_PLATFORM_POD_SELECTOR")
                                    or {"app.kubernetes.io/name": "lambent"})
#: The image of each runtime, ``python3.12=registry/image@sha256:...,...``; a runtime not named here
#: runs the pattern's image, ``{runtime}`` replaced by its name.
KUBERNETES_IMAGES = env_mapping("LAMBENT_KUBERNETES_IMAGES")
KUBERNETES_IMAGE_PATTERN = env_str("LAMBENT_KUBERNETES_IMAGE_PATTERN", default="lambent/runtime:{runtime}")
#: Generic pods kept ready per tenant namespace, runtime, memory size and storage size in use:
#: ``python3.12=4,...`` per runtime, the default for the others; 0 starts every pod on demand.
KUBERNETES_POOL_SIZES = env_mapping("LAMBENT_KUBERNETES_POOL_SIZES")
KUBERNETES_POOL_SIZE = env_int("LAMBENT_KUBERNETES_POOL_SIZE", default=1, minimum=0)
#: The RuntimeClass of sandbox pods (``gvisor``, ``kata``...); unset, the cluster's default runtime.
KUBERNETES_RUNTIME_CLASS = env_str("LAMBENT_KUBERNETES_RUNTIME_CLASS")
#: Secrets (names, comma-separated) the kubelet pulls runtime images with; each must exist in every
#: tenant namespace.
KUBERNETES_IMAGE_PULL_SECRETS = env_list("LAMBENT_KUBERNETES_IMAGE_PULL_SECRETS", default=[])
#: The port each sandbox pod's agent listens on for the platform.
KUBERNETES_AGENT_PORT = env_int("LAMBENT_KUBERNETES_AGENT_PORT", default=8080, minimum=1)
#: Pods share the node's network and each agent listens on a 127.0.0.1 port of the range
#: (``first-last``): for a test cluster without a pod network only; never with tenants' code.
KUBERNETES_HOST_NETWORK = env_bool("LAMBENT_KUBERNETES_HOST_NETWORK", default=False)
KUBERNETES_HOST_PORTS = env_str("LAMBENT_KUBERNETES_HOST_PORTS", default="30000-32767")
#: Sandbox pods run in user namespaces (``hostUsers: false``): Kubernetes 1.25 or newer with the
#: feature on, and nodes whose runtime and kernel support it.
KUBERNETES_USER_NAMESPACES = env_bool("LAMBENT_KUBERNETES_USER_NAMESPACES", default=False)
#: Networks (CIDR, comma-separated) sandboxes may reach, less the excepted ones within them: by
#: default the internet but no private, link-local (cloud metadata), shared (CGNAT) address, nor
#: the cluster's own pod and service ranges (name them when they lie outside those).
KUBERNETES_EGRESS_ALLOWED = env_list("LAMBENT_KUBERNETES_EGRESS_ALLOWED", default=["0.0.0.0/0"])
KUBERNETES_EGRESS_EXCEPT = env_list("LAMBENT_KUBERNETES_EGRESS_EXCEPT", default=[
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"])
KUBERNETES_CLUSTER_NETWORKS = env_list("LAMBENT_KUBERNETES_CLUSTER_NETWORKS", default=[])
#: ``host:port`` where the executor serves code packages to pods, and the base URL pods fetch them
#: from (its Service, say ``http://lambent-executor.lambent-system.svc:8081``); required.
KUBERNETES_CODE_BIND = env_str("LAMBENT_KUBERNETES_CODE_BIND", default="0.0.0.0:8081")
KUBERNETES_CODE_URL = env_str("LAMBENT_KUBERNETES_CODE_URL")
#: CPU (millicores) per 1,024 MB of a function's memory, its pod's request and limit alike: Lambda
#: gives one vCPU at 1,769 MB.
KUBERNETES_MILLICPU_PER_GB = env_int("LAMBENT_KUBERNETES_MILLICPU_PER_GB", default=579, minimum=1)
#: Seconds a new pod has to become Ready (its image pulled, its agent listening) before it is deleted.
KUBERNETES_POD_START_SECONDS = env_float("LAMBENT_KUBERNETES_POD_START_SECONDS", default=120.0, minimum=1.0)

# --- asynchronous invocations -------------------------------------------------------------

#: Seconds before the first and the second retry of an asynchronous invocation whose function
#: failed (Lambda waits about one and two minutes).
ASYNC_RETRY_DELAYS = [float(delay) for delay in env_list("LAMBENT_ASYNC_RETRY_DELAYS", default=["60", "120"])]
#: First wait after a platform error; it doubles on each one, up to the maximum.
ASYNC_PLATFORM_BACKOFF_SECONDS = env_float("LAMBENT_ASYNC_PLATFORM_BACKOFF_SECONDS", default=1.0, minimum=0.0)
ASYNC_PLATFORM_BACKOFF_MAX_SECONDS = env_float("LAMBENT_ASYNC_PLATFORM_BACKOFF_MAX_SECONDS", default=300.0,
                                               minimum=0.0)
#: Seconds an attempt's lease lasts; its worker renews it every third of that while the attempt
#: runs. A worker that dies stops renewing: its attempts are taken over once their lease runs out.
ASYNC_LEASE_SECONDS = env_float("LAMBENT_ASYNC_LEASE_SECONDS", default=10.0, minimum=1.0)
#: Seconds a worker keeps trying to record an attempt's outcome while the database fails.
ASYNC_RECORD_RETRY_SECONDS = env_float("LAMBENT_ASYNC_RECORD_RETRY_SECONDS", default=30.0, minimum=0.0)
#: Seconds a worker waits for an executor it could not reach before it tries an attempt anyway
#: (which then fails as a platform error and waits its backoff).
ASYNC_EXECUTOR_WAIT_SECONDS = env_float("LAMBENT_ASYNC_EXECUTOR_WAIT_SECONDS", default=60.0, minimum=0.0)
#: A queued invocation still not started this long after it was due is sent to the broker again
#: (its message was lost, say by a Redis restart); duplicates are harmless, just wasted work.
ASYNC_REDELIVERY_SECONDS = env_float("LAMBENT_ASYNC_REDELIVERY_SECONDS", default=300.0, minimum=0.0)
#: How often ``lambent beat`` runs the sweeper: lost messages, expired events, abandoned leases.
SWEEP_INTERVAL_SECONDS = env_float("LAMBENT_SWEEP_INTERVAL_SECONDS", default=10.0, minimum=0.1)
#: Invocations one ``lambent worker`` runs at once (one process each).
WORKER_CONCURRENCY = env_int("LAMBENT_WORKER_CONCURRENCY", default=2, minimum=1)
#: Seconds a webhook destination has to answer, and how many times a delivery is tried.
WEBHOOK_TIMEOUT_SECONDS = env_float("LAMBENT_WEBHOOK_TIMEOUT_SECONDS", default=10.0, minimum=0.1)
WEBHOOK_MAX_ATTEMPTS = env_int("LAMBENT_WEBHOOK_MAX_ATTEMPTS", default=8, minimum=1)
#: Networks (CIDR, comma-separated) webhooks may reach besides public addresses: none by default,
#: so a tenant's webhook cannot reach loopback, private or link-local services of the platform.
try:
    WEBHOOK_ALLOWED_NETWORKS = [str(ipaddress.ip_network(network, strict=False))
                                for network in env_list("LAMBENT_WEBHOOK_ALLOWED_NETWORKS", default=[])]
except ValueError as _error:
    raise ImproperlyConfigured(f"LAMBENT_WEBHOOK_ALLOWED_NETWORKS: {_error}") from None

#: Bytes of code one tenant may store: the distinct zips its versions use, as Lambda's 75 GB
#: account limit. An upload that would go over it is refused.
#: Where code packages are kept: ``files`` under the data directory, or ``database`` (for processes
#: that share no file system, as on Kubernetes: the api stores what the executor reads).
CODE_STORAGE = env_choice("LAMBENT_CODE_STORAGE", choices=("files", "database"), default="files")
CODE_STORAGE_LIMIT_BYTES = env_int("LAMBENT_CODE_STORAGE_LIMIT_BYTES", default=75 * 1024**3, minimum=0)

# --- concurrency --------------------------------------------------------------------------

#: Executions one tenant may run at once across all its functions, as Lambda's account limit;
#: an operator overrides it per tenant (``lambent quota``, the admin).
CONCURRENT_EXECUTIONS = env_int("LAMBENT_CONCURRENT_EXECUTIONS", default=1000, minimum=0)
#: The part of a tenant's limit that reservations may never take: its functions without a
#: reservation always share at least this many (per-tenant override as above).
UNRESERVED_CONCURRENCY_MINIMUM = env_int("LAMBENT_UNRESERVED_CONCURRENCY_MINIMUM", default=100, minimum=0)
#: A running execution holds its concurrency slot as a lease of the function's timeout plus
#: this, so a process killed while holding one frees it then. Keep it at least the time the
#: executor client may wait beyond a timeout (60 s), or a slow end lets one execution too many in.
CONCURRENCY_LEASE_MARGIN_SECONDS = env_float("LAMBENT_CONCURRENCY_LEASE_MARGIN_SECONDS", default=60.0,
                                             minimum=0.0)
#: Seconds before a Redis command or connect fails: the concurrency counters' (and the broker's,
#: below), so a hung Redis answers 503 instead of blocking invocations.
REDIS_SOCKET_TIMEOUT = env_int("LAMBENT_REDIS_SOCKET_TIMEOUT", default=2, minimum=1)

# --- metrics ------------------------------------------------------------------------------

#: A bearer token that lets any client read the api's /metrics; unset, only loopback clients may.
METRICS_TOKEN = env_secret("LAMBENT_METRICS_TOKEN")
#: ``host:port`` where ``lambent worker`` serves the metrics of all its processes; ``none``: nowhere.
WORKER_METRICS_BIND = env_str("LAMBENT_WORKER_METRICS_BIND", default=f"127.0.0.1:{_API_PORT + 1101}")
#: ``host:port`` where ``lambent executor`` serves its ``lambent_executor_*`` metrics; ``none``: nowhere.
EXECUTOR_METRICS_BIND = env_str("LAMBENT_EXECUTOR_METRICS_BIND", default=f"127.0.0.1:{_API_PORT + 2101}")

# --- provisioned concurrency --------------------------------------------------------------

#: How often ``lambent beat`` has the executor brought in line with the provisioned concurrency
#: configs (a put or a delete also sends a reconcile at once).
PROVISIONING_INTERVAL_SECONDS = env_float("LAMBENT_PROVISIONING_INTERVAL_SECONDS", default=5.0, minimum=0.1)
#: Seconds a reconcile waits for new provisioned sandboxes to finish their init before it records
#: how far they are (the next reconcile records the rest).
PROVISIONING_WAIT_SECONDS = env_float("LAMBENT_PROVISIONING_WAIT_SECONDS", default=10.0, minimum=0.0)

# --- schedules ----------------------------------------------------------------------------

#: How often ``lambent beat`` has a worker fire the schedules that are due; a firing is late by
#: at most about this much (Scheduler's own granularity is a minute).
SCHEDULE_TICK_SECONDS = env_float("LAMBENT_SCHEDULE_TICK_SECONDS", default=10.0, minimum=0.1)
#: How late a schedule whose flexible time window is ``OFF`` may still fire (a beat or worker that
#: was down, then restarted): an instant older than this is recorded as missed instead.
SCHEDULE_GRACE_SECONDS = env_float("LAMBENT_SCHEDULE_GRACE_SECONDS", default=120.0, minimum=0.0)

# --- Django -------------------------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "lambent",
    "lambent.iam",
    "lambent.functions",
    "lambent.queues",
    "lambent.quotas",
    "lambent.invocations",
    "lambent.events",
    "lambent.lambda_api",
    "lambent.console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "lambent.urls"
ASGI_APPLICATION = "lambent.asgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# Served straight from the apps' folders: no collectstatic step before the first start.
WHITENOISE_USE_FINDERS = True

#: Where ``npm ci`` (``make install``, package.json) put the console's browser libraries: the
#: checkout's node_modules, or the copy the platform image ships. Served as static files, no CDN.
CONSOLE_ASSETS_DIR = env_path("LAMBENT_CONSOLE_ASSETS_DIR",
                              default=Path(__file__).resolve().parents[2] / "node_modules")
STATICFILES_DIRS = [
    ("console/vendor/codemirror/lib", CONSOLE_ASSETS_DIR / "codemirror" / "lib"),
    ("console/vendor/codemirror/mode", CONSOLE_ASSETS_DIR / "codemirror" / "mode"),
    ("console/vendor/htmx", CONSOLE_ASSETS_DIR / "htmx.org" / "dist"),
]

# --- the console --------------------------------------------------------------------------

LOGIN_URL = "console:sign-in"
LOGIN_REDIRECT_URL = "console:functions"
#: Session and CSRF cookies only over HTTPS; on by default unless LAMBENT_DEBUG (browsers keep
#: them for http://localhost and 127.0.0.1 too). Off for a console reached over plain HTTP elsewhere.
SECURE_COOKIES = env_bool("LAMBENT_SECURE_COOKIES", default=not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
#: Failed sign-ins of one username from one address that lock its sign-in ...
CONSOLE_SIGN_IN_FAILURES = env_int("LAMBENT_CONSOLE_SIGN_IN_FAILURES", default=5, minimum=1)
#: ... within this many seconds, until the oldest of them is that old.
CONSOLE_SIGN_IN_WINDOW_SECONDS = env_int("LAMBENT_CONSOLE_SIGN_IN_WINDOW_SECONDS", default=900, minimum=1)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": DATA_DIR / "files"},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    # Function code, addressed by sha256 (lambent.functions.code_packages).
    "code": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": DATA_DIR / "code"},
    } if CODE_STORAGE == "files" else {"BACKEND": "lambent.functions.code_storage.DatabaseStorage"},
}

# A code upload is up to 50 MB zipped, which is about 67 MB once base64-encoded in JSON.
DATA_UPLOAD_MAX_MEMORY_SIZE = 70 * 1024 * 1024

# --- REST API -----------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["lambent.iam.authentication.AccessKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["lambent.iam.authentication.IsTenantMember"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON only; the views that take a code upload add multipart (lambent.api.content).
    "DEFAULT_PARSER_CLASSES": ["lambent.api.content.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "lambent.api.content.JSONOnly",
    "DEFAULT_PAGINATION_CLASS": "lambent.api.pagination.CursorPagination",
    "EXCEPTION_HANDLER": "lambent.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "lambent.api.schema.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Lambent API",
    "DESCRIPTION": "The native REST API of Lambent, a self-hosted Function-as-a-Service platform.",
    "VERSION": "1",
    # 3.1: JSON Schema's propertyNames and patternProperties state the keys of dictionary fields.
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "lambent.api.schema.postprocess"],
    "ENUM_NAME_OVERRIDES": {"InvocationStatusEnum": "lambent.invocations.models.InvocationStatus"},
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Celery -------------------------------------------------------------------------------

# The scheme names lambent.broker's transport: kombu's Redis transport with a failed
# acknowledgement mended (it no longer stops a worker for good after a Redis outage).
CELERY_BROKER_URL = ("lambent-" + REDIS_URL.replace("unix://", "redis+socket://", 1)
                     if REDIS_URL.startswith(("redis://", "rediss://", "unix://")) else REDIS_URL)
if REDIS_URL.startswith("rediss://"):
    import ssl as _ssl

    # kombu would otherwise accept any certificate for a rediss:// URL.
    CELERY_BROKER_USE_SSL = {"ssl_cert_reqs": _ssl.CERT_REQUIRED}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A hung Redis must fail a send in seconds, not block the API (measured: 20 s+ without).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_timeout": REDIS_SOCKET_TIMEOUT,
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
    # Longer than any wait a retry is scheduled with (ETA messages stay unacknowledged
    # meanwhile): a shorter one makes Redis hand the same message to a second worker.
    "visibility_timeout": 3600,
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# With Redis, a prefork worker otherwise takes in messages far beyond its prefetch window while
# its processes are busy (25 held by one worker of two processes, measured): a worker that dies
# holds them until the visibility timeout, and its peers idle meanwhile. Fetch one when a process is free.
CELERY_WORKER_DISABLE_PREFETCH = True
# A lost broker connection leaves running attempts to finish: their leases in the database, not
# the broker, keep them from running twice (Celery would otherwise kill them).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_WORKER_CONCURRENCY = WORKER_CONCURRENCY
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery closes Django's database connections around every task unless told to reuse them:
# a reconnect costs more than running a warm function. worker.tasks still drops a connection
# that broke or outlived CONN_MAX_AGE, as Django does between requests.
CELERY_DB_REUSE_MAX = 1000
CELERY_BEAT_SCHEDULE = {
    "sweep": {"task": "lambent.invocations.sweep", "schedule": SWEEP_INTERVAL_SECONDS},
    # A reconcile not started within two intervals is dropped: the next one does its work.
    "reconcile-provisioned": {"task": "lambent.invocations.reconcile_provisioned",
                              "schedule": PROVISIONING_INTERVAL_SECONDS,
                              "options": {"expires": 2 * PROVISIONING_INTERVAL_SECONDS}},
    # A tick not started within two intervals is dropped: the next one fires what it would have.
    "fire-schedules": {"task": "lambent.events.tick", "schedule": SCHEDULE_TICK_SECONDS,
                       "options": {"expires": 2 * SCHEDULE_TICK_SECONDS}},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "beat-schedule")

# --- logging ------------------------------------------------------------------------------

#: Level of every process's log (DEBUG, INFO, WARNING, ERROR).
LOG_LEVEL = env_str("LAMBENT_LOG_LEVEL", default="INFO")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}
