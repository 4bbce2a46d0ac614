#!/usr/bin/env bash
# Installs the SDK from the build tree into a temp prefix, builds a plugin project that lives
# outside the repository against it (find_package(KimSdk) + kim_add_plugin), and checks that the
# real kim binary loads it with its config.
# Usage: out_of_tree_test.sh BUILD_DIR KIM_BINARY PLUGIN_SOURCE_DIR
set -euo pipefail
build_dir=$1 kim=$2 source_dir=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build_dir" --component sdk --prefix "$work/sdk" >/dev/null
test -f "$work/sdk/include/kim/sdk/sdk.hpp"
test -f "$work/sdk/lib/cmake/KimSdk/KimSdkConfig.cmake"

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$source_dir" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/sdk" \
  -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" -j2 >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
plugin=$(find "$work/build" -name 'kim-noticeboard.so' | head -n 1)
test -n "$plugin" || { echo "kim-noticeboard.so was not built"; exit 1; }
mkdir -p "$work/plugins" && cp "$plugin" "$work/plugins/"

cat >"$work/kim.json" <<JSON
{"data_dir": "data",
 "plugins": {"directories": ["plugins"],
             "settings": {"noticeboard": {"config": {"town": "Rheine"}}}}}
JSON
out=$("$kim" plugins list --config "$work/kim.json" --json 2>"$work/kim.log")
echo "$out"
echo "$out" | grep -q '"id": "noticeboard"' || { echo "FAIL: noticeboard not listed"; exit 1; }
echo "$out" | grep -q '"state": "loaded"' || { echo "FAIL: noticeboard not loaded"; cat "$work/kim.log"; exit 1; }
echo "$out" | grep -q '"version": "0.3.0"' || { echo "FAIL: wrong version"; exit 1; }

# A config the plugin's own schema refuses: the plugin is refused, with the path in the reason.
cat >"$work/bad.json" <<JSON
{"data_dir": "data",
 "plugins": {"directories": ["plugins"],
             "settings": {"noticeboard": {"config": {"town": 7}}}}}
JSON
# (kim plugins list exits 1 when an enabled plugin would not run.)
status=0
bad=$("$kim" plugins list --config "$work/bad.json" --json 2>/dev/null) || status=$?
[ "$status" = 1 ] || { echo "FAIL: plugins list exited $status for a refused plugin"; exit 1; }
echo "$bad" | grep -q 'plugins.settings.noticeboard.config.town: must be a string' ||
  { echo "FAIL: invalid plugin config not refused: $bad"; exit 1; }
echo "out-of-tree plugin built against the installed SDK and loaded"
