#!/usr/bin/env bash
# The long versions of the CI's load and fuzz tests: run them for minutes instead of seconds.
#   LOAD_SECONDS   how long clients ask while documents change and the index rebuilds (CI: 8)
#   SCHEMA_FUZZ_EXAMPLES  schemathesis examples per operation (CI: 60)
#   HYPOTHESIS_PROFILE    "soak" runs the loader fuzzers with 5,000 examples each (CI: 60)
set -euo pipefail
cd "$(dirname "$0")/.."
export LOAD_SECONDS="${LOAD_SECONDS:-300}"
export SCHEMA_FUZZ_EXAMPLES="${SCHEMA_FUZZ_EXAMPLES:-1000}"
export HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-soak}"
python -m pytest -s tests/test_production.py tests/test_schema_fuzz.py tests/test_build.py::test_kill_9_during_build_keeps_the_previous_index "$@"
