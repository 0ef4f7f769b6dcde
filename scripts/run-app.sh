#!/usr/bin/env bash
# Install what the app needs (first run only) and serve it on http://127.0.0.1:7860
# (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT change the address).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec "${EUSGIST_VENV:-.venv}/bin/python" app.py "$@"
