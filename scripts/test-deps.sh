#!/usr/bin/env bash
# Installs what the tests need and is not part of the module: headless
# Chromium and Firefox ESR, a font for Chinese text, redis-server, and nginx and curl (the load
# balancer and the probe of scripts/cluster.sh and its test), from Debian's
# packages, and the S3 server versitygw, built with `go install`. As root
# it installs what is missing; otherwise it names what is missing and
# fails, so a browser or backend test is never skipped in silence.
# versitygw needs no root: it goes where `go install` puts it,
# $(go env GOPATH)/bin, which is also where internal/testservers and
# scripts/cluster.sh look for it when it is not on PATH.
set -euo pipefail

VERSITYGW=github.com/versity/versitygw/cmd/versitygw@v1.8.0

apt_need=()
command -v chromium >/dev/null 2>&1 || apt_need+=(chromium)
command -v firefox-esr >/dev/null 2>&1 || apt_need+=(firefox-esr)
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || apt_need+=(redis-server)
# nginx lives in /usr/sbin, which a non-root PATH often lacks.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || apt_need+=(nginx)
# The Chinese pages' screenshots need a font with Han characters.
{ command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh 2>/dev/null | head -1)" ]; } || apt_need+=(fonts-noto-cjk)
# scripts/cluster.sh probes its pieces and creates its S3 bucket with curl.
command -v curl >/dev/null 2>&1 || apt_need+=(curl)

if ! command -v go >/dev/null 2>&1; then
  echo "test-deps: go is not on PATH (needed for the tests and to install versitygw)." >&2
  exit 1
fi
# The first GOPATH entry is where go install writes (unless GOBIN is set,
# which is overridden below so that the binary lands in one known place).
gobin="$(go env GOPATH)"
gobin="${gobin%%:*}/bin"
vgw_need=
command -v versitygw >/dev/null 2>&1 || [ -x "$gobin/versitygw" ] || vgw_need=1

[ ${#apt_need[@]} -eq 0 ] && [ -z "$vgw_need" ] && exit 0

as_root=
[ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 && as_root=1

if [ ${#apt_need[@]} -gt 0 ] && [ -z "$as_root" ]; then
  missing=("${apt_need[@]}")
  [ -n "$vgw_need" ] && missing+=(versitygw)
  echo "test-deps: missing ${missing[*]}." >&2
  echo "  Install them (Debian/Ubuntu: sudo apt-get install ${apt_need[*]}), or run 'make test' as root." >&2
  [ -n "$vgw_need" ] && echo "  versitygw: GOFLAGS=-mod=mod GOBIN=$gobin go install $VERSITYGW" >&2
  [[ " ${apt_need[*]} " == *" nginx "* ]] &&
    echo "  nginx: nothing here uses a system nginx; 'sudo systemctl disable --now nginx' frees port 80 again." >&2
  exit 1
fi

# versitygw compiles for minutes on a small machine (and needs no root), so
# it builds in the background while apt-get downloads and unpacks.
vgw_pid=
vgw_log=
if [ -n "$vgw_need" ]; then
  echo "test-deps: installing versitygw into $gobin (go install; minutes the first time)"
  vgw_log="$(mktemp)"
  GOFLAGS=-mod=mod GOBIN="$gobin" go install "$VERSITYGW" >"$vgw_log" 2>&1 &
  vgw_pid=$!
fi

# Debian's packages start their service when installed: nginx would hold
# port 80 with the default site, and redis-server port 6379, for good. The
# tests and scripts/cluster.sh start private servers of their own on free
# loopback ports and need neither, so no service may start: a policy-rc.d
# that answers 101 ("action forbidden") makes invoke-rc.d, and so the
# packages' postinst scripts, leave it alone. One that is already there
# (a Docker image has one) is the machine's own and stays as it is; ours
# is removed when the script ends.
policy_rc=/usr/sbin/policy-rc.d
own_policy=
cleanup() {
  # If apt-get fails, set -e ends the script: take the build down with it.
  [ -n "$vgw_pid" ] && kill "$vgw_pid" 2>/dev/null
  [ -n "$vgw_log" ] && rm -f "$vgw_log"
  [ -n "$own_policy" ] && rm -f "$policy_rc"
  return 0
}
trap cleanup EXIT

if [ ${#apt_need[@]} -gt 0 ]; then
  echo "test-deps: installing ${apt_need[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  if [ ! -e "$policy_rc" ]; then
    own_policy=1
    printf '#!/bin/sh\n# written by qrsync scripts/test-deps.sh while it installs; removed after\nexit 101\n' >"$policy_rc"
    chmod 755 "$policy_rc"
  fi
  # Try the package lists already on the machine first; refresh them (once)
  # only when they are missing or stale.
  if ! apt-get install -y -qq --no-install-recommends "${apt_need[@]}" >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${apt_need[@]}" >/dev/null
  fi
  if [[ " ${apt_need[*]} " == *" nginx "* ]]; then
    # A machine's own policy-rc.d may allow starts, and systemd enables a
    # unit for every boot whatever policy-rc.d says: stop and disable the
    # system nginx that the package may have started, so that port 80 is
    # free now and after a reboot. Nothing here needs it.
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
      systemctl disable --now nginx.service >/dev/null 2>&1 || true
    elif [ -s /run/nginx.pid ]; then
      /usr/sbin/nginx -s quit >/dev/null 2>&1 || true
    fi
  fi
fi

if [ -n "$vgw_pid" ]; then
  pid=$vgw_pid
  vgw_pid=
  if ! wait "$pid"; then
    echo "test-deps: go install $VERSITYGW failed:" >&2
    cat "$vgw_log" >&2
    exit 1
  fi
fi
