#!/usr/bin/env bash
# kim beside its baselines, with the same load generator (wrk) in one sitting:
#   nginx   GET of a small static JSON body served from memory (nginx-light)
#   read    kim: audited GET /api/v1/cases/{id} (each read appends an audit row durably)
#   create  kim: durable POST /api/v1/persons, a distinct name per request
#   sqlite  raw SQLite serial durable commits (WAL, synchronous=FULL; kim_sqlite_baseline)
# Each run measures all four back to back; the summary gives the median of the runs and the
# ratios the targets are stated in. Afterwards kim is stopped and the database must hold every
# acknowledged person and audit row.
#
#   bench/side_by_side.sh [--runs N] [--seconds S] [--connections C] [--threads T]
#                         [--build DIR] [--kim PATH] [--work DIR] [--perf] [--no-build]
#
# Installs what it needs through scripts/lib/deps.sh (kim_install_bench_deps: wrk, nginx-light,
# linux-perf, sqlite3) and builds kim Release in build/rel unless --no-build. --perf also samples
# kim with `perf record -g` during the last run's read and create phases and prints the top of
# `perf report` (needs perf_event access). The work folder (default: a new one under
# ${TMPDIR:-/tmp}) must be on the disk under test, not tmpfs. --kim measures another kim binary
# (e.g. an older build) with this tree's load scripts and baseline.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
runs=3
seconds=10
connections=16
threads=2
build="$root/build/rel"
work=""
kim=""
perf=0
do_build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --kim) kim="$2"; shift 2 ;;
    --perf) perf=1; shift ;;
    --no-build) do_build=0; shift ;;
    *) echo "unknown argument $1 (see the head of $0)" >&2; exit 2 ;;
  esac
done

source "$root/scripts/lib/deps.sh"
kim_install_bench_deps
if [ "$do_build" = 1 ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DKIM_BUILD_BENCH=ON \
    -DKIM_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" -j2 --target kim kim_http_load kim_sqlite_baseline >/dev/null
fi
[ -n "$kim" ] || kim="$build/bin/kim"
[ -x "$kim" ] || { echo "no kim at $kim (build it or pass --build DIR)" >&2; exit 1; }

[ -n "$work" ] || work="$(mktemp -d "${TMPDIR:-/tmp}/kim_side_by_side.XXXXXX")"
mkdir -p "$work"
nginx_pid="" kim_pid=""
cleanup() {
  [ -n "$kim_pid" ] && kill "$kim_pid" 2>/dev/null || true
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {  # url: up to 30 s
  for _ in $(seq 300); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "nothing answers at $1" >&2; return 1
}

echo "kim side by side: $runs run(s) of ${seconds}s per measurement, wrk -t$threads -c$connections"
echo "cpus: $(nproc), load average: $(cut -d' ' -f1-3 /proc/loadavg), work folder: $work ($(df -T "$work" | awk 'NR==2{print $2}'))"
echo "kim: $kim (tree $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- core || echo ', with uncommitted changes'))"

# --- kim: a database with cases (kim_http_load's setup and create phase), then kim serve -------
"$build/bin/kim_http_load" --kim "$kim" --keep "$work/kim" --connections "$connections" \
  --persons 1000 --reads-per-case 1 --no-referrals >"$work/setup.log"
config="$work/kim/kim.json"
db="$work/kim/data/kim.sqlite3"
token="$("$kim" token create --config "$config" --user bench-wrk --role case_manager 2>/dev/null \
  --org welfare-bench --label side-by-side)"
sqlite3 "$db" "SELECT id FROM cases" >"$work/case_ids"
kim_port="$(jq -r '.server.listen' "$config" | cut -d: -f2)"
"$kim" serve --config "$config" >>"$work/kim/kim.log" 2>&1 &
kim_pid=$!
wait_http "http://127.0.0.1:$kim_port/health"
first_case="$(head -1 "$work/case_ids")"
status="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
  "http://127.0.0.1:$kim_port/api/v1/cases/$first_case")"
[ "$status" = 200 ] || { echo "GET of a case answered $status, not 200" >&2; exit 1; }
persons_before="$(sqlite3 "$db" "SELECT count(*) FROM persons")"
audit_before="$(sqlite3 "$db" "SELECT count(*) FROM audit_log")"

# --- nginx: a small static JSON body from memory ------------------------------------------------
nginx_port="$(free_port)"
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      default_type application/json;
      return 200 '{"id":"case_0123456789abcdef0123456789abcdef","status":"ok"}';
    }
  }
}
EOF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
wait_http "http://127.0.0.1:$nginx_port/"

