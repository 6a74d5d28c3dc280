#!/usr/bin/env bash
# Runs every test: the Rust core's unit, integration and doc tests (no Python involved), then
# the Python test-suite against the installed package (scripts/setup.sh builds it).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --locked
python3 -m pytest
