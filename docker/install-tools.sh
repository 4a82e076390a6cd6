#!/usr/bin/env bash
# What the image test needs beyond Python: buildah (daemonless build) and debootstrap (the
# local bookworm base). scripts/test.sh calls this, so the README's test command sets up a
# fresh Debian/Ubuntu machine by itself, as CI's does (.ci/run runs as root on bookworm).
# It installs only what is missing, only as root and only with apt-get; anywhere else it
# prints one line and leaves the image test to fail with its own message. It never fails
# the caller: the rest of the suite runs either way.
#
#   bash docker/install-tools.sh   # as root: apt-get install buildah debootstrap when missing
set -uo pipefail

missing=()
for tool in buildah debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] && exit 0

hint="as root on Debian/Ubuntu: apt-get install buildah debootstrap; or deselect it with -m 'not image'"
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-tools: ${missing[*]} missing, so the image test will fail ($hint)" >&2
  exit 0
fi

# debian-archive-keyring lets Ubuntu's debootstrap verify Debian's bookworm release too.
echo "install-tools: apt-get install buildah debootstrap (the image test builds the image)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq buildah debootstrap debian-archive-keyring; } \
  >/dev/null; then
  echo "install-tools: apt-get could not install ${missing[*]}, so the image test will fail ($hint)" >&2
fi
exit 0
