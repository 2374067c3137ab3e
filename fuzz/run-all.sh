#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 600), two at a time,
# and prints each one's executions and findings. See README.md.
set -u
cd "$(dirname "$0")"
secs=${1:-600}
run() {
    local t=$1
    mkdir -p "corpus/$t" "artifacts/$t"
    cargo +nightly fuzz run -O "$t" "corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="artifacts/$t/" > "logs/$t.log" 2>&1
    echo "$t: exit $?; $(grep -E '^Done|stat::number_of_executed_units' "logs/$t.log" | tail -1)"
}
mkdir -p logs
run feed_parse & run match_reference & wait
run watchlist_compile & run config_validate & wait
run canonical_url
