#!/usr/bin/env bash
# Installs every Debian 12 package the build, the tests and the integration peers need, and the
# manifest validator's npm packages (pinned by tests/deploy/package-lock.json).
# Idempotent: skips apt when everything is already present.
# Usage: scripts/install-deps.sh          everything (scripts/test.sh, scripts/run.sh)
#        scripts/install-deps.sh --build  only what building the release binary needs (the
#                                         Dockerfile's build stage)
set -euo pipefail
cd "$(dirname "$0")/.."

# What `cmake --preset release -DTP_BUILD_TESTS=OFF -DTP_BUILD_BENCH=OFF` and building the
# telemetry-processor target need.
build_packages=(
  build-essential cmake ninja-build pkg-config
  libboost-dev
  libsnappy-dev libzstd-dev zlib1g-dev libssl-dev
  libsimdjson-dev rapidjson-dev libre2-dev
  libsoci-dev libsqlite3-dev libpq-dev libmariadb-dev
  libyaml-cpp-dev libcli11-dev libabsl-dev libspdlog-dev libfmt-dev
  prometheus-cpp-dev
  libjs-dygraphs
)
# The tests, the checks, the benchmarks and the fuzz targets, and the real peers they start
# (the web console's test drives headless Chromium).
test_packages=(
  git curl ca-certificates procps
  clang-14 libclang-rt-14-dev clang-format clang-tidy
  openssl
  libprotobuf-dev protobuf-compiler
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 sqlite3
  postgresql mariadb-server victoria-metrics prometheus
  chromium chromium-driver python3-selenium
)
# scripts/image-test.sh (label image): podman builds the Dockerfile with chroot isolation on a
# base made by mmdebstrap; the deploy tests (label deploy): kubectl renders deploy/, node runs
# the schema validator.
image_packages=(podman mmdebstrap uidmap)

packages=("${build_packages[@]}")
case "${1:-}" in
  --build) full=0 ;;
  "")
    full=1
    packages+=("${test_packages[@]}" "${image_packages[@]}")
    # Debian 12 packages kubectl as kubernetes-client (1.20, with kustomize built in); a kubectl
    # installed otherwise is used as it is.
    command -v kubectl >/dev/null || packages+=(kubernetes-client)
    command -v npm >/dev/null || packages+=(nodejs npm)
    ;;
  *) echo "usage: $0 [--build]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  # Package post-install scripts would start system-wide database services; tests start their own.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo_cmd[@]}" chmod +x /usr/sbin/policy-rc.d
    trap '"${sudo_cmd[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The Kubernetes schema validator of the deploy tests: no Debian 12 package holds a current
# Kubernetes schema, so it comes from npm, at the versions and hashes of the lock file.
if [ "$full" -eq 1 ]; then
  lock=tests/deploy/package-lock.json
  stamp=tests/deploy/node_modules/.installed-lock
  if ! cmp -s "$lock" "$stamp" 2>/dev/null; then
    echo "install-deps: npm ci in tests/deploy"
    npm ci --prefix tests/deploy --no-audit --no-fund --ignore-scripts --loglevel=error
    cp "$lock" "$stamp"
  fi
fi
