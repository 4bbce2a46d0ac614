#!/usr/bin/env bash
# Installs the SDK from the build tree into a temp prefix, builds a plugin project that lives
# outside the repository against it (find_package(KimSdk) + kim_add_plugin), checks that the real
# kim binary lists and loads it with its config, then serves it and drives its routes (POST body
# parsing and validation, its own table, a job run on request). The plugin is the complete example
# of sdk/README.md: the script first checks that the guide shows exactly these files.
# Usage: out_of_tree_test.sh BUILD_DIR KIM_BINARY PLUGIN_SOURCE_DIR SDK_README
set -euo pipefail
build_dir=$1 kim=$2 source_dir=$3 readme=$4
work=$(mktemp -d)
kim_pid=
cleanup() {
  if [ -n "$kim_pid" ]; then kill "$kim_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The guide's code blocks under "## 2. The project" (cmake) and "## 3. The code" (cpp) are the
# files, except the source file's leading comment (which points here).
block() {  # README section heading, fence language
  awk -v heading="$1" -v fence="\`\`\`$2" '
    $0 == heading { in_section = 1; next }
    in_section && /^## / { exit }
    in_section && $0 == fence { in_block = 1; next }
    in_block && $0 == "```" { exit }
    in_block { print }' "$readme"
}
diff <(block "## 2. The project" cmake) <(grep -v '^#' "$source_dir/CMakeLists.txt") ||
  { echo "FAIL: sdk/README.md section 2 differs from $source_dir/CMakeLists.txt"; exit 1; }
diff <(block "## 3. The code" cpp) <(sed '1,/^#include/{/^\/\//d}' "$source_dir/noticeboard.cpp") ||
  { echo "FAIL: sdk/README.md section 3 differs from $source_dir/noticeboard.cpp"; exit 1; }

cmake --install "$build_dir" --component sdk --prefix "$work/sdk" >/dev/null
test -f "$work/sdk/include/kim/sdk/sdk.hpp"
test -f "$work/sdk/include/kim/sdk/testing.hpp"
test -f "$work/sdk/lib/cmake/KimSdk/KimSdkConfig.cmake"

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$source_dir" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/sdk" \
  -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" -j2 >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
plugin=$(find "$work/build" -name 'kim-noticeboard.so' | head -n 1)
test -n "$plugin" || { echo "kim-noticeboard.so was not built"; exit 1; }
install -d -m 0755 "$work/plugins" && install -m 0644 "$plugin" "$work/plugins/"

# The guide's unit test ("Testing your plugin"), built against the installed test kit and run.
mkdir -p "$work/unit"
cp "$source_dir/noticeboard.cpp" "$work/unit/"
block "## Testing your plugin" cpp >"$work/unit/noticeboard_test.cpp"
{
  printf 'cmake_minimum_required(VERSION 3.25)\nproject(NoticeboardTest LANGUAGES CXX)\n'
  printf 'find_package(KimSdk 3.0 REQUIRED)\n'
  block "## Testing your plugin" cmake
} >"$work/unit/CMakeLists.txt"
cmake -S "$work/unit" -B "$work/unit/build" -DCMAKE_PREFIX_PATH="$work/sdk" \
  -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >"$work/unit.log" 2>&1 &&
  cmake --build "$work/unit/build" -j2 >>"$work/unit.log" 2>&1 ||
  { echo "FAIL: the guide's unit test does not build"; cat "$work/unit.log"; exit 1; }
"$work/unit/build/noticeboard_test" >"$work/unit.log" 2>&1 ||
  { echo "FAIL: the guide's unit test fails"; cat "$work/unit.log"; exit 1; }

cat >"$work/kim.json" <<JSON
{"data_dir": "data",
 "plugins": {"directories": ["plugins"],
             "settings": {"noticeboard": {"enabled": true,
                                          "config": {"town": "Rheine", "max_length": 20}}}}}
JSON
out=$("$kim" plugins list --config "$work/kim.json" --json 2>"$work/kim.log")
echo "$out"
echo "$out" | grep -q '"id": "noticeboard"' || { echo "FAIL: noticeboard not listed"; exit 1; }
echo "$out" | grep -q '"state": "loaded"' || { echo "FAIL: noticeboard not loaded"; cat "$work/kim.log"; exit 1; }
echo "$out" | grep -q '"version": "0.3.0"' || { echo "FAIL: wrong version"; exit 1; }

# A config the plugin's own schema refuses: the plugin is refused, with the path in the reason,
# and `plugins list` exits 1.
cat >"$work/bad.json" <<JSON
{"data_dir": "data",
 "plugins": {"directories": ["plugins"],
             "settings": {"noticeboard": {"config": {"town": 7}}}}}
JSON
status=0
bad=$("$kim" plugins list --config "$work/bad.json" --json 2>/dev/null) || status=$?
echo "$bad" | grep -q 'plugins.settings.noticeboard.config.town: must be a string' ||
  { echo "FAIL: invalid plugin config not refused: $bad"; exit 1; }
[ "$status" = 1 ] || { echo "FAIL: plugins list exited $status for a refused plugin"; exit 1; }
# kim config check checks the plugin's config block too: exit 2 (invalid config), path named.
status=0
"$kim" config check --config "$work/bad.json" >"$work/check.out" 2>&1 || status=$?
[ "$status" = 2 ] || { echo "FAIL: config check exited $status"; cat "$work/check.out"; exit 1; }
grep -q 'plugins.settings.noticeboard.config.town: must be a string' "$work/check.out" ||
  { echo "FAIL: config check did not name the block"; cat "$work/check.out"; exit 1; }

# Serve it. The empty database gets the bootstrap admin, whose token is written to a file.
"$kim" serve --config "$work/kim.json" --listen 127.0.0.1:0 >"$work/serve.log" 2>&1 &
kim_pid=$!
port=
for _ in $(seq 1 600); do  # readiness poll with a deadline (60 s), not a timing assumption
  port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$work/serve.log")
  [ -n "$port" ] && break
  kill -0 "$kim_pid" 2>/dev/null || { echo "FAIL: kim serve ended"; cat "$work/serve.log"; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "FAIL: kim serve did not listen"; cat "$work/serve.log"; exit 1; }
token=$(cat "$work/data/bootstrap-admin.token")

# One HTTP/1.1 request over bash's /dev/tcp (no curl needed); sets $status and $body.
request() {  # method path [body] [token]
  local method=$1 path=$2 data=${3-} bearer=${4-$token} response
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  {
    printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n' "$method" "$path"
    [ -z "$bearer" ] || printf 'Authorization: Bearer %s\r\n' "$bearer"
    printf 'Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
      "$(printf '%s' "$data" | wc -c)" "$data"
  } >&3
  response=$(cat <&3)
  exec 3<&-
  status=${response#HTTP/1.1 }
  status=${status%% *}
  body=${response#*$'\r\n\r\n'}
  last="$method $path"
}
expect() {  # status, then substrings the body must contain
  local want=$1
  shift
  [ "$status" = "$want" ] || { echo "FAIL: $last: status $status, expected $want: $body"; exit 1; }
  for part in "$@"; do
    [[ "$body" == *"$part"* ]] || { echo "FAIL: $last: no $part in $body"; exit 1; }
  done
}
notices=/api/v1/plugins/noticeboard/notices

request GET "$notices"
expect 200 '"town":"Rheine"' '"notices":[]'
request POST "$notices" '{"text": "Fair"}' ''
expect 401 '"code":"unauthenticated"'
# Every refusal: the API's error shape, and nothing stored.
request POST "$notices" '{"text": '
expect 400 '"code":"invalid_json"'
request POST "$notices" '["Fair"]'
expect 400 '"code":"invalid_json"' 'must be a JSON object'
request POST "$notices" '{"text": "Fair", "colour": "red"}'
expect 400 '"code":"unknown_field"' '"field":"colour"'
request POST "$notices" '{"text": ""}'
expect 400 '"code":"invalid_field"' '"field":"text"'
request POST "$notices" '{"text": "twenty-one characters"}'
expect 400 '"code":"invalid_field"' 'at most 20 bytes'
request GET "$notices"
expect 200 '"notices":[]'

request POST "$notices" '{"text": "Fair on Friday"}'
expect 201 '"id":1' '"text":"Fair on Friday"'
request GET "$notices"
expect 200 '"id":1' '"text":"Fair on Friday"' '"tidy_runs":0'

# Run the job now instead of waiting an hour; it runs on a host thread, so poll for its run.
request POST /api/v1/jobs/noticeboard.tidy/run ''
expect 202 '"job":"noticeboard.tidy"' '"status":"queued"'
for _ in $(seq 1 300); do
  request GET "$notices"
  [[ "$body" == *'"tidy_runs":1'* ]] && break
  sleep 0.1
done
expect 200 '"tidy_runs":1' '"text":"Fair on Friday"'
request POST /api/v1/jobs/noticeboard.nothing/run ''
expect 404 '"code":"not_found"'

kill -TERM "$kim_pid"
wait "$kim_pid" || { echo "FAIL: kim serve exited $?"; cat "$work/serve.log"; exit 1; }
kim_pid=
echo "out-of-tree plugin built against the installed SDK, loaded, served and driven"