# --- measurements -------------------------------------------------------------------------------
ticks="$(getconf CLK_TCK)"
cpu_of() {  # pid: user + system CPU seconds so far of it and its children (nginx's workers)
  local p files=()
  for p in "$1" $(pgrep -P "$1" || true); do files+=("/proc/$p/stat"); done
  awk -v t="$ticks" '{sum += $14 + $15} END {printf "%.2f", sum / t}' "${files[@]}"
}
wrk_run() {  # label, url, [script], [pid whose CPU to report]; env passes KIM_* to the script
  local label="$1" url="$2" script="${3:-$root/bench/wrk/report.lua}" pid="${4:-}"
  local out before="" cpu=""
  [ -n "$pid" ] && before="$(cpu_of "$pid")"
  out="$(wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency -s "$script" "$url")"
  [ -n "$pid" ] && cpu=" server_cpu_s=$(awk -v a="$before" -v b="$(cpu_of "$pid")" 'BEGIN{printf "%.2f", b - a}')"
  local line
  line="$(grep '^WRK_RESULT' <<<"$out")$cpu"
  echo "$label $line" >>"$work/results"
  echo "  $label: $(sed 's/^WRK_RESULT //' <<<"$line")"
}
field() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" <<<"$1"; }

: >"$work/results"
export KIM_TOKEN="$token" KIM_CASE_IDS="$work/case_ids"
perf_pid=""
for run in $(seq "$runs"); do
  echo "run $run (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  wrk_run nginx "http://127.0.0.1:$nginx_port/" "" "$nginx_pid"
  if [ "$perf" = 1 ] && [ "$run" = "$runs" ]; then
    perf record -g -F 999 -p "$kim_pid" -o "$work/perf.read.data" -- sleep "$seconds" \
      >/dev/null 2>&1 &
    perf_pid=$!
    # Commits are fdatasyncs of the WAL: requests per fdatasync is the group commit's batch size.
    perf stat -e syscalls:sys_enter_fdatasync,context-switches -p "$kim_pid" \
      -o "$work/perf.read.stat" -- sleep "$seconds" >/dev/null 2>&1 &
  fi
  wrk_run read "http://127.0.0.1:$kim_port" "$root/bench/wrk/read_cases.lua" "$kim_pid"
  [ -n "$perf_pid" ] && { wait "$perf_pid" || true; perf_pid=""; }
  if [ "$perf" = 1 ] && [ "$run" = "$runs" ]; then
    perf record -g -F 999 -p "$kim_pid" -o "$work/perf.create.data" -- sleep "$seconds" \
      >/dev/null 2>&1 &
    perf_pid=$!
    perf stat -e syscalls:sys_enter_fdatasync,context-switches -p "$kim_pid" \
      -o "$work/perf.create.stat" -- sleep "$seconds" >/dev/null 2>&1 &
  fi
  KIM_RUN="$run" wrk_run create "http://127.0.0.1:$kim_port" "$root/bench/wrk/create_persons.lua" \
    "$kim_pid"
  [ -n "$perf_pid" ] && { wait "$perf_pid" || true; perf_pid=""; }
  sqlite_rate="$("$build/bin/kim_sqlite_baseline" --rows 500 --path "$work" | awk '{print $2}')"
  echo "sqlite WRK_RESULT commits_per_s=$sqlite_rate" >>"$work/results"
  echo "  sqlite: commits/s $sqlite_rate"
done

# --- stop kim, then everything acknowledged must be in the database ----------------------------
kill -TERM "$kim_pid"
kim_exit=0
wait "$kim_pid" || kim_exit=$?
kim_pid=""
kill "$nginx_pid" 2>/dev/null || true
wait "$nginx_pid" 2>/dev/null || true
nginx_pid=""

