#!/bin/sh
# API requests per certificate rollover with the Cloudflare provider, counted by the local API
# double (tests/providers/cloudflare/cloudflare_double.py): one certificate, two services
# (_25._tcp and _465._tcp of mail.example.net), two record types (3 1 1 and 2 1 1). The
# rollover lists each name once and writes one batch (adds + deletes).
# Usage: bench/cloudflare_requests.sh [BUILD_DIR]   (default: build)
set -eu
build=${1:-build}
test_binary="$build/tests/providers/cloudflare/test_provider_cloudflare"
if [ ! -x "$test_binary" ]; then
    echo "cloudflare_requests: $test_binary not built (cmake --build $build)" >&2
    exit 1
fi
"$test_binary" --test-case='cloudflare: API requests per rollover (bench)' --success=false 2>&1 |
    sed -n 's/.*MESSAGE: //p'
