#!/usr/bin/env bash
# Builds the Debian package: the release binary, its man page and shell
# completions (generated from the command-line definitions), then
# `cargo deb`. Needs cargo-deb (`cargo install cargo-deb`).
# Usage: packaging/deb.sh [--profile PROFILE]   (default: release)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
if [ "${1:-}" = "--profile" ]; then profile=$2; fi
cargo build --profile "$profile" --bin newshound
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
"target/$dir/newshound" generate --out target/assets
cargo deb --no-build --profile "$profile" --no-strip
