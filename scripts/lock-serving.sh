#!/usr/bin/env bash
# Re-resolve the scoring container's lock, serving/requirements.lock (see jobs/serving_lock.py).
# Run it after `poetry lock` changes a pin the models load; the test command fails until then.
#
# uv resolves for the container's platform (CPython 3.11, Linux x86_64, glibc 2.28+), whatever
# this machine is, and writes every package with its hashes for `pip install --require-hashes`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
[ -x .venv/bin/uv ] || bash scripts/setup.sh
.venv/bin/python -m jobs.serving_lock . > serving/requirements.in
.venv/bin/uv pip compile serving/requirements.in \
  --generate-hashes \
  --python-version 3.11 \
  --python-platform x86_64-manylinux_2_28 \
  --no-annotate \
  --custom-compile-command "bash scripts/lock-serving.sh" \
  --quiet \
  --output-file serving/requirements.lock
echo "lock-serving: serving/requirements.lock has $(grep -c '==' serving/requirements.lock) packages"
