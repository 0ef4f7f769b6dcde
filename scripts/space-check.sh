#!/usr/bin/env bash
# Build and start the app as a Hugging Face ZeroGPU Space would, then smoke-test it.
#   scripts/space-check.sh        (by hand: it downloads torch's CUDA build, several GB)
# 1. copies the Space's files (tracked and untracked, not ignored; no weights/) to a work folder;
# 2. a fresh venv on a ZeroGPU Python (3.12 as in README's front matter; pyenv here has 3.12.1,
#    ZeroGPU 3.12.12: same wheels; SPACE_PYTHON=...3.10.13 checks the other one), PyPI only (this machine's pip
#    configuration and local wheels are switched off), then a plain
#    `pip install -r requirements.txt` (pre-requirements.txt first when there is one);
# 3. the model repo (scripts/make_model_repo.py) put into a Hub cache folder as
#    `preload_from_hub` leaves it, read offline;
# 4. app.py started with SYSTEM=spaces, SPACE_ID, SPACES_ZERO_GPU=true, a stand-in `spaces` module
#    (its GPU decorator logs each call), EUSGIST_DATA_DIR as the Storage Bucket mount; the
#    first start builds pyradiomics (eusgist.space.ensure_pyradiomics);
# 5. scripts/space_smoke.py through gradio_client: list models, predict one example per
#    bundle, evaluate a small ZIP, save one annotation.
# SPACE_CHECK_DIR chooses the work folder (default /tmp/eusgist-space-check; replaced);
# SPACE_PYTHON the interpreter (default: pyenv 3.12, ZeroGPU runs 3.12.12; 3.10.13 works too).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work="${SPACE_CHECK_DIR:-/tmp/eusgist-space-check}"
python="${SPACE_PYTHON:-$HOME/.pyenv/versions/3.12.1/bin/python}"
model_repo="eusgist/eusgist-weights"
port="${SPACE_CHECK_PORT:-7871}"
t0=$SECONDS
step() { echo "space-check [$((SECONDS - t0)) s]: $*" >&2; }

"$python" -c 'import sys; assert sys.version_info[:2] in ((3, 12), (3, 10)), sys.version' \
  || { echo "space-check: $python is not Python 3.12 or 3.10 (ZeroGPU's)" >&2; exit 2; }
rm -rf "$work"
mkdir -p "$work/app" "$work/data" "$work/fake-spaces"

step "copying the Space's files to $work/app"
git ls-files -co --exclude-standard | grep -v '^weights/' | tar -cf - -T - | tar -xf - -C "$work/app"

# PyPI only, as on a Space: no pip.conf, no local wheel folders or constraints.
export PIP_CONFIG_FILE=/dev/null
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_CONSTRAINT PIP_NO_INDEX || true
step "fresh venv on $("$python" --version)"
"$python" -m venv "$work/venv"
py="$work/venv/bin/python"
"$py" -m pip install -q --upgrade pip
if [[ -f "$work/app/pre-requirements.txt" ]]; then
  step "pip install -r pre-requirements.txt"
  "$py" -m pip install -q -r "$work/app/pre-requirements.txt"
fi
step "pip install -r requirements.txt"
"$py" -m pip install -q -r "$work/app/requirements.txt"
"$py" -m pip freeze > "$work/freeze.txt"
step "installed: $(grep -iE '^(torch|torchvision|numpy|scipy|pandas|gradio)==' "$work/freeze.txt" | tr '\n' ' ')"

