# The platform image: one image for every process, the command picks which.
#
#   docker run IMAGE api        the API server on LAMBENT_BIND (0.0.0.0:8000 here)
#   docker run IMAGE worker     the Celery worker
#   docker run IMAGE beat       the scheduler (one per installation)
#   docker run IMAGE executor   the sandbox controller
#   docker run IMAGE migrate    Django's migrations, then exits
#
# (`lambent --help` lists the other commands: tenant, quota, ...). Processes run as `lambent` (uid
# and gid 10001, numeric so that runAsNonRoot can check it) under tini, with their state in
# /var/lib/lambent (LAMBENT_DATA_DIR, a volume); the root file system may be read-only.
#
# The executor with its local backend (LAMBENT_EXECUTOR_BACKEND's default) isolates functions with
# bubblewrap and cgroups, which it refuses to do but as root: run it as user 0, in a container
# allowed to make namespaces, mount tmpfs, write the host's cgroup hierarchy and mount a fresh
# /proc for each sandbox. docker-compose.yml's executor service lists exactly what that takes
# (six capabilities, /proc unmasked, the host's cgroups), and why each, short of `privileged`.
# Its socket (LAMBENT_EXECUTOR_SOCKET, in the data directory) is mode 0600, so the api and worker
# processes that use it must share the volume and run as the executor's user.
# With LAMBENT_EXECUTOR_BACKEND=worker.executors.kubernetes.KubernetesExecutor it needs neither.
#
# Base: Debian's slim image, pinned to a point release; tools/images/build makes it from Debian's
# archive where no registry is reachable.

# The web console's browser libraries (CodeMirror, htmx), from npm as `make install` takes them:
# `npm ci` from the committed package-lock.json. Only node_modules leaves this stage.
FROM docker.io/library/debian:12.15-slim AS assets
ARG DEBIAN_FRONTEND=noninteractive
# npm from the base's point release, as every package here: the archive keeps no older versions.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates npm \
    && rm -rf /var/lib/apt/lists/*
# npm checks TLS against the system's certificates too, as pip does below.
ENV npm_config_cafile=/etc/ssl/certs/ca-certificates.crt
WORKDIR /assets
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error


FROM docker.io/library/debian:12.15-slim AS build
ARG DEBIAN_FRONTEND=noninteractive

# Packages come from the base's point release; the archive keeps no older versions to pin to.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*

# pip checks TLS against the system's certificates (which hold any CA the base added), keeps no cache.
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python3 -m venv /opt/lambent

# The dependencies first, from pyproject.toml and constraints.txt alone: a change to the code
# alone reuses this layer.
WORKDIR /src
COPY pyproject.toml constraints.txt ./
RUN python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > requirements.txt \
    && /opt/lambent/bin/pip install --quiet -c constraints.txt -r requirements.txt

COPY README.md ./
COPY platform platform
COPY worker worker
COPY runtimes runtimes
# Then the project itself; pip and setuptools leave the venv, which the final stage takes whole.
RUN /opt/lambent/bin/pip install --quiet --no-deps . \
    && /opt/lambent/bin/pip uninstall --quiet --yes pip setuptools


FROM docker.io/library/debian:12.15-slim
ARG DEBIAN_FRONTEND=noninteractive

# bubblewrap, libseccomp and setpriv (util-linux) isolate the local executor's sandboxes, whose
# agent and Python runtime are this image's python3; tini reaps what they leave behind.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap ca-certificates libseccomp2 python3 tini util-linux \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 lambent \
    && useradd --uid 10001 --gid lambent --home-dir /var/lib/lambent --create-home --shell /usr/sbin/nologin lambent

COPY --from=build /opt/lambent /opt/lambent
COPY --from=assets /assets/node_modules /opt/lambent/node_modules
COPY tools/images/healthcheck /usr/local/bin/lambent-healthcheck

ENV PATH=/opt/lambent/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LAMBENT_DATA_DIR=/var/lib/lambent \
    LAMBENT_CONSOLE_ASSETS_DIR=/opt/lambent/node_modules \
    LAMBENT_BIND=0.0.0.0:8000

USER 10001:10001
WORKDIR /var/lib/lambent
VOLUME ["/var/lib/lambent"]
# The API; the worker's metrics and the executor's follow its port (+1101, +2101) on 127.0.0.1
# unless LAMBENT_WORKER_METRICS_BIND and LAMBENT_EXECUTOR_METRICS_BIND say otherwise.
EXPOSE 8000

# What "healthy" means depends on the process (see the script): the api answers /healthz, the
# worker a ping through the broker, the executor on its socket, beat reaches the broker. The shell
# form (CMD-SHELL) because podman's Docker API splits the words of an exec form's arguments anew.
# hadolint ignore=DL3025
HEALTHCHECK --interval=10s --timeout=10s --start-period=30s --retries=3 CMD lambent-healthcheck

ENTRYPOINT ["tini", "--", "lambent"]
CMD ["api"]

ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=NOASSERTION
LABEL org.opencontainers.image.title="Lambent" \
      org.opencontainers.image.description="Lambent's control plane: the api, worker, beat, executor and migrate processes" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.revision="$REVISION" \
      org.opencontainers.image.source="$SOURCE" \
      org.opencontainers.image.licenses="NOASSERTION" \
      org.opencontainers.image.base.name="docker.io/library/debian:12.15-slim"
