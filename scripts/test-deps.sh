#!/usr/bin/env bash
# Installs what the tests need and is not Go: headless Chromium and
# Firefox ESR, from Debian's packages. As root it installs what is missing;
# otherwise it names what is missing and fails, so a browser test is never
# skipped in silence.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v firefox-esr >/dev/null 2>&1 || need+=(firefox-esr)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: installing ${need[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  exit 0
fi

echo "test-deps: missing ${need[*]}." >&2
echo "  Install them (Debian/Ubuntu: sudo apt-get install ${need[*]}), or run 'make test' as root." >&2
exit 1
