#!/bin/sh
# Installs danehook's build and test dependencies from Debian 12 packages.
# Idempotent and quiet; needs root. Set DANEHOOK_DEPS=build to skip test-only servers.
set -eu
export DEBIAN_FRONTEND=noninteractive

build_packages="build-essential cmake pkg-config libssl-dev libcurl4-openssl-dev
  nlohmann-json3-dev libyaml-cpp-dev doctest-dev libldns-dev libunbound-dev libcli11-dev"
# Real programs the tests start on loopback, the openssl CLI for known-answer vectors, and clang
# with its sanitizer and libFuzzer runtimes for the fuzz targets.
test_packages="openssl bind9 bind9-utils bind9-dnsutils unbound ldnsutils python3 procps
  pdns-server pdns-backend-sqlite3 sqlite3 curl pebble certbot clang libclang-rt-14-dev knot postfix"

packages=$build_packages
if [ "${DANEHOOK_DEPS:-all}" != build ]; then
    packages="$packages $test_packages"
fi

missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$missing (run as root to install them)" >&2
    exit 1
fi
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
