#!/usr/bin/env bash
# Rebuild the model bundles shipped in weights/ (about 15 minutes on 2 CPU cores):
#   weights/phantom-demo-combined-svm  synthetic EUS phantom (NOT real patients)
#   weights/busi-combined-svm          real breast ultrasound (BUSI), benign vs malignant
# Both use radiomics (eus_default) + ResNet18 deep features from a fixed, randomly
# initialised backbone (pretrained weights cannot be downloaded here), stored in fp16 and
# shipped inside each bundle so inference reproduces the training features exactly.
# WORK chooses the scratch folder (default /tmp/eusgist-weights).
set -euo pipefail
cd "$(dirname "$0")/.."
py="${EUSGIST_VENV:-.venv}/bin/python"
work="${WORK:-/tmp/eusgist-weights}"
busi="${BUSI:-../shared/data/busi/manifest.csv}"
mkdir -p "$work"

backbone="$work/resnet18-random-seed0-fp16.safetensors"
"$py" - "$backbone" <<'PY'
import sys

import timm
import torch
from safetensors.torch import save_file

torch.manual_seed(0)
model = timm.create_model("resnet18", pretrained=False, num_classes=0)
save_file({k: v.half().contiguous() for k, v in model.state_dict().items()}, sys.argv[1])
PY

train() {  # NAME MANIFEST SOURCE-DESCRIPTION
  local name=$1 manifest=$2 source=$3
  "$py" -m eusgist extract --manifest "$manifest" --out "$work/$name.parquet" \
    --radiomics eus_default --backbones resnet18 --checkpoint "$backbone"
  "$py" -m eusgist train --features "$work/$name.parquet" --out "weights/$name" \
    --select combined-svm --seed 0 --backbone-weights "$backbone" --source "$source"
}

"$py" -m eusgist phantom --out "$work/phantom" --n-patients 120 --seed 2026 --overwrite
train phantom-demo-combined-svm "$work/phantom/manifest.csv" \
  "SYNTHETIC EUS phantom (eusgist phantom, 120 simulated patients, seed 2026): demonstration only, no real patient data"
train busi-combined-svm "$busi" \
  "BUSI breast ultrasound subset (Al-Dhabyani et al. 2020, CC0): 374 real images, benign vs malignant breast lesions; not EUS, not GIST/leiomyoma"
