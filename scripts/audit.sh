#!/usr/bin/env bash
# Audit every installed dependency of the app and the tests against the PyPI/OSV advisory
# databases with pip-audit. Needs network access to pypi.org or osv.dev; exits 3 when that is
# not reachable (as on the offline CI machine), 1 when a known vulnerability is found or a
# dependency could not be audited (--strict).
# Usage: scripts/audit.sh [extra pip-audit arguments, e.g. --vulnerability-service osv]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The project's own package is local; every other installed distribution is audited.
.venv/bin/python -m pip freeze --exclude-editable | grep -v '^eusgist' > "$work/installed.txt"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -qq pip-audit==2.10.1
if ! "$work/venv/bin/python" - <<'PY'
import urllib.request
# A per-version JSON page, as pip-audit asks for (a mirror may serve only the package page).
for url in ("https://pypi.org/pypi/pip/23.2.1/json", "https://api.osv.dev/v1/vulns/PYSEC-2021-1"):
    try:
        urllib.request.urlopen(url, timeout=10)
        raise SystemExit(0)
    except Exception:
        pass
raise SystemExit(1)
PY
then
  echo "audit.sh: no advisory database reachable (pypi.org JSON API, osv.dev); nothing audited" >&2
  exit 3
fi
exec "$work/venv/bin/pip-audit" --requirement "$work/installed.txt" --no-deps --disable-pip \
  --strict --progress-spinner off "$@"