python3 - "$work/results" "$persons_before" "$audit_before" "$db" "$kim_exit" <<'EOF'
import re, sqlite3, statistics, sys
results, persons_before, audit_before, db, kim_exit = sys.argv[1:]
rows = {}
for line in open(results):
    label, rest = line.split(" WRK_RESULT ")
    rows.setdefault(label, []).append({k: float(v) for k, v in re.findall(r"(\w+)=([0-9.]+)", rest)})

def rate(r): return (r["requests"] - r["non2xx"]) / r["seconds"]
def med(values): return statistics.median(values)

print()
print("%-8s %10s %8s %8s %8s %8s %10s  %s" % ("what", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "CPU us/req", "runs (req/s)"))
for label in ("nginx", "read", "create"):
    rs = rows[label]
    errors = sum(r["non2xx"] + r["socket_errors"] for r in rs)
    # Server CPU per request (nginx: master and workers).
    cpu = med([r.get("server_cpu_s", 0) * 1e6 / max(r["requests"], 1) for r in rs])
    print("%-8s %10.0f %8.2f %8.2f %8.2f %8d %10.0f  %s" % (label, med([rate(r) for r in rs]),
          med([r["p50_ms"] for r in rs]), med([r["p99_ms"] for r in rs]),
          med([r["max_ms"] for r in rs]), errors, cpu, ", ".join("%.0f" % rate(r) for r in rs)))
sq = [r["commits_per_s"] for r in rows["sqlite"]]
print("%-8s %10.0f %8s %8s %8s %8s  %s" % ("sqlite", med(sq), "", "", "", "", ", ".join("%.0f" % v for v in sq)))

# Ratios per run (kim and its baselines measured back to back), then their median.
n = len(rows["nginx"])
read_nginx = med([rate(rows["read"][i]) / rate(rows["nginx"][i]) for i in range(n)])
create_nginx = med([rate(rows["create"][i]) / rate(rows["nginx"][i]) for i in range(n)])
create_sqlite = med([rate(rows["create"][i]) / rows["sqlite"][i]["commits_per_s"] for i in range(n)])
read_p99 = med([r["p99_ms"] for r in rows["read"]])
print()
print("read / nginx     %.3f  (target >= 0.25)" % read_nginx)
print("create / nginx   %.3f  (target >= 0.12)" % create_nginx)
print("create / sqlite  %.2f   (target >= 4)" % create_sqlite)
print("read p99         %.2f ms (target < 10)" % read_p99)

# Every acknowledged (2xx) create and read is in the database after kim stopped. wrk stops with
# requests in flight: those may be stored without being counted, hence >=.
acked_creates = sum(int(r["requests"] - r["non2xx"]) for r in rows["create"])
acked_reads = sum(int(r["requests"] - r["non2xx"]) for r in rows["read"])
con = sqlite3.connect(db)
persons = con.execute("SELECT count(*) FROM persons").fetchone()[0] - int(persons_before)
audit = con.execute("SELECT count(*) FROM audit_log").fetchone()[0] - int(audit_before)
errors = sum(r["non2xx"] + r["socket_errors"] for label in ("read", "create") for r in rows[label])
durable = persons >= acked_creates and audit >= acked_creates + acked_reads
print("database: %d new persons (%d acknowledged), %d new audit rows (%d acknowledged reads + creates)" %
      (persons, acked_creates, audit, acked_creates + acked_reads))
print("kim exit code after SIGTERM: %s" % kim_exit)
good = durable and errors == 0 and kim_exit == "0"
print("OK" if good else "FAILED")
sys.exit(0 if good else 1)
EOF
status=$?

if [ "$perf" = 1 ]; then
  for phase in read create; do
    echo
    echo "kim during $phase (perf stat, ${seconds}s):"
    grep -E 'fdatasync|context-switches' "$work/perf.$phase.stat" || true
    echo "perf profile of kim, $phase (self time by library, then the top symbols):"
    perf report -i "$work/perf.$phase.data" --stdio --no-children --sort dso 2>/dev/null |
      grep -E '^ +[0-9]' | head -12
    perf report -i "$work/perf.$phase.data" --stdio --no-children --sort dso,sym \
      --percent-limit 0.7 -g none 2>/dev/null | grep -E '^ +[0-9]' | head -45
  done
fi
echo "work folder: $work"
exit $status
