#!/usr/bin/env bash
# The proxy's performance run (docs/performance.md, "Metadata proxy"): in one
# run, wrk drives the same safe path on loopback three ways:
#   direct  straight to a fake metadata service (hack/fakeimds);
#   proxy   through the proxy (cmd/imdsguard-proxy, what the DaemonSet runs;
#           `imdsguard proxy` is the same code in the full binary), with no
#           redirection: loopback only;
#   nginx   through nginx (Debian's nginx-light) as a plain reverse proxy.
# The machine is shared, so its load changes from one measurement to the
# next: the three are run in ROUNDS rounds (default 5), each in a different
# order, and the summary compares proxy and nginx round by round (ratios
# within a round) and gives the median of each ratio.
# Bounded: DURATION seconds per target and round (default 5) after a 1 s
# warm-up, at CONNS connections (default 64) and 2 wrk threads: about
# ROUNDS x 3 x (DURATION + 1) seconds. Every process it starts is stopped by
# its PID. Installs wrk and nginx-light from Debian if missing (as root).
#   hack/proxyperf.sh                       # 5 rounds of 5 s, 64 connections
#   ROUNDS=3 DURATION=10 CONNS=128 hack/proxyperf.sh
#   GOMAXPROCS_PROXY=2 hack/proxyperf.sh    # the proxy's --gomaxprocs
#   PROXY_ARGS=--io-uring=false hack/proxyperf.sh   # more flags for the proxy
#   PROXY_NICE=-5 hack/proxyperf.sh         # a diagnostic, not a comparison:
#                                           # the proxy at a higher priority
# Besides throughput, latency and CPU per request, each line gives the
# middle's context switches per 1000 requests (involuntary ones are
# preemptions: a task woken on the CPU took it) and the share of the
# machine's CPU time that was idle.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-5}"
CONNS="${CONNS:-64}"
ROUNDS="${ROUNDS:-5}"
GOMAXPROCS_PROXY="${GOMAXPROCS_PROXY:-1}"
PROXY_NICE="${PROXY_NICE:-0}"
PROXY_ARGS="${PROXY_ARGS:-}"
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
# shellcheck disable=SC2086
nice -n "$PROXY_NICE" bin/imdsguard-proxy $PROXY_ARGS --redirect=false --cloud aws --listen "$PROXY" --upstream "http://$UP" \
  --metrics-bind-address 0 --log-level error --gomaxprocs "$GOMAXPROCS_PROXY" --max-conns-per-source "$((CONNS + 16))" 2>"$work/proxy.log" & proxy_pid=$!; pids+=($proxy_pid)
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
# switches PID...: the context switches of the processes' threads, as
# "voluntary involuntary". Involuntary ones are preemptions: another task
# woke on the CPU and took it.
switches() {
  local p
  for p in "$@"; do cat /proc/"$p"/task/*/status; done |
    awk '/^voluntary_ctxt_switches/ {v += $2} /^nonvoluntary_ctxt_switches/ {n += $2} END {print v + 0, n + 0}'
}
# idle: the clock ticks every CPU spent idle (idle + iowait).
idle() { awk '/^cpu / {print $5 + $6}' /proc/stat; }
run() { # name round addr middle-pids...
  local name="$1" round="$2" addr="$3"; shift 3
  wrk -t2 -c"$CONNS" -d1s -H 'Host: 169.254.169.254' "http://$addr$PATH_" >/dev/null
  local up0 mid0 up1 mid1 sw0 sw1 idle0 idle1
  up0="$(ticks "$fake_pid")" mid0="$(ticks "$@")" sw0="$(switches "$@")" idle0="$(idle)"
  wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -H 'Host: 169.254.169.254' "http://$addr$PATH_" >"$work/$name.wrk"
  up1="$(ticks "$fake_pid")" mid1="$(ticks "$@")" sw1="$(switches "$@")" idle1="$(idle)"
  # CPU per request is steadier than req/s on a shared machine: it does not
  # depend on how much of the cores the run got.
  local -a s0=($sw0) s1=($sw1)
  awk -v name="$name" -v round="$round" -v hz="$hz" -v up=$((up1 - up0)) -v mid=$((mid1 - mid0)) -v hasmid=$# \
    -v vol=$((s1[0] - s0[0])) -v invol=$((s1[1] - s0[1])) -v idle=$((idle1 - idle0)) -v cpus="$(nproc)" -v dur="$DURATION" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /requests in/ {n=$1}
    /Requests\/sec/ {rps=$2}
    /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
    /Non-2xx/ {bad=$NF}
    END {
      cpu = sprintf("upstream %5.1f us/req", up * 1e6 / hz / n)
      if (hasmid) cpu = cpu sprintf(", %s %5.1f us/req", name, mid * 1e6 / hz / n)
      sw = ""
      if (hasmid) sw = sprintf("  switches per 1000 req: %.0f voluntary, %.0f involuntary,", vol * 1000 / n, invol * 1000 / n)
      printf "%d %-7s %10s req/s  p50 %8s  p99 %8s  CPU: %s%s  idle %.1f%%%s\n", round, name, rps, p50, p99, cpu, sw, 100 * idle / (hz * dur * cpus), (bad ? "  NON-2XX " bad : "")
      # Machine-readable: round name rps p99-ms cpu-us involuntary-switches-per-1000
      printf "%d %s %s %.3f %.1f %.1f\n", round, name, rps, ms(p99), (hasmid ? mid * 1e6 / hz / n : 0), invol * 1000 / n >> "'"$work/results"'"
    }' "$work/$name.wrk"
}
echo "wrk -t2 -c$CONNS -d${DURATION}s --latency, GET $PATH_ on loopback, $(nproc) cores, $ROUNDS rounds, proxy --gomaxprocs $GOMAXPROCS_PROXY $PROXY_ARGS, nice $PROXY_NICE"
# nginx's master forks the workers that do the work.
nginx_workers="$(pgrep -P "$nginx_pid" | tr '\n' ' ')"
for round in $(seq "$ROUNDS"); do
  order=(direct proxy nginx)
  shift_by=$(( (round - 1) % 3 ))
  order=("${order[@]:$shift_by}" "${order[@]:0:$shift_by}")
  for target in "${order[@]}"; do
    case "$target" in
      direct) run direct "$round" "$UP" ;;
      proxy) run proxy "$round" "$PROXY" "$proxy_pid" ;;
      # shellcheck disable=SC2086
      nginx) run nginx "$round" "$NGINX" "$nginx_pid" $nginx_workers ;;
    esac
  done
done
echo "imdsguard-proxy RSS: started $idle_rss, peak $(awk '/VmHWM/ {print $2, $3}' /proc/$proxy_pid/status), now $(awk '/VmRSS/ {print $2, $3}' /proc/$proxy_pid/status)"
# Per round: proxy/nginx throughput, proxy/nginx p99 (lower is better for
# the proxy), proxy/nginx CPU per request; then the medians.
awk '
  { rps[$1, $2] = $3; p99[$1, $2] = $4; cpu[$1, $2] = $5; inv[$1, $2] = $6; if ($1 > rounds) rounds = $1 }
  function median(a, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    for (r = 1; r <= rounds; r++) {
      tr[r] = rps[r, "proxy"] / rps[r, "nginx"]; pr[r] = p99[r, "proxy"] / p99[r, "nginx"]; cr[r] = cpu[r, "proxy"] / cpu[r, "nginx"]
      printf "round %d: proxy/nginx throughput %.2f, p99 %.2f, CPU per request %.2f\n", r, tr[r], pr[r], cr[r]
    }
    for (r = 1; r <= rounds; r++) { ip[r] = inv[r, "proxy"]; in_[r] = inv[r, "nginx"] }
    printf "median involuntary context switches per 1000 requests: proxy %.0f, nginx %.0f\n", median(ip, rounds), median(in_, rounds)
    printf "median of %d rounds: proxy/nginx throughput %.2f (target >= 1), p99 %.2f (target <= 1), CPU per request %.2f\n", rounds, median(tr, rounds), median(pr, rounds), median(cr, rounds)
  }' "$work/results"
