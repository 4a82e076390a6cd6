#!/usr/bin/env bash
# Run one command in a built image without a Docker daemon, as a job would: host network
# (so a tracking server on the host loopback is reachable), the image's own user and working
# directory, and a throw-away container removed afterwards.
#
#   bash docker/run.sh IMAGE [buildah run options] -- COMMAND [ARGS...]
#   bash docker/run.sh localhost/tracking-demo:dev -- tracking-demo --version
#   bash docker/run.sh localhost/tracking-demo:dev -v "$PWD/data/moons:/data/moons:ro" \
#       -e MLFLOW_TRACKING_URI=http://127.0.0.1:5000 -- tracking-demo train moons --data /data/moons
set -euo pipefail

[ $# -ge 3 ] || { sed -n '6,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
image=$1
shift
options=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  options+=("$1")
  shift
done
[ "${1:-}" = "--" ] || { echo "run: put '--' before the command" >&2; exit 2; }
shift

export BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}
if [ -z "${STORAGE_DRIVER:-}" ] && ! buildah info >/dev/null 2>&1; then
  export STORAGE_DRIVER=vfs
fi
container=$(buildah from --quiet --pull-never "$image")
trap 'buildah rm "$container" >/dev/null' EXIT
buildah run --network host "${options[@]}" "$container" -- "$@"
