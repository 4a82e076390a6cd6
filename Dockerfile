# The training image: locked dependencies exported from poetry.lock and installed with
# hashes, so Poetry stays out of the runtime stage. `ARG BASE_IMAGE` lets an offline build use
# a local Debian bookworm image that has Python 3.11.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS builder
ARG POETRY_VERSION=2.5.1
ARG POETRY_EXPORT_VERSION=1.10.1
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /build
RUN python3 -m venv /opt/poetry \
    && /opt/poetry/bin/pip install "poetry==${POETRY_VERSION}" "poetry-plugin-export==${POETRY_EXPORT_VERSION}"
COPY pyproject.toml poetry.lock README.md ./
RUN /opt/poetry/bin/poetry export --only main --format requirements.txt --output requirements.txt \
    && python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --require-hashes --no-deps -r requirements.txt
COPY src ./src
RUN /opt/venv/bin/pip install --no-deps .

FROM ${BASE_IMAGE}
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 MPLBACKEND=Agg
RUN useradd --create-home --uid 1000 trainer
COPY --from=builder /opt/venv /opt/venv
USER trainer
WORKDIR /home/trainer
CMD ["tracking-demo", "--help"]
