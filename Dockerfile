# syntax=docker/dockerfile:1
#
# One image for every Ketenpas process; the command chooses which (docs/deployment.md):
#   ketenpas serve identity | serve release | serve web | db upgrade | webhooks run
#
# Two stages: `build` installs uv by hash (tools/uv.txt) and the locked runtime packages
# (uv.lock, no dev extra, no build group) into /opt/ketenpas; `runtime` copies that
# environment onto a clean slim base, with no compiler, no package cache and no uv. It runs
# as an unprivileged user and writes nothing outside /tmp (and /app/var, when mounted), so a
# read-only root filesystem works. tests/deploy/test_dockerfile.py checks this file.
ARG PYTHON_IMAGE=python:3.11-slim-trixie

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/ketenpas \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1
WORKDIR /src
# uv itself, by hash, exactly as `make setup` installs it.
COPY tools/uv.txt tools/uv.txt
RUN python -m venv /opt/uv \
    && /opt/uv/bin/pip install --require-hashes --only-binary :all: -r tools/uv.txt
# The locked packages first (a layer that changes only with the lock), with the build group
# (setuptools) that builds the project itself without isolation...
COPY pyproject.toml uv.lock ./
RUN /opt/uv/bin/uv sync --locked --no-install-project --python /usr/local/bin/python3.11
# ...then the project, not editable, and the build group removed again.
COPY services services
COPY shared shared
RUN /opt/uv/bin/uv sync --locked --no-editable --no-default-groups \
    && /opt/ketenpas/bin/ketenpas --help >/dev/null

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="ketenpas" \
      org.opencontainers.image.description="Container release through a chain of signed handovers" \
      org.opencontainers.image.licenses="Proprietary"
# tini forwards SIGTERM to the process and reaps children: `ketenpas webhooks run` as PID 1
# would otherwise ignore the SIGTERM Kubernetes stops it with and wait to be killed. Its
# version is not pinned (DL3008): Debian's archive serves only a release's current version,
# so a pin breaks the build at the next security update; the base image's digest pins the
# Debian release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 ketenpas \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin ketenpas \
    && mkdir -p /app/var \
    && chown ketenpas:ketenpas /app/var
COPY --from=build /opt/ketenpas /opt/ketenpas
COPY deploy/docker/healthcheck.py /opt/ketenpas-healthcheck.py
ENV PATH=/opt/ketenpas/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# The services resolve `var/` (embedded SQLite, the demo's credentials) against this
# directory. /app/var belongs to the service's user, so that a volume mounted there starts
# writable for it (docker-compose.yml); with a read-only root filesystem and no volume,
# nothing in the image is writable but /tmp (where one is mounted).
WORKDIR /app
USER 10001:10001
EXPOSE 8000 8001 8002
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/opt/ketenpas-healthcheck.py"]
ENTRYPOINT ["tini", "--", "ketenpas"]
CMD ["--help"]
