#!/usr/bin/env bash
# Runs fuzz targets for SECONDS each (default 600), two at a time, and
# prints each one's executions and findings: ./run-all.sh [SECONDS] [TARGET...]
# (every target when none is named). See README.md.
set -u
cd "$(dirname "$0")"
secs=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(feed_parse match_reference watchlist_compile config_validate canonical_url)
run() {
    local t=$1
    mkdir -p "corpus/$t" "artifacts/$t" logs
    cargo +nightly fuzz run -O "$t" "corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="artifacts/$t/" > "logs/$t.log" 2>&1
    echo "$t: exit $?; $(grep -E '^Done' "logs/$t.log" | tail -1)"
}
mkdir -p logs
cargo +nightly fuzz build -O > logs/build.log 2>&1 || { echo "build failed: logs/build.log"; exit 1; }
i=0
while [ $i -lt ${#targets[@]} ]; do
    run "${targets[$i]}" &
    [ $((i + 1)) -lt ${#targets[@]} ] && run "${targets[$((i + 1))]}" &
    wait
    i=$((i + 2))
done
