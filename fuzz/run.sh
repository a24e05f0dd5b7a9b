#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 600) one after another,
# starting from the seeds; new inputs land in fuzz/corpus (not committed),
# crashes in fuzz/artifacts. Needs a nightly toolchain and cargo-fuzz.
set -uo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
for target in front_matter config markdown markdown_paths template feed; do
  mkdir -p "corpus/$target"
  echo "== $target for ${seconds}s"
  cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -25
done
