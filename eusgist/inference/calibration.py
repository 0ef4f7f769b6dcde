"""A CNN's probability calibrated on held-out lesions (Platt scaling of its logit).

A network trained with cross-entropy on a few hundred lesions is over-confident. ``calibrate``
scores the bundle's own validation lesions (the grouped split of its training, never used to
fit the weights), fits ``P = sigmoid(a * logit + b)`` on them and records ``a``, ``b`` and what
they were fitted on in the card (``calibration``); the decision threshold is carried over
through the same map, so every decision stays as it was. Tabular SVMs need no step: their
Platt sigmoid is fitted on grouped out-of-fold decisions when they are trained.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit, logit

from eusgist.bundles.card import CARD, read_json_object, update_card
from eusgist.errors import EusgistError

log = logging.getLogger(__name__)

#: The card key holding the calibration.
CALIBRATION = "calibration"


def calibrated(card: Mapping[str, Any], logits: np.ndarray) -> np.ndarray:
    """Probabilities of ``logits``: the card's Platt map when it has one, else the sigmoid."""
    cal = card.get(CALIBRATION) or {}
    z = np.asarray(logits, dtype=np.float64)
    if cal.get("method") == "platt":
        z = float(cal["a"]) * z + float(cal["b"])
    return expit(z)


def fit_platt(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``(a, b)`` of ``sigmoid(a * logit + b)`` by a lightly regularised logistic fit (as the
    SVM's sigmoid: finite when the logits separate the classes)."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(y, dtype=int)
    if y.min() == y.max():
        raise EusgistError("calibration needs both classes among the validation lesions")
    fit = LogisticRegression(C=1.0).fit(np.asarray(logits, float).reshape(-1, 1), y)
    return float(fit.coef_[0, 0]), float(fit.intercept_[0])


def calibrate_cnn(model: str | os.PathLike[str], manifest: str | os.PathLike[str]) -> dict:
    """Fit and record the Platt map of a 2D CNN bundle on its validation lesions in
    ``manifest`` (the one it was trained on). Returns the card's new ``calibration``."""
    import torch

    from eusgist.data import read_manifest
    from eusgist.inference.catalog import load_model
    from eusgist.io import read_image, read_mask
    from eusgist.models.cnn import _splits
    from eusgist.models.cnn_config import CNNConfig

    loaded = load_model(model)
    if loaded.kind != "cnn" or loaded.dims != "2d":
        raise EusgistError(f"{loaded.name}: calibrate takes a 2D CNN bundle ({loaded.kind})")
    card = read_json_object(Path(loaded.path) / CARD)
    config = CNNConfig(**{k: v for k, v in card["training"]["config"].items()
                          if k in CNNConfig.__dataclass_fields__})
    data = read_manifest(manifest, positive_label=loaded.classes[1])
    _, val, _ = _splits(data, config)
    bundle = loaded.bundle
    logits = []
    with torch.inference_mode():
        for i in val:
            image = read_image(data.image_path(int(i))).array
            path = data.mask_path(int(i))
            roi = None if path is None else read_mask(path, like=image.shape) > 0
            x = bundle.preprocess(image, roi)
            logits.append(float(bundle.model(x[None].to(bundle.device))[0, 0]))
    z, y = np.array(logits), data.y[val]
    a, b = fit_platt(z, y)
    raw = float(card.get("threshold_uncalibrated", card["threshold"]))
    threshold = float(expit(a * logit(np.clip(raw, 1e-12, 1 - 1e-12)) + b))
    before = expit(z)
    after = expit(a * z + b)
    cal = {"method": "platt", "a": a, "b": b,
           "fitted_on": f"the bundle's validation split of {data.root.name}/"
                        f"{Path(manifest).name}: {len(val)} images, {int(y.sum())} positive "
                        "(held out from the weights)",
           "validation_brier": {"before": float(np.mean((before - y) ** 2)),
                                "after": float(np.mean((after - y) ** 2))}}
    update_card(loaded.path, {CALIBRATION: cal, "threshold_uncalibrated": raw,
                              "threshold": threshold})
    log.info("%s: Platt a=%.3f b=%.3f on %d validation images; Brier %.3f -> %.3f; threshold "
             "%.3f -> %.3f (the same decisions)", loaded.name, a, b, len(val),
             cal["validation_brier"]["before"], cal["validation_brier"]["after"], raw, threshold)
    return cal
