# The training image, built from poetry.lock. The builder stage exports the locked main
# dependencies and installs them with hashes into /opt/venv, then the package as a wheel, so
# Poetry never reaches the runtime stage. `ARG BASE_IMAGE` lets an offline build use the local
# Debian bookworm base made by docker/base-image.sh (any base with python3 + venv works).
#
# `--build-arg VARIANT=gpu` builds the GPU image from this same file: the lock's `gpu` extra
# adds TensorFlow's CUDA extra, whose NVIDIA wheels (nvidia-cuda-runtime-cu12, cuDNN, cuBLAS,
# NCCL...) are the CUDA runtime, pinned and hash-checked by the lock like every other package.
# The base stays Python 3.11 slim on purpose: nvidia/cuda runtime images ship Ubuntu's Python
# (3.10 on 22.04, 3.12 on 24.04), so 3.11 would need a PPA or a source build, and their CUDA
# libraries would duplicate the wheels' (gigabytes) at versions TensorFlow was not built
# against. Only the driver comes from the host; the NVIDIA_* variables below ask the NVIDIA
# container runtime to mount it, as nvidia/cuda images do. Any other base with Python 3.11
# works through BASE_IMAGE.
ARG BASE_IMAGE=python:3.11-slim-bookworm
ARG VARIANT=cpu

FROM ${BASE_IMAGE} AS builder
ARG VARIANT
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
# Only pyproject.toml, the lock and VARIANT decide the large layers below; README or source
# edits reuse them. An unknown VARIANT stops here rather than silently building the CPU image.
COPY pyproject.toml poetry.lock ./
RUN case "${VARIANT}" in cpu) extras="" ;; gpu) extras="gpu" ;; \
      *) echo "VARIANT must be cpu or gpu, not '${VARIANT}'" >&2; exit 1 ;; esac \
    && /opt/poetry/bin/poetry export --only main ${extras:+--extras "$extras"} --format requirements.txt --output requirements.txt
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --require-hashes --no-deps -r requirements.txt
COPY README.md ./
COPY src ./src
# `poetry build` uses the poetry-core Poetry already has: no unpinned build backend download.
RUN /opt/poetry/bin/poetry build --format wheel \
    && /opt/venv/bin/pip install --no-deps dist/tracking_demo-*.whl

FROM ${BASE_IMAGE} AS runtime-cpu
# MPLCONFIGDIR in /tmp: matplotlib needs a writable cache dir even when a platform runs the
# container under another uid than the image's user (Azure ML's derived images run as root).
# The image has no git: GIT_PYTHON_REFRESH=quiet stops MLflow's git lookup warning per run.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/tmp/matplotlib \
    GIT_PYTHON_REFRESH=quiet
RUN useradd --create-home --uid 1000 --user-group trainer
COPY docker/job-entrypoint.sh /usr/local/bin/job-entrypoint
COPY --from=builder /opt/venv /opt/venv
USER 1000:1000
WORKDIR /home/trainer
# `docker run IMAGE train moons --data /data` runs tracking-demo; any other command (Azure ML's
# own job command, bash, python) runs unchanged, so the entrypoint is harmless where a platform
# keeps it and irrelevant where it overrides it.
ENTRYPOINT ["/usr/local/bin/job-entrypoint"]
CMD ["--help"]

FROM runtime-cpu AS runtime-gpu
ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility

# DL3006 (untagged image) misreads this: runtime-cpu and runtime-gpu are stages of this file,
# picked by VARIANT, not images from a registry.
# hadolint ignore=DL3006
FROM runtime-${VARIANT} AS runtime
ARG VARIANT
LABEL org.opencontainers.image.title="tracking-demo" \
      io.github.tracking-demo.variant="${VARIANT}"
