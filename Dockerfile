# syntax=docker/dockerfile:1
# One image for every Switchboard service; the command picks the service:
#   python -m services.ingestor | services.classifier | services.router | services.notifier
#   python -m tools.cli migrate   (database migrations, a one-shot job)
#   python -m shared.broker       (create the registry's topics, with KAFKA_BOOTSTRAP_SERVERS set)
# Configuration comes from the environment only (shared/settings.py).

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: a virtualenv with the locked dependencies (wheels only) and the project ---------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv

WORKDIR /src

# Dependencies first: this layer is rebuilt only when the lock or the declared dependencies
# change. Only the runtime dependencies of pyproject.toml (never the test extra: pytest,
# hadolint, kubernetes-validate … stay out, ~190 MB), at the versions requirements.lock pins,
# as binary wheels only, so no compiler is needed here and none can reach the final image.
COPY requirements.lock pyproject.toml ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
        > /tmp/runtime-requirements.txt \
    && pip install --no-cache-dir --only-binary=:all: -c requirements.lock -r /tmp/runtime-requirements.txt

# Then the project itself, installed as a regular (non-editable) package.
COPY shared ./shared
COPY services ./services
COPY tools ./tools
RUN pip install --no-cache-dir --no-deps . \
    && pip check

# --- runtime: the virtualenv on a clean slim image, run as an unprivileged user -------------
FROM ${PYTHON_IMAGE}

# MALLOC_ARENA_MAX=2: glibc's per-thread heaps held ~60 MB more in the classifier (worker thread,
# consumer and HTTP threads); two arenas keep it under its 600 MB budget at the same throughput
ENV PATH=/opt/venv/bin:$PATH \
    MALLOC_ARENA_MAX=2 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SWITCHBOARD_ENV=production

RUN groupadd --system --gid 10001 switchboard \
    && useradd --system --uid 10001 --gid switchboard --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin switchboard

COPY --from=builder /opt/venv /opt/venv
COPY deploy/docker/healthcheck.py /opt/switchboard/healthcheck.py

# Configuration files at the paths Kubernetes mounts its ConfigMaps over (deploy/k8s/base,
# config-files.yaml): the image runs on the repository's defaults, a cluster on its own.
COPY services/classifier/rules/ /etc/switchboard/classifier/rules/
COPY services/classifier/authors/ /etc/switchboard/classifier/authors/
COPY config/routing.yaml /etc/switchboard/routing/
COPY config/calendar.yaml /etc/switchboard/calendar/
COPY config/oncall.yaml /etc/switchboard/oncall/
ENV CLASSIFIER_RULES_DIR=/etc/switchboard/classifier/rules \
    CLASSIFIER_AUTHORS_DIR=/etc/switchboard/classifier/authors \
    ROUTER_ROUTING_FILE=/etc/switchboard/routing/routing.yaml \
    ROUTER_CALENDAR_FILE=/etc/switchboard/calendar/calendar.yaml \
    NOTIFIER_CALENDAR_FILE=/etc/switchboard/calendar/calendar.yaml \
    NOTIFIER_ONCALL_FILE=/etc/switchboard/oncall/oncall.yaml

# Nothing is written to the image at run time: it runs with a read-only root filesystem
# (PostgreSQL via DATABASE_URL, /tmp as the only scratch space).
WORKDIR /opt/switchboard
USER 10001:10001

EXPOSE 8001 8002 8003 8004

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/opt/switchboard/healthcheck.py"]

CMD ["python", "-m", "services.ingestor"]
