#!/usr/bin/env bash
# The proxy's performance run (docs/performance.md, "Metadata proxy"): in one
# run, wrk drives the same safe path on loopback three ways:
#   direct  straight to a fake metadata service (hack/fakeimds);
#   proxy   through the proxy (cmd/imdsguard-proxy, what the DaemonSet runs;
#           `imdsguard proxy` is the same code in the full binary), with no
#           redirection: loopback only;
#   nginx   through nginx (Debian's nginx-light) as a plain reverse proxy.
# Bounded: DURATION seconds per target (default 10) after a 2 s warm-up, at
# CONNS connections (default 64) and 2 wrk threads. Every process it starts
# is stopped by its PID. Installs wrk and nginx-light from Debian if missing
# (as root).
#   hack/proxyperf.sh            # 10 s per target, 64 connections
#   DURATION=20 CONNS=128 hack/proxyperf.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10}"
CONNS="${CONNS:-64}"
UP=127.0.0.1:18180 PROXY=127.0.0.1:18181 NGINX=127.0.0.1:18182
PATH_="/latest/meta-data/instance-id"

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
NGINX_BIN="$(command -v nginx || echo /usr/sbin/nginx)"

mkdir -p bin
go build -o bin/imdsguard-proxy ./cmd/imdsguard-proxy
go build -o bin/fakeimds ./hack/fakeimds
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

bin/fakeimds -listen "$UP" 2>"$work/fake.log" & fake_pid=$!; pids+=($fake_pid)
bin/imdsguard-proxy --redirect=false --cloud aws --listen "$PROXY" --upstream "http://$UP" \
  --metrics-bind-address 0 --log-level error 2>"$work/proxy.log" & proxy_pid=$!; pids+=($proxy_pid)
cat >"$work/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
daemon off;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;
  upstream imds { server $UP; keepalive 128; }
  server {
    listen $NGINX;
    location / { proxy_pass http://imds; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host \$host; }
  }
}
CONF
"$NGINX_BIN" -c "$work/nginx.conf" -p "$work" & nginx_pid=$!; pids+=($nginx_pid)

for addr in "$UP" "$PROXY" "$NGINX"; do
  for _ in $(seq 50); do
    curl -fsS -o /dev/null -H 'Host: 169.254.169.254' "http://$addr$PATH_" 2>/dev/null && break
    sleep 0.1
  done
  curl -fsS -o /dev/null -H 'Host: 169.254.169.254' "http://$addr$PATH_"
done

idle_rss="$(awk '/VmRSS/ {print $2, $3}' "/proc/$proxy_pid/status")"

# ticks PID...: CPU time (user + system) the processes have used, in clock
# ticks.
ticks() {
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$t"
}
hz="$(getconf CLK_TCK)"
run() { # name addr middle-pids...
  local name="$1" addr="$2"; shift 2
  wrk -t2 -c"$CONNS" -d2s -H 'Host: 169.254.169.254' "http://$addr$PATH_" >/dev/null
  local up0 mid0 up1 mid1
  up0="$(ticks "$fake_pid")" mid0="$(ticks "$@")"
  wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -H 'Host: 169.254.169.254' "http://$addr$PATH_" >"$work/$name.wrk"
  up1="$(ticks "$fake_pid")" mid1="$(ticks "$@")"
  # CPU per request is steadier than req/s on a shared machine: it does not
  # depend on how much of the cores the run got.
  awk -v name="$name" -v hz="$hz" -v up=$((up1 - up0)) -v mid=$((mid1 - mid0)) -v hasmid=$# '
    /requests in/ {n=$1}
    /Requests\/sec/ {rps=$2}
    /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
    /Non-2xx/ {bad=$NF}
    END {
      cpu = sprintf("upstream %5.1f us/req", up * 1e6 / hz / n)
      if (hasmid) cpu = cpu sprintf(", %s %5.1f us/req", name, mid * 1e6 / hz / n)
      printf "%-7s %10s req/s  p50 %8s  p99 %8s  CPU: %s%s\n", name, rps, p50, p99, cpu, (bad ? "  NON-2XX " bad : "")
    }' "$work/$name.wrk"
}
echo "wrk -t2 -c$CONNS -d${DURATION}s --latency, GET $PATH_ on loopback, $(nproc) cores"
run direct "$UP"
run proxy "$PROXY" "$proxy_pid"
# nginx's master forks the workers that do the work.
run nginx "$NGINX" "$nginx_pid" $(pgrep -P "$nginx_pid")
echo "imdsguard-proxy RSS: started $idle_rss, peak $(awk '/VmHWM/ {print $2, $3}' /proc/$proxy_pid/status), now $(awk '/VmRSS/ {print $2, $3}' /proc/$proxy_pid/status)"
