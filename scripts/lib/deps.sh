#!/usr/bin/env bash
# Installs the Debian packages KIM Platform builds and runs with. Idempotent: asks apt only for
# what is missing, and refreshes the package lists only when something is.
set -euo pipefail

KIM_DEBIAN_PACKAGES=(
  build-essential cmake ccache pkg-config
  libboost1.81-dev libboost-program-options1.81-dev
  nlohmann-json3-dev libspdlog-dev libsqlite3-dev libssl-dev libicu-dev libsodium-dev tzdata
  libgtest-dev libgmock-dev
)

# Only for the console's browser tests (tests/browser, run by scripts/test): Debian's Chromium, driven
# by playwright-core from npm (nothing downloads a browser), and Node.js with npm to run them.
KIM_BROWSER_DEBIAN_PACKAGES=(chromium nodejs)

# Only for the fuzz targets (scripts/fuzz, run by scripts/test): clang and its libFuzzer runtime.
KIM_FUZZ_DEBIAN_PACKAGES=(clang-14 libclang-rt-14-dev libfuzzer-14-dev)

# Only for bench/side_by_side.sh: the load generator, the baseline web server, the profiler and the
# tools the script uses around them. Neither scripts/run nor scripts/test needs them.
KIM_BENCH_DEBIAN_PACKAGES=(wrk nginx-light linux-perf sqlite3 python3 jq curl)

kim_install_deps() {
  kim_install_packages "${KIM_DEBIAN_PACKAGES[@]}"
}

kim_install_browser_deps() {
  kim_install_packages "${KIM_BROWSER_DEBIAN_PACKAGES[@]}"
  command -v npm >/dev/null 2>&1 || kim_install_packages npm
}

kim_install_fuzz_deps() {
  kim_install_packages "${KIM_DEBIAN_PACKAGES[@]}" "${KIM_FUZZ_DEBIAN_PACKAGES[@]}"
}

kim_install_bench_deps() {
  kim_install_packages "${KIM_DEBIAN_PACKAGES[@]}" "${KIM_BENCH_DEBIAN_PACKAGES[@]}"
}

kim_install_packages() {
  local missing=()
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "Installing missing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
