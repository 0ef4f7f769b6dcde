#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment and install what it needs.
#   scripts/setup.sh            runtime dependencies (requirements.txt)
#   scripts/setup.sh --dev      runtime + test dependencies (requirements-dev.txt)
# Re-running is fast: installation is skipped when the requirement files have not changed.
# EUSGIST_VENV chooses the environment's folder (default: .venv in the repository).
set -euo pipefail
cd "$(dirname "$0")/.."

req=requirements.txt
[[ "${1:-}" == "--dev" ]] && req=requirements-dev.txt
venv="${EUSGIST_VENV:-.venv}"
python="${PYTHON:-python3}"

if [[ ! -x "$venv/bin/python" ]]; then
  echo "setup: creating virtual environment in $venv" >&2
  "$python" -m venv "$venv"
fi
py="$venv/bin/python"

stamp="$venv/.eusgist-$(basename "$req" .txt).sha256"
dev_stamp="$venv/.eusgist-requirements-dev.sha256"  # a dev install covers the runtime one
want=$(cat requirements*.txt scripts/setup.sh pyproject.toml | sha256sum | cut -d' ' -f1)
for done in "$stamp" "$dev_stamp"; do
  if [[ -f "$done" && "$(cat "$done")" == "$want" ]]; then
    exit 0
  fi
done

echo "setup: installing $req into $venv" >&2
"$py" -m pip install -qq --upgrade pip setuptools wheel
# pyradiomics ships only an sdist whose build needs numpy present and no build isolation.
# requirements.txt pins numpy per Python version (markers): pip picks this Python's line.
"$py" -m pip install -qq -r <(grep -E '^numpy==' requirements.txt)
# Its setup.py also needs names Python 3.12 removed: eusgist.space supplies them for the build.
"$py" -m eusgist.space requirements-radiomics.txt
"$py" -m pip install -qq -r "$req"
"$py" -m pip install -qq --no-deps -e .
echo "$want" > "$stamp"
