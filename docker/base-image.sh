#!/usr/bin/env bash
# A Debian bookworm base image with Python 3.11, made locally for offline builds.
#
# Machines that reach Debian's packages but no container registry cannot pull the official
# python image, so this builds an equivalent base with debootstrap (python3, python3-venv for
# the builder stage's virtualenvs, ca-certificates) and commits it into buildah's local
# storage. Idempotent: an existing image is kept, and the root file system tarball is cached,
# so a wiped image store re-imports in seconds instead of re-downloading.
#
#   sudo bash docker/base-image.sh            # prints the image name when it is ready
#   sudo bash docker/base-image.sh --rebuild  # new root file system and image
#
# Environment: BASE_IMAGE_NAME (default localhost/tracking-demo-base:bookworm-py311),
# DEBIAN_MIRROR (default: debootstrap's own), TRACKING_DEMO_CACHE (default ~/.cache/tracking-demo).
set -euo pipefail

name=${BASE_IMAGE_NAME:-localhost/tracking-demo-base:bookworm-py311}
cache=${TRACKING_DEMO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tracking-demo}
rootfs_tar=$cache/bookworm-py311-rootfs.tar
rebuild=0
case "${1:-}" in
  --rebuild) rebuild=1 ;;
  "") ;;
  *) echo "usage: $0 [--rebuild]" >&2; exit 2 ;;
esac

export BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}
for tool in buildah debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "base-image: '$tool' is missing (Debian/Ubuntu: apt-get install buildah debootstrap)" >&2
    exit 1
  }
done
[ "$(id -u)" -eq 0 ] || { echo "base-image: debootstrap needs root" >&2; exit 1; }

if [ "$rebuild" -eq 0 ] && buildah inspect --type image "$name" >/dev/null 2>&1; then
  echo "$name"
  exit 0
fi

if [ "$rebuild" -eq 1 ] || [ ! -s "$rootfs_tar" ]; then
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  echo "base-image: debootstrap bookworm into $work/rootfs (a few minutes)" >&2
  started=$(date +%s)
  # minbase: dpkg, apt and the required set only; the image needs no init system or docs.
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$work/rootfs" ${DEBIAN_MIRROR:+"$DEBIAN_MIRROR"} >&2
  chroot "$work/rootfs" apt-get clean
  rm -rf "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/var/log/* "$work"/rootfs/tmp/*
  chroot "$work/rootfs" python3 -c \
    'import ensurepip, sys, venv; assert sys.version_info[:2] == (3, 11), sys.version'
  tar --numeric-owner -C "$work/rootfs" -cf "$rootfs_tar.part" .
  mv "$rootfs_tar.part" "$rootfs_tar"
  echo "base-image: root file system made in $(( $(date +%s) - started ))s, cached in $rootfs_tar" >&2
fi

container=$(buildah from scratch)
buildah add --quiet "$container" "$rootfs_tar" / >/dev/null
buildah config --env LANG=C.UTF-8 --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --cmd python3 --label org.opencontainers.image.description="Debian bookworm, Python 3.11" \
  "$container"
buildah commit --quiet --rm "$container" "$name" >/dev/null
echo "$name"
