#!/usr/bin/env bash
# Rebuild the model bundles shipped in weights/ and their examples/ (about 30 minutes on 2
# free CPU cores, most of it the CNN):
#   weights/phantom-demo-combined-svm  synthetic EUS phantom (NOT real patients)
#   weights/busi-combined-svm          real breast ultrasound (BUSI), benign vs malignant
#   weights/busi-resnet18-cnn          the same BUSI data, end-to-end ResNet18 (fp16, 22 MB)
# The two tabular bundles use radiomics (eus_default) + ResNet18 deep features from a randomly initialised
# backbone (pretrained weights cannot be downloaded here). Random init is seeded
# (eusgist.features.deep.RANDOM_INIT_SEED) and the card records it, so inference rebuilds
# the same backbone with the pinned torch/timm versions instead of shipping its weights.
# WORK chooses the scratch folder (default /tmp/eusgist-weights).
set -euo pipefail
cd "$(dirname "$0")/.."
py="${EUSGIST_VENV:-.venv}/bin/python"
work="${WORK:-/tmp/eusgist-weights}"
busi="${BUSI:-../shared/data/busi/manifest.csv}"
mkdir -p "$work"

train() {  # NAME MANIFEST SOURCE-DESCRIPTION
  local name=$1 manifest=$2 source=$3
  "$py" -m eusgist extract --manifest "$manifest" --out "$work/$name.parquet" \
    --radiomics eus_default --backbones resnet18 --random-init
  "$py" -m eusgist train --features "$work/$name.parquet" --out "weights/$name" \
    --select combined-svm --seed 0 --source "$source"
  "$py" scripts/make_examples.py "weights/$name" "$work/$name.parquet" "$manifest"
}

"$py" -m eusgist phantom --out "$work/phantom" --n-patients 120 --seed 2026 --overwrite
train phantom-demo-combined-svm "$work/phantom/manifest.csv" \
  "SYNTHETIC EUS phantom (eusgist phantom, 120 simulated patients, seed 2026): demonstration only, no real patient data"
busi_source="BUSI breast ultrasound subset (Al-Dhabyani et al. 2020, CC0): 374 real images, benign vs malignant breast lesions; not EUS, not GIST/leiomyoma"
train busi-combined-svm "$busi" "$busi_source"

"$py" -m eusgist train-cnn --manifest "$busi" --arch resnet18 --no-pretrained --supervision strong \
  --input-size 128 --epochs 40 --patience 10 --batch-size 32 --lr 1e-3 --seed 0 \
  --source "$busi_source. ResNet18 from random init (no pretrained weights offline), 128 px ROI crops" \
  --out "$work/busi-resnet18-cnn"
mkdir -p weights/busi-resnet18-cnn
cp "$work"/busi-resnet18-cnn/{model.safetensors,model_card.json,test_predictions.csv,training_curves.csv,training_curves.png} \
  weights/busi-resnet18-cnn/  # not checkpoint.pt: a resumable training state, pickled, 180 MB
rm -rf examples/busi-resnet18-cnn && cp -r examples/busi-combined-svm examples/busi-resnet18-cnn
