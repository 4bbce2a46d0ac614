#!/usr/bin/env bash
# A/B of kim's CPU per request, for a loaded machine where req/s is noise: kim binaries A, B, …
# are run interleaved (round 1: A B …, round 2: A B …), each on a fresh copy of the same database
# of 1000 cases, with the same wrk scripts as side_by_side.sh. Reports per binary and phase the
# kim CPU µs per request (user + system of the whole process, /proc/PID/stat) and of the writer
# thread alone (`kim-writer`, the serial thread of every write), medians over the rounds.
#
#   bench/ab_cpu.sh [--rounds N] [--seconds S] [--build DIR] [--work DIR] KIM_A KIM_B ...
#
# The template database is made by the first binary (kim_http_load --persons 1000 of --build),
# so it must be the oldest schema: newer binaries migrate the copy when they start (not measured).
# Every run must have 0 errors, every acknowledged write in the database and kim exit 0.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
rounds=3
seconds=5
build="$root/build/rel"
work=""
kims=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    -*) echo "unknown argument $1 (see the head of $0)" >&2; exit 2 ;;
    *) kims+=("$1"); shift ;;
  esac
done
[ "${#kims[@]}" -ge 1 ] || { echo "name at least one kim binary" >&2; exit 2; }
[ -n "$work" ] || work="$(mktemp -d "${TMPDIR:-/tmp}/kim_ab_cpu.XXXXXX")"
mkdir -p "$work"
kim_pid=""
trap '[ -n "$kim_pid" ] && kill "$kim_pid" 2>/dev/null || true' EXIT
ticks="$(getconf CLK_TCK)"

wait_http() {
  for _ in $(seq 300); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "nothing answers at $1" >&2; return 1
}
cpu_ticks() { awk '{print $14 + $15}' "$1"; }
writer_stat() {  # pid: the stat file of its kim-writer thread
  local t
  for t in /proc/"$1"/task/*; do
    [ "$(cat "$t/comm")" = kim-writer ] && { echo "$t/stat"; return; }
  done
}

echo "ab_cpu: ${#kims[@]} binaries, $rounds rounds of ${seconds}s per phase, wrk -t2 -c16"
echo "cpus: $(nproc), load average: $(cut -d' ' -f1-3 /proc/loadavg), work: $work"
"$build/bin/kim_http_load" --kim "${kims[0]}" --keep "$work/template" --connections 16 \
  --persons 1000 --reads-per-case 1 --no-referrals >"$work/setup.log" ||
  echo "note: kim_http_load's own count check failed (see $work/setup.log); the template is used"
config="$work/template/kim.json"
token="$("${kims[0]}" token create --config "$config" --user bench-ab --role case_manager \
  --org welfare-bench --label ab 2>/dev/null)"
sqlite3 "$work/template/data/kim.sqlite3" "SELECT id FROM cases" >"$work/case_ids"
export KIM_TOKEN="$token" KIM_CASE_IDS="$work/case_ids"
: >"$work/results"

for round in $(seq "$rounds"); do
  for i in "${!kims[@]}"; do
    kim="${kims[$i]}"
    run="$work/run"
    rm -rf "$run" && cp -a "$work/template" "$run"
    sed "s#$work/template#$run#g" "$config" >"$run/kim.json"
    port="$(jq -r '.server.listen' "$run/kim.json" | cut -d: -f2)"
    "$kim" serve --config "$run/kim.json" >>"$run/kim.log" 2>&1 &
    kim_pid=$!
    wait_http "http://127.0.0.1:$port/health"
    writer="$(writer_stat "$kim_pid")"
    line="round=$round kim=$i load=$(cut -d' ' -f1 /proc/loadavg)"
    for phase in read create; do
      script="$root/bench/wrk/read_cases.lua"
      [ "$phase" = create ] && script="$root/bench/wrk/create_persons.lua"
      p0="$(cpu_ticks "/proc/$kim_pid/stat")" w0="$(cpu_ticks "$writer")"
      out="$(KIM_RUN="r${round}k$i" wrk -t2 -c16 -d"${seconds}s" --latency -s "$script" \
        "http://127.0.0.1:$port")"
      p1="$(cpu_ticks "/proc/$kim_pid/stat")" w1="$(cpu_ticks "$writer")"
      res="$(grep '^WRK_RESULT' <<<"$out" | sed 's/^WRK_RESULT //')"
      req="$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$res")"
      bad="$(sed -n 's/.*non2xx=\([0-9]*\) socket_errors=\([0-9]*\).*/\1+\2/p' <<<"$res")"
      line="$line ${phase}_req=$req ${phase}_errors=$((bad))"
      line="$line ${phase}_us=$(awk -v a="$p0" -v b="$p1" -v n="$req" -v t="$ticks" 'BEGIN{printf "%.0f", (b-a)/t*1e6/n}')"
      line="$line ${phase}_writer_us=$(awk -v a="$w0" -v b="$w1" -v n="$req" -v t="$ticks" 'BEGIN{printf "%.0f", (b-a)/t*1e6/n}')"
    done
    kill -TERM "$kim_pid"
    code=0
    wait "$kim_pid" || code=$?
    kim_pid=""
    db="$run/data/kim.sqlite3"
    persons="$(sqlite3 "$db" "SELECT count(*) FROM persons")"
    base_persons="$(sqlite3 "$work/template/data/kim.sqlite3" "SELECT count(*) FROM persons")"
    created="$(sed -n 's/.*create_req=\([0-9]*\).*/\1/p' <<<"$line")"
    ok=OK
    [ "$code" = 0 ] && [ $((persons - base_persons)) -ge "$created" ] || ok=FAILED
    line="$line exit=$code $ok"
    echo "$line" | tee -a "$work/results"
  done
done

python3 - "$work/results" "${kims[@]}" <<'EOF'
import re, statistics, sys
results, kims = sys.argv[1], sys.argv[2:]
rows = [dict(re.findall(r"(\w+)=(\S+)", line)) for line in open(results)]
print()
print("%-4s %-60s %10s %10s %12s %12s" % ("kim", "binary", "read us", "(writer)", "create us", "(writer)"))
for i, kim in enumerate(kims):
    mine = [r for r in rows if r["kim"] == str(i)]
    med = lambda k: statistics.median(float(r[k]) for r in mine)
    print("%-4d %-60s %10.0f %10.0f %12.0f %12.0f" % (i, kim[-60:], med("read_us"), med("read_writer_us"),
          med("create_us"), med("create_writer_us")))
print("all runs OK" if all(l.strip().endswith("OK") for l in open(results)) and not any(
    r["read_errors"] != "0" or r["create_errors"] != "0" for r in rows) else "SOME RUNS FAILED")
EOF
