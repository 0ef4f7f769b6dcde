#!/usr/bin/env bash
# Install everything the tests need (first run only) and run the whole test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/test_data.py -k split
set -euo pipefail
cd "$(dirname "$0")/.."
[[ "${EUSGIST_SKIP_SYSTEM_DEPS:-0}" == 1 ]] || scripts/system-deps.sh
scripts/setup.sh --dev
exec "${EUSGIST_VENV:-.venv}/bin/python" -m pytest "$@"
