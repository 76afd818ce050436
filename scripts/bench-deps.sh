#!/usr/bin/env bash
# Installs what the benchmarks' references need: libvips' vipsthumbnail,
# against which the thumbnail's CPU is measured in the same run. As root
# it installs what is missing (Debian's libvips-tools); otherwise it names
# it and fails, so a benchmark never runs without its reference.
set -euo pipefail

need=()
command -v vipsthumbnail >/dev/null 2>&1 || need+=(libvips-tools)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "bench-deps: missing ${need[*]}." >&2
  echo "  Install it (Debian/Ubuntu: sudo apt-get install ${need[*]}), or run 'make bench' as root." >&2
  exit 1
fi
echo "bench-deps: installing ${need[*]}"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null ||
  { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; }