step "importing every eusgist module on $("$py" --version)"
(cd "$work/app" && "$py" -c 'import importlib, pkgutil, eusgist
for m in pkgutil.walk_packages(eusgist.__path__, "eusgist."):
    if not m.name.endswith(".__main__"):
        importlib.import_module(m.name)')

step "model repo -> Hub cache (as preload_from_hub leaves it)"
"$py" "$work/app/scripts/make_model_repo.py" "$work/model-repo" --weights "$repo/weights"
snap="$work/hf-home/hub/models--${model_repo/\//--}/snapshots/0000000000000000000000000000000000000000"
mkdir -p "$(dirname "$snap")" "$work/hf-home/hub/models--${model_repo/\//--}/refs"
cp -r "$work/model-repo" "$snap"
printf '%s' "$(basename "$snap")" > "$work/hf-home/hub/models--${model_repo/\//--}/refs/main"

cat > "$work/fake-spaces/spaces.py" <<'EOF'
"""Stand-in for ZeroGPU's `spaces` package: GPU(duration=...) logs each call, then runs it;
gradio_auto_wrap (which Gradio applies to every handler on a Space) leaves it as it is."""
import functools
import json
import os


def gradio_auto_wrap(fn):
    return fn


def GPU(fn=None, *, duration=60):
    def decorate(f):
        @functools.wraps(f)
        def run(*args, **kwargs):
            with open(os.environ["FAKE_SPACES_LOG"], "a") as log:
                log.write(json.dumps({"fn": f.__name__, "duration": duration}) + "\n")
            return f(*args, **kwargs)
        return run
    return decorate(fn) if fn is not None else decorate
EOF

export SYSTEM=spaces SPACE_ID="$model_repo-space-check" SPACES_ZERO_GPU=true HF_HOME="$work/hf-home" \
  HF_HUB_OFFLINE=1 EUSGIST_DATA_DIR="$work/data" FAKE_SPACES_LOG="$work/gpu-calls.jsonl" \
  GRADIO_SERVER_NAME=127.0.0.1 GRADIO_SERVER_PORT="$port" GRADIO_ANALYTICS_ENABLED=False \
  PYTHONPATH="$work/fake-spaces" XDG_CACHE_HOME="$work/cache"
unset EUSGIST_DATABASE_URL EUSGIST_WEIGHTS_DIR EUSGIST_AUTH_FILE || true
step "weights folder: $(cd "$work/app" && "$py" -c 'from eusgist.hub import resolve_weights_dir; print(resolve_weights_dir())')"
# Until the catalog asks eusgist.hub itself (see docs/space.md), hand it the resolved folder.
EUSGIST_WEIGHTS_DIR=$(cd "$work/app" && "$py" -c 'from eusgist.hub import resolve_weights_dir; print(resolve_weights_dir())')
export EUSGIST_WEIGHTS_DIR

step "with hf_oauth's variables the app gets Hugging Face sign-in routes (gradio[oauth])"
(cd "$work/app" && OAUTH_CLIENT_ID=check OAUTH_CLIENT_SECRET=check \
  OAUTH_SCOPES="openid profile read-memberships" OPENID_PROVIDER_URL=https://huggingface.co \
  "$py" -c 'from eusgist.ui import build_app
routes = {getattr(r, "path", "") for r in build_app().app.routes}
assert {"/login/huggingface", "/login/callback"} <= routes, sorted(routes)')

step "starting app.py (first start builds pyradiomics)"
(cd "$work/app" && exec "$py" app.py) > "$work/app.log" 2>&1 &
app_pid=$!
trap 'kill "$app_pid" 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  curl -fsS "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
  kill -0 "$app_pid" 2>/dev/null || { tail -40 "$work/app.log" >&2; echo "space-check: app.py died" >&2; exit 1; }
  sleep 1
done
step "app is up"

status=0
(cd "$work/app" && "$py" scripts/space_smoke.py "http://127.0.0.1:$port/" \
  --gpu-log "$FAKE_SPACES_LOG" --database "$work/data/eusgist.sqlite") || status=$?
if [[ $status -ne 0 ]]; then tail -60 "$work/app.log" >&2; fi
step "$([[ $status -eq 0 ]] && echo PASSED || echo FAILED) ($("$py" --version), $(grep -E '^torch==' "$work/freeze.txt"))"
exit "$status"
