#!/bin/sh
# Runs every libFuzzer target of a DANEHOOK_FUZZ build for a fixed time on its seed corpus.
#   scripts/fuzz.sh BUILD_DIR SECONDS [TARGET...]
# New inputs go to BUILD_DIR/fuzz-corpus/<target> (the seeds in fuzz/corpus/ are only read),
# crashes to BUILD_DIR/fuzz-artifacts/. Exits non-zero when any target finds a crash, a leak or
# a timeout. The final statistics of each run are printed.
# The mutation seed is fixed (DANEHOOK_FUZZ_SEED, default 1) so that a CI run replays a prefix of
# the same input sequence that longer local runs (scripts/fuzz.sh BUILD 600) have already explored;
# set DANEHOOK_FUZZ_SEED=0 for a random seed when hunting.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=$1
seconds=$2
shift 2
targets=${*:-"fuzz_certificate fuzz_config fuzz_tsig_key_files fuzz_zone_file fuzz_journal fuzz_dns_answer fuzz_cloudflare_json"}
mkdir -p "$build/fuzz-artifacts"
status=0
for target in $targets; do
    work="$build/fuzz-corpus/$target"
    mkdir -p "$work"
    log="$build/fuzz-artifacts/$target.log"
    echo "fuzz: $target for ${seconds}s"
    if ! ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$build/fuzz/$target" -max_total_time="$seconds" -seed="${DANEHOOK_FUZZ_SEED:-1}" \
            -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$target-" \
            "$work" "$root/fuzz/corpus/$target" >"$log" 2>&1; then
        echo "fuzz: $target FAILED; see $log" >&2
        tail -n 60 "$log" >&2
        status=1
    fi
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+[[:space:]]+DONE)' "$log" | sed "s/^/  /" || true
done
exit $status
