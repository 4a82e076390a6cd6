#!/usr/bin/env bash
# One-step set-up on a fresh machine that has only Python 3.11 and pip.
#
# Installs Poetry (with poetry-plugin-export) into .tools/poetry, exports the locked
# dependencies with their hashes and installs them into .venv with
# `pip install --require-hashes`, then the package itself with --no-deps. Exporting instead
# of `poetry install` works on any network, including indexes that serve only the simple API.
# Re-running is cheap: the install is skipped while poetry.lock and pyproject.toml are unchanged.
#
#   bash scripts/setup.sh            # runtime + Azure SDK v2 + dev dependencies (tests, lint)
#   SETUP_GROUPS=main bash scripts/setup.sh   # runtime dependencies only
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null 2>&1 || python=python3
"$python" - <<'PY' || { echo "setup: Python 3.11 is required (found $("$python" --version 2>&1))" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)
PY

poetry_version=2.5.1
export_plugin_version=1.10.1
groups=${SETUP_GROUPS:-main,azure,dev}
tools=.tools/poetry
venv=.venv

if [ ! -x "$tools/bin/poetry" ] || ! "$tools/bin/poetry" --version 2>/dev/null | grep -q "$poetry_version"; then
  echo "setup: installing Poetry $poetry_version into $tools"
  "$python" -m venv "$tools"
  "$tools/bin/python" -m pip install --quiet --upgrade pip
  "$tools/bin/python" -m pip install --quiet "poetry==$poetry_version" "poetry-plugin-export==$export_plugin_version"
fi

stamp="$venv/.setup-stamp"
want=$(cat poetry.lock pyproject.toml | sha256sum | cut -d' ' -f1)-$groups
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "setup: $venv is up to date with poetry.lock"
  exit 0
fi

"$tools/bin/poetry" check --lock
requirements=$(mktemp)
trap 'rm -f "$requirements"' EXIT
"$tools/bin/poetry" export --format requirements.txt --only "$groups" --output "$requirements"

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
echo "setup: installing locked dependencies into $venv (groups: $groups)"
"$venv/bin/python" -m pip install --quiet --require-hashes --no-deps -r "$requirements"
"$venv/bin/python" -m pip install --quiet --no-deps -e .
echo "$want" > "$stamp"
echo "setup: done ($("$venv/bin/tracking-demo" --version 2>/dev/null || echo 'tracking-demo installed'))"
