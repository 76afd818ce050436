#!/usr/bin/env bash
# Runs a qrsync cluster on this machine, everything on 127.0.0.1: a
# redis-server (the shared catalog, event log and upload news), versitygw
# (the shared S3 blob store, posix backend), two qrsync instances on both,
# and nginx in front of them as the load balancer. It prints the address of
# the PC page (nginx), then waits; Ctrl-C or SIGTERM stops everything it
# started. docs/scale-out.md explains each piece and each nginx setting.
#
# Environment:
#   CLUSTER_DIR   where every piece keeps its data, config and log
#                 (default: a new temp dir, removed on exit; a dir given
#                 here is kept, and a second run on it finds its sessions
#                 and photos again)
#   CLUSTER_PORT  nginx's port (default 8080 if free, else a free one)
#   QRSYNC_BIN    the qrsync binary to run (default: built into CLUSTER_DIR
#                 from ./cmd/qrsync, which needs the page's wasm built
#                 first: `make wasm`; `make cluster` does both)
#   CLUSTER_WAIT  seconds each piece gets to answer (default 30)
# Any QRSYNC_<FLAG> variable reaches both instances as that flag (e.g.
# QRSYNC_MAX_FILE_SIZE=100MiB), except the ones this script sets.
#
# The other ports are chosen free. Once everything answers, it prints for
# people, and on stdout for programs:
#   cluster: url=http://127.0.0.1:PORT
#   cluster: a=http://127.0.0.1:PA b=http://127.0.0.1:PB redis=redis://127.0.0.1:PR/0 s3=http://127.0.0.1:PS bucket=qrsync dir=DIR
#   cluster: pids nginx=N a=N b=N redis=N s3=N
# Progress and errors go to stderr.
set -euo pipefail

