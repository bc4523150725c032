#!/usr/bin/env bash
# Installs every Debian 12 package the build, the tests and the integration peers need.
# Idempotent: skips apt when everything is already present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git curl ca-certificates procps
  clang-14 libclang-rt-14-dev clang-format clang-tidy
  libboost-dev
  libsnappy-dev libzstd-dev zlib1g-dev libssl-dev openssl
  libprotobuf-dev protobuf-compiler
  libsimdjson-dev rapidjson-dev libre2-dev
  libsoci-dev libsqlite3-dev libpq-dev libmariadb-dev
  libyaml-cpp-dev libcli11-dev libabsl-dev libspdlog-dev libfmt-dev
  prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 sqlite3
  postgresql mariadb-server victoria-metrics prometheus
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
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
