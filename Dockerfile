# The training image, built from poetry.lock. The builder stage exports the locked main
# dependencies and installs them with hashes into /opt/venv, then the package as a wheel, so
# Poetry never reaches the runtime stage. `ARG BASE_IMAGE` lets an offline build use the local
# Debian bookworm base made by docker/base-image.sh (any base with python3 + venv works).
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS builder
ARG POETRY_VERSION=2.5.1
ARG POETRY_EXPORT_VERSION=1.10.1
# pip trusts the OS bundle, so a build behind a TLS-inspecting proxy works with the host's
# bundle mounted over it (docker/build.sh does that); elsewhere it is Debian's usual bundle.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
WORKDIR /build
RUN python3 -m venv /opt/poetry \
    && /opt/poetry/bin/pip install "poetry==${POETRY_VERSION}" "poetry-plugin-export==${POETRY_EXPORT_VERSION}"
# Only pyproject.toml and the lock decide this large layer; README or source edits reuse it.
COPY pyproject.toml poetry.lock ./
RUN /opt/poetry/bin/poetry export --only main --format requirements.txt --output requirements.txt \
    && python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --require-hashes --no-deps -r requirements.txt
COPY README.md ./
COPY src ./src
# `poetry build` uses the poetry-core Poetry already has: no unpinned build backend download.
RUN /opt/poetry/bin/poetry build --format wheel \
    && /opt/venv/bin/pip install --no-deps dist/tracking_demo-*.whl

FROM ${BASE_IMAGE} AS runtime
# MPLCONFIGDIR in /tmp: matplotlib needs a writable cache dir even when a platform runs the
# container under another uid than the image's user (Azure ML's derived images run as root).
# The image has no git: GIT_PYTHON_REFRESH=quiet stops MLflow's git lookup warning per run.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/tmp/matplotlib \
    GIT_PYTHON_REFRESH=quiet
RUN useradd --create-home --uid 1000 --user-group trainer
COPY --from=builder /opt/venv /opt/venv
USER 1000:1000
WORKDIR /home/trainer
CMD ["tracking-demo", "--help"]
