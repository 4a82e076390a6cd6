#!/usr/bin/env bash
# Build the training image without a Docker daemon: buildah with chroot isolation runs on
# machines and CI agents that cannot run dockerd (no daemon, no container runtime).
# By default it builds over the local bookworm base from docker/base-image.sh, so nothing is
# pulled from a container registry; only Python packages are downloaded (the locked ones hash-checked).
# The host CA bundle, when there is one, is mounted into the build's RUN steps so pip works
# behind a TLS-inspecting proxy; it is not copied into any layer.
#
#   bash docker/build.sh                                   # localhost/tracking-demo:dev
#   bash docker/build.sh --base python:3.11-slim-bookworm  # any base this machine can pull
#   bash docker/build.sh --check                           # then run a training job in it
#   bash docker/build.sh --gpu                             # localhost/tracking-demo:gpu
#
# --gpu builds the Dockerfile's GPU variant (VARIANT=gpu: TensorFlow's CUDA wheels, a few GB
# more); it runs on a machine with an NVIDIA driver and the NVIDIA container runtime.
# --check runs docker/check_job.py with the project's .venv (bash scripts/setup.sh first):
# it starts a local MLflow server, runs `tracking-demo train moons` inside the image with the
# environment Azure ML gives a job, and asserts the run through MlflowClient.
# Environment: CA_BUNDLE (default /etc/ssl/certs/ca-certificates.crt), STORAGE_DRIVER
# (buildah's own; falls back to vfs when overlay is refused), PYTHON (default .venv/bin/python).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tag=""
base=""
variant=cpu
check=0
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    --check) check=1; shift ;;
    --gpu) variant=gpu; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "build: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

if [ -z "$tag" ]; then
  if [ "$variant" = gpu ]; then tag=localhost/tracking-demo:gpu; else tag=localhost/tracking-demo:dev; fi
fi

export BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}
command -v buildah >/dev/null 2>&1 || {
  echo "build: 'buildah' is missing (Debian/Ubuntu: apt-get install buildah)" >&2
  exit 1
}
if [ -z "${STORAGE_DRIVER:-}" ] && ! buildah info >/dev/null 2>&1; then
  export STORAGE_DRIVER=vfs
fi
[ -n "$base" ] || base=$(bash "$root/docker/base-image.sh")

# --layers caches each step, so a rebuild after a source edit reuses the dependency layers;
# --force-rm removes a failed step's container too, so failed builds leave nothing behind.
args=(--layers --force-rm --file "$root/Dockerfile" --tag "$tag"
  --build-arg "BASE_IMAGE=$base" --build-arg "VARIANT=$variant")
ca_bundle=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
if [ -s "$ca_bundle" ]; then
  args+=(--volume "$ca_bundle:/etc/ssl/certs/ca-certificates.crt:ro")
fi

echo "build: $tag ($variant) from $base" >&2
start=$(date +%s)
buildah bud "${args[@]}" "$root"
seconds=$(( $(date +%s) - start ))
echo "build: $tag built in ${seconds}s; image size $(buildah images --format '{{.Size}}' "$tag" | head -n 1)" >&2

if [ "$check" -eq 1 ]; then
  python=${PYTHON:-$root/.venv/bin/python}
  [ -x "$python" ] || { echo "build: --check needs $python (run bash scripts/setup.sh)" >&2; exit 1; }
  # PYTHONPATH: the check shares the job contract's run checks with `jobs.submit --local`.
  PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" \
    "$python" "$root/docker/check_job.py" --image "$tag" --runner "$root/docker/run.sh"
fi
