#!/usr/bin/env bash
# Debian roots for test/integration/glibc-versions.test.ts: bullseye (glibc 2.31) and trixie (2.41),
# each with its own python3, made by debootstrap into $HEAPGAP_CHROOTS (default
# /var/tmp/heapgap-chroots). Needs root and Debian's debootstrap package; a root already made is
# kept. About 2-3 minutes and 150 MB each. .ci/run runs it before the tests.
set -euo pipefail
dest=${HEAPGAP_CHROOTS:-/var/tmp/heapgap-chroots}
mirror=${HEAPGAP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
command -v debootstrap >/dev/null || { echo "make-chroots: debootstrap is missing (apt-get install debootstrap)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "make-chroots: debootstrap needs root" >&2; exit 2; }
mkdir -p "$dest"
for rel in bullseye trixie; do
  if [ -x "$dest/$rel/usr/bin/python3" ]; then continue; fi
  echo "make-chroots: debootstrap $rel into $dest/$rel" >&2
  rm -rf "$dest/$rel.part"
  debootstrap --variant=minbase --include=python3 "$rel" "$dest/$rel.part" "$mirror" >"$dest/$rel.log" 2>&1 \
    || { echo "make-chroots: debootstrap $rel failed; see $dest/$rel.log" >&2; exit 1; }
  mv "$dest/$rel.part" "$dest/$rel"
done