say() { printf 'cluster.sh: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

if ((BASH_VERSINFO[0] < 5 || (BASH_VERSINFO[0] == 5 && BASH_VERSINFO[1] < 1))); then
  die "needs bash 5.1 or later (wait -n -p); this is $BASH_VERSION"
fi

# abspath PATH: PATH made absolute against the caller's directory, which
# the script leaves next.
abspath() {
  case $1 in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "$PWD/$1" ;;
  esac
}
qrsync_bin=
[ -n "${QRSYNC_BIN:-}" ] && qrsync_bin=$(abspath "$QRSYNC_BIN")
given_dir=
[ -n "${CLUSTER_DIR:-}" ] && given_dir=$(abspath "$CLUSTER_DIR")
wait_secs=${CLUSTER_WAIT:-30}
[[ $wait_secs =~ ^[1-9][0-9]*$ ]] || die "CLUSTER_WAIT=$wait_secs: want a whole number of seconds"

here=${BASH_SOURCE[0]%/*}
[ "$here" = "${BASH_SOURCE[0]}" ] && here=.
cd "$here/.."

# find_bin NAME [PATH...]: the binary on PATH, or at the first PATH that is
# executable (/usr/sbin, for one, is often not on a non-root PATH).
find_bin() {
  local name=$1 p
  shift
  if p=$(command -v "$name" 2>/dev/null); then
    printf '%s\n' "$p"
    return 0
  fi
  for p in "$@"; do
    if [ -x "$p" ]; then
      printf '%s\n' "$p"
      return 0
    fi
  done
  return 1
}

missing=()
gobin=
if command -v go >/dev/null 2>&1; then
  gobin=$(go env GOPATH)
  gobin="${gobin%%:*}/bin"
fi
redis_bin=$(find_bin redis-server /usr/bin/redis-server) || missing+=(redis-server)
vgw_bin=$(find_bin versitygw ${gobin:+"$gobin/versitygw"}) || missing+=(versitygw)
nginx_bin=$(find_bin nginx /usr/sbin/nginx) || missing+=(nginx)
command -v curl >/dev/null 2>&1 || missing+=(curl)
redis_cli=$(find_bin redis-cli /usr/bin/redis-cli) || redis_cli=
if [ ${#missing[@]} -gt 0 ]; then
  say "missing ${missing[*]}."
  say "  ./scripts/test-deps.sh installs them (run it as root; otherwise it names the packages):"
  say "  redis-server, nginx and curl from Debian's packages, versitygw with go install."
fi
if [ -z "$gobin" ] && [ -z "$qrsync_bin" ]; then
  say "go is not on PATH: it builds qrsync (or give a binary as QRSYNC_BIN)."
  missing+=(go)
fi
[ ${#missing[@]} -eq 0 ] || exit 1
# curl signs the CreateBucket request itself (--aws-sigv4, curl 7.75+).
# (Help texts are read whole, not piped into grep -q: an early exit of
# grep would fail the pipe under pipefail.)
curl_help=$(curl --help all 2>/dev/null || true)
[[ $curl_help == *--aws-sigv4* ]] ||
  die "$(curl --version | sed -n 1p) cannot sign S3 requests (--aws-sigv4 needs curl 7.75 or later)"
if [ -n "$qrsync_bin" ] && [ ! -x "$qrsync_bin" ]; then
  die "QRSYNC_BIN=$QRSYNC_BIN is not an executable file"
fi
if [ -z "$qrsync_bin" ] && { [ ! -s web/static/app.wasm ] || [ ! -s web/static/wasm_exec.js ]; }; then
  die "the PC page's wasm is not built (web/static/app.wasm): run 'make wasm' first, or 'make cluster'"
fi

# --- The directory, and stopping everything on the way out -------------

if [ -n "$given_dir" ]; then
  dir=$given_dir
  mkdir -p "$dir"
else
  dir=$(mktemp -d "${TMPDIR:-/tmp}/qrsync-cluster.XXXXXX")
fi
mkdir -p "$dir/logs"

# Pieces by name: their pid and port (the log is logs/NAME.log). order is
# the start order.
declare -A pid_of=() port_of=()
order=()
starting_pid= # a piece being started, not yet in pid_of

log_of() { printf '%s\n' "$dir/logs/$1.log"; }

# tail_log NAME: the end of a piece's log, for an error message.
tail_log() {
  local log
  log=$(log_of "$1")
  printf '%s\n' "--- $log (last 30 lines) ---" >&2
  tail -n 30 "$log" >&2 2>/dev/null || true
  printf '%s\n' "---" >&2
}

# children PID: the processes PID forked (nginx's workers).
children() { cat /proc/"$1"/task/*/children 2>/dev/null || true; }

# alive PID: the process runs (a zombie does not count: with no init to
# reap it, an orphan's zombie can linger).
alive() {
  local stat
  stat=$(cat /proc/"$1"/stat 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# stop_pids SECONDS PID...: SIGTERM to each, SIGKILL to what is left after
# SECONDS, and reap them. One killed takes its children along: nginx's
# workers would outlive a master killed with SIGKILL.
stop_pids() {
  local secs=$1 pid kid left i
  shift
  for pid in "$@"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for ((i = 0; i < secs * 10; i++)); do
    left=
    for pid in "$@"; do
      alive "$pid" && left=1
    done
    [ -z "$left" ] && break
    sleep 0.1
  done
  for pid in "$@"; do
    if alive "$pid"; then
      say "pid $pid ignored SIGTERM for ${secs}s: killing it"
      for kid in $(children "$pid"); do
        kill -KILL "$kid" 2>/dev/null || true
      done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for pid in "$@"; do
    wait "$pid" 2>/dev/null || true
  done
}

# stop_named SECONDS NAME...: stops those pieces that run, together.
stop_named() {
  local secs=$1 name pids=()
  shift
  for name in "$@"; do
    [ -n "${pid_of[$name]:-}" ] && pids+=("${pid_of[$name]}")
    unset "pid_of[$name]"
  done
  [ ${#pids[@]} -eq 0 ] || stop_pids "$secs" "${pids[@]}"
}

cleanup() {
  local rc=$?
  trap '' INT TERM HUP
  trap - EXIT
  [ -n "$starting_pid" ] && stop_pids 5 "$starting_pid"
  # The balancer first, so that no new request arrives; then the
  # instances, which end their streams and finish what they can while
  # Redis and S3 still answer; then those two.
  stop_named 5 nginx
  stop_named 15 a b
  stop_named 5 s3 redis
  if [ -z "$given_dir" ]; then
    rm -rf "$dir"
  else
    say "kept $dir (logs in $dir/logs)"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- Ports ---------------------------------------------------------------

taken=" "
# port_free PORT: nothing listens on it (on 127.0.0.1 or any address) and
# this script has not handed it out.
port_free() {
  [[ $taken == *" $1 "* ]] && return 1
  # A connection that is refused means nobody listens.
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 1; fi
  if command -v ss >/dev/null 2>&1 && [ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]; then
    return 1
  fi
  return 0
}
# free_port: sets REPLY to a free port below Linux's ephemeral range
# (32768 up), where outgoing connections take theirs.
free_port() {
  local p i
  for ((i = 0; i < 500; i++)); do
    p=$((20000 + RANDOM % 12000))
    if port_free "$p"; then
      taken+="$p "
      REPLY=$p
      return 0
    fi
  done
  die "no free loopback port found"
}

if [ -n "${CLUSTER_PORT:-}" ]; then
  if ! [[ $CLUSTER_PORT =~ ^[1-9][0-9]{0,4}$ ]] || ((CLUSTER_PORT > 65535)); then
    die "CLUSTER_PORT=$CLUSTER_PORT: want a port number"
  fi
  port_free "$CLUSTER_PORT" || die "CLUSTER_PORT=$CLUSTER_PORT: something already listens on 127.0.0.1:$CLUSTER_PORT"
  lb_port=$CLUSTER_PORT
elif port_free 8080; then
  lb_port=8080
else
  free_port
  lb_port=$REPLY
fi
taken+="$lb_port "
public_url="http://127.0.0.1:$lb_port"

# --- Starting a piece ----------------------------------------------------

# Children get SIGTERM from the kernel if this script dies without its
# traps (SIGKILL): nothing is left running even then.
launcher=()
setpriv_help=$(setpriv --help 2>/dev/null || true)
[[ $setpriv_help == *--pdeathsig* ]] && launcher=(setpriv --pdeathsig TERM --)

# wait_ready NAME PID PORT READY: polls READY PORT until it succeeds, PID
# exits, or CLUSTER_WAIT seconds pass.
wait_ready() {
  local name=$1 pid=$2 port=$3 ready=$4 deadline=$((SECONDS + wait_secs))
  while :; do
    if ! alive "$pid"; then
      local st=0
      wait "$pid" || st=$?
      say "$name exited before it answered (status $st)"
      return 1
    fi
    "$ready" "$port" && return 0
    if ((SECONDS >= deadline)); then
      say "$name did not answer on 127.0.0.1:$port within ${wait_secs}s"
      return 1
    fi
    sleep 0.1
  done
}

# start NAME PORT READY CMD...: runs CMD (every @PORT@ in it replaced by
# the port) with the variables of piece_env added, its output in
# logs/NAME.log, and waits until READY PORT succeeds. PORT empty: a free
# one, and another if the piece finds it taken meanwhile.
piece_env=()
start() {
  local name=$1 fixed=$2 ready=$3 log attempt port from pid
  shift 3
  log=$(log_of "$name")
  for attempt in 1 2 3 4 5; do
    if [ -n "$fixed" ]; then
      port=$fixed
    else
      free_port
      port=$REPLY
    fi
    local cmd=("${@//@PORT@/$port}")
    touch "$log"
    from=$(($(wc -c <"$log") + 1))
    printf '=== cluster.sh %s: %s\n' "$(date '+%F %T')" "${cmd[*]}" >>"$log"
    say "starting $name on 127.0.0.1:$port"
    (
      # Only what this piece is given: an inherited VGW_* setting must not
      # change the S3 server, nor a stray AWS_SESSION_TOKEN the instances'
      # credentials.
      # (A command substitution, not <(...): that would leave a child
      # behind for the piece to inherit.)
      # shellcheck disable=SC2046 # names are words
      unset ROOT_ACCESS_KEY ROOT_SECRET_KEY $(compgen -v VGW_ || true) $(compgen -v AWS_ || true)
      for kv in "${piece_env[@]}"; do export "${kv?}"; done
      exec "${launcher[@]}" "${cmd[@]}"
    ) >>"$log" 2>&1 </dev/null &
    pid=$!
    starting_pid=$pid
    if wait_ready "$name" "$pid" "$port" "$ready"; then
      starting_pid=
      pid_of[$name]=$pid
      port_of[$name]=$port
      order+=("$name")
      return 0
    fi
    stop_pids 5 "$pid"
    starting_pid=
    if [ -z "$fixed" ] && [ "$attempt" -lt 5 ] &&
      tail -c +"$from" "$log" | grep -qi 'address already in use'; then
      say "$name found 127.0.0.1:$port taken: trying another port"
      continue
    fi
    tail_log "$name"
    die "$name did not start"
  done
}

http_status() { curl -s --noproxy '*' -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true; }

redis_ready() {
  if [ -n "$redis_cli" ]; then
    [ "$("$redis_cli" -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]
    return
  fi
  # No redis-cli: PING in RESP by hand.
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    # shellcheck disable=SC2016 # $4 is RESP (a 4-byte string), not a variable
    printf '*1\r\n$4\r\nPING\r\n' >&3
    IFS= read -r -t 2 line <&3 || exit 1
    [ "${line%$'\r'}" = "+PONG" ]
  ) 2>/dev/null
}
# Anything that speaks HTTP will do: an unsigned request gets an S3 error.
s3_ready() { [ "$(http_status "http://127.0.0.1:$1/")" != 000 ]; }
# /readyz is 200 once the instance reaches Redis and S3.
qrsync_ready() { [ "$(http_status "http://127.0.0.1:$1/readyz")" = 200 ]; }

# --- Redis ---------------------------------------------------------------

# appendonly into the dir: a CLUSTER_DIR run again finds its sessions, as
# its photos are still in the S3 dir.
mkdir -p "$dir/redis"
piece_env=()
start redis "" redis_ready "$redis_bin" --port @PORT@ --bind 127.0.0.1 \
  --dir "$dir/redis" --save "" --appendonly yes --daemonize no --logfile ""
redis_url="redis://127.0.0.1:${port_of[redis]}/0"

# --- S3 (versitygw) ------------------------------------------------------

# The root account's keys, made once per dir and kept in it (mode 600):
# the bucket belongs to them. They reach the servers by environment, never
# by argv, which ps shows.
creds="$dir/s3.env"
if [ ! -s "$creds" ]; then
  (
    umask 077
    printf 'AWS_ACCESS_KEY_ID=QR%s\nAWS_SECRET_ACCESS_KEY=%s\n' \
      "$(od -An -N9 -tx1 /dev/urandom | tr -d ' \n')" \
      "$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')" >"$creds"
  )
fi
access_key=$(sed -n 's/^AWS_ACCESS_KEY_ID=//p' "$creds")
secret_key=$(sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' "$creds")
if [ -z "$access_key" ] || [ -z "$secret_key" ]; then
  die "$creds lacks AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY"
fi
region=us-east-1
bucket=qrsync

mkdir -p "$dir/s3"
piece_env=("ROOT_ACCESS_KEY=$access_key" "ROOT_SECRET_KEY=$secret_key")
start s3 "" s3_ready "$vgw_bin" --port 127.0.0.1:@PORT@ --region "$region" posix "$dir/s3"
s3_endpoint="http://127.0.0.1:${port_of[s3]}"

# The bucket, by a signed CreateBucket: a directory made by hand would pass
# for a bucket, but lack what versitygw keeps in the bucket's xattrs (ACL,
# ownership), and some requests would answer otherwise. The keys go to
# curl on stdin, not argv. S3 wants the payload's hash in a header of its
# own, which curl signs with the others: the body is empty.
empty_sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
reply="$dir/logs/create-bucket.xml"
status=$(printf 'user = "%s:%s"\n' "$access_key" "$secret_key" |
  curl -s --noproxy '*' -K - -m 10 --aws-sigv4 "aws:amz:$region:s3" \
    -H "x-amz-content-sha256: $empty_sha256" \
    -X PUT -o "$reply" -w '%{http_code}' "$s3_endpoint/$bucket" || true)
case $status in
  200) ;;
  409) grep -q BucketAlreadyOwnedByYou "$reply" || {
    cat "$reply" >&2
    die "CreateBucket $bucket: 409"
  } ;;
  *)
    cat "$reply" >&2 2>/dev/null || true
    tail_log s3
    die "CreateBucket $bucket at $s3_endpoint: status $status"
    ;;
esac
blob_url="s3://$bucket?endpoint=$s3_endpoint&region=$region"

# --- The two qrsync instances --------------------------------------------

if [ -z "$qrsync_bin" ]; then
  say "building qrsync (go build ./cmd/qrsync)"
  go build -trimpath -o "$dir/qrsync" ./cmd/qrsync || die "go build ./cmd/qrsync failed"
  qrsync_bin="$dir/qrsync"
fi
piece_env=("AWS_ACCESS_KEY_ID=$access_key" "AWS_SECRET_ACCESS_KEY=$secret_key")
for name in a b; do
  mkdir -p "$dir/$name"
  start "$name" "" qrsync_ready "$qrsync_bin" --addr 127.0.0.1:@PORT@ --data "$dir/$name" \
    --catalog "$redis_url" --blob "$blob_url" --public-url "$public_url"
done

# --- nginx ---------------------------------------------------------------

# Everything nginx writes is under the dir: pid, logs, temp files. As root
# its workers would run as nobody, who cannot enter the private dir: they
# stay root then (it listens on loopback only).
ngx="$dir/nginx"
mkdir -p "$ngx/tmp"
user_line=
[ "$(id -u)" -eq 0 ] && user_line="user $(id -un) $(id -gn);"
cat >"$ngx/nginx.conf" <<EOF
# Written by scripts/cluster.sh; docs/scale-out.md says why each setting.
$user_line
worker_processes 1;
pid $ngx/nginx.pid;
error_log $dir/logs/nginx-error.log notice;

events {
    # An open event stream takes two: the browser's and the instance's.
    worker_connections 4096;
}

http {
    log_format cluster '\$remote_addr [\$time_local] "\$request" \$status \$body_bytes_sent '
                       '\$request_time upstream=\$upstream_addr upstream_status=\$upstream_status';
    access_log $dir/logs/nginx-access.log cluster;
    client_body_temp_path $ngx/tmp/body;
    proxy_temp_path $ngx/tmp/proxy;
    fastcgi_temp_path $ngx/tmp/fastcgi;
    uwsgi_temp_path $ngx/tmp/uwsgi;
    scgi_temp_path $ngx/tmp/scgi;

    upstream qrsync {
        # An instance that fails a connection is left out for 10 s.
        server 127.0.0.1:${port_of[a]} max_fails=1 fail_timeout=10s;
        server 127.0.0.1:${port_of[b]} max_fails=1 fail_timeout=10s;
        # Idle connections to the instances kept for reuse.
        keepalive 32;
    }

    server {
        listen 127.0.0.1:$lb_port;

        # No limit here: qrsync enforces its own (--max-file-size, 50 MiB
        # by default, per file, several files per request) and answers 413
        # in words the phone page shows.
        client_max_body_size 0;

        location / {
            proxy_pass http://qrsync;
            # HTTP/1.1 without "Connection: close", or keepalive is unused.
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # The instances check Host (421 for names they do not serve).
            proxy_set_header Host \$http_host;
            # Event streams and downloads pass byte by byte (qrsync also
            # sends X-Accel-Buffering: no on its streams).
            proxy_buffering off;
            # Uploads stream through: real progress, no spool to disk.
            proxy_request_buffering off;
            # An event stream is quiet between keep-alive comments, and an
            # upload's answer may wait for a decode or the store.
            proxy_read_timeout 1h;
            # A dead instance refuses at once; one that is unreachable
            # must not hold a request for nginx's default 60 s.
            proxy_connect_timeout 3s;
            # A request that could not reach one instance goes to the other.
            proxy_next_upstream error timeout;
        }
    }
}
EOF
nginx_args=(-p "$ngx/" -c "$ngx/nginx.conf" -g 'daemon off;')
# -e (nginx 1.19.5+): its own log from the start, before the config is read.
nginx_help=$("$nginx_bin" -h 2>&1 || true)
[[ $nginx_help == *"-e filename"* ]] && nginx_args=(-e "$dir/logs/nginx-error.log" "${nginx_args[@]}")
if ! "$nginx_bin" "${nginx_args[@]}" -t -q >>"$(log_of nginx)" 2>&1; then
  tail_log nginx
  die "nginx rejects $ngx/nginx.conf"
fi
piece_env=()
start nginx "$lb_port" qrsync_ready "$nginx_bin" "${nginx_args[@]}"

# --- Up ------------------------------------------------------------------

cat <<EOF

qrsync cluster is up. Open the PC page:

    $public_url/

  nginx      127.0.0.1:$lb_port  ->  a 127.0.0.1:${port_of[a]} (pid ${pid_of[a]}), b 127.0.0.1:${port_of[b]} (pid ${pid_of[b]})
  redis      $redis_url (pid ${pid_of[redis]})
  S3         $s3_endpoint bucket $bucket (versitygw, pid ${pid_of[s3]}; keys in $creds)
  data, logs $dir, $dir/logs

  Everything listens on 127.0.0.1 only: a phone on the Wi-Fi cannot reach it.
  Kill one instance (kill ${pid_of[a]}) and the page carries on through the other.
  Ctrl-C stops everything$([ -z "$given_dir" ] && echo " and removes $dir").

cluster: url=$public_url
cluster: a=http://127.0.0.1:${port_of[a]} b=http://127.0.0.1:${port_of[b]} redis=$redis_url s3=$s3_endpoint bucket=$bucket dir=$dir
cluster: pids nginx=${pid_of[nginx]} a=${pid_of[a]} b=${pid_of[b]} redis=${pid_of[redis]} s3=${pid_of[s3]}
EOF

# Wait. An instance, Redis or S3 that exits is reported and the rest runs
# on (that is what the cluster is for: see what the others do); nginx
# exiting ends it all, since nothing is reachable without it.
while :; do
  live=()
  for name in "${order[@]}"; do
    [ -n "${pid_of[$name]:-}" ] && live+=("${pid_of[$name]}")
  done
  [ ${#live[@]} -gt 0 ] || exit 1
  exited=
  st=0
  wait -n -p exited "${live[@]}" || st=$?
  [ -n "$exited" ] || continue
  for name in "${order[@]}"; do
    [ "${pid_of[$name]:-}" = "$exited" ] || continue
    unset "pid_of[$name]"
    say "$name (pid $exited) exited, status $st"
    tail_log "$name"
    [ "$name" = nginx ] && die "nginx is gone: stopping the cluster"
  done
done
