"""Save and load a tabular model bundle: a folder ``weights/<name>/``.

Its card is a :class:`~eusgist.bundles.card.ModelCard` (``kind`` ``"tabular"``).

Layout (every file but the card is listed in the card with its SHA-256):

- ``model_card.json`` — what the model is and expects, how it was trained and tested,
  library versions, intended use (research only).
- ``classifier.json`` + ``classifier.safetensors`` — the fitted pipeline in its
  :class:`~eusgist.models.portable.PortableModel` form: metadata and named arrays
  (medians, means, scales, support vectors or tree nodes).
- ``classifier.ubj`` — the XGBoost model in XGBoost's own UBJSON format (XGBoost only).
- ``shap_background.safetensors`` — raw rows of the selected features (SHAP background).
- ``radiomics.yaml`` — the pyradiomics parameters the radiomics columns were made with.
- ``backbone.safetensors`` — fine-tuned deep-feature backbone weights, when provided.

Loading reads only JSON, safetensors, UBJSON and YAML (``yaml.safe_load``) — data, never
code — and refuses pickle-like files outright. It checks checksums, the format, library
versions (a different major version is an error, a different minor version a warning) and
shapes, and raises :class:`BundleError` naming the file and the problem.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from numpy.typing import NDArray
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from eusgist import __version__
from eusgist.bundles.card import (
    CARD,
    MAX_JSON_BYTES,
    CardFacts,
    ModelCard,
    check_checksums,
    check_versions,
    file_sha256,
    read_card,
    read_json_object,
)
from eusgist.bundles.probe import PROBE, check_probe, read_probe, write_probe
from eusgist.errors import BundleError, EusgistError
from eusgist.explain import METHODS, readable_name
from eusgist.explain import explain as shap_explain
from eusgist.models.portable import PortableModel

log = logging.getLogger(__name__)

__all__ = [
    "BUNDLE_FORMAT",
    "CARD",
    "MAX_JSON_BYTES",
    "INTENDED_USE",
    "Bundle",
    "BundleError",
    "file_sha256",
    "library_versions",
    "load_bundle",
    "read_json_object",
    "save_bundle",
]

BUNDLE_FORMAT = "eusgist-tabular/1"
CLASSIFIER_JSON = "classifier.json"
CLASSIFIER_ARRAYS = "classifier.safetensors"
XGBOOST_MODEL = "classifier.ubj"
BACKGROUND = "shap_background.safetensors"
RADIOMICS_YAML = "radiomics.yaml"
BACKBONE = "backbone.safetensors"
#: Suffixes a bundle may hold; everything here is parsed as data.
SAFE_SUFFIXES = (".json", ".safetensors", ".ubj", ".yaml")
#: Suffixes of formats that run code when loaded (pickle and its relatives): refused.
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".npy", ".npz", ".sav", ".dill")
#: Libraries whose versions a bundle records and a loader compares.
VERSIONED = ("numpy", "scikit-learn", "xgboost", "shap")
INTENDED_USE = (
    "Research and teaching only; NOT for clinical use. Scores how much an ultrasound "
    "lesion's image features resemble the {positive} rather than the {negative} lesions of "
    "its training data (for eusgist: gastric GIST vs leiomyoma on endoscopic ultrasound). "
    "It has not been validated for diagnosis or treatment decisions and must not replace "
    "histopathology or a clinician."
)
#: Card fields a tabular bundle needs (either dialect's name for them).
_REQUIRED_CARD = (("name",), ("classes", "class_names"), ("positive_class",), ("threshold",),
                  ("features",), ("files",), ("versions", "library_versions"))


def library_versions() -> dict[str, str]:
    """Installed versions of :data:`VERSIONED` libraries and eusgist."""
    out = {"eusgist": __version__}
    for dist in VERSIONED:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            try:
                out[dist] = metadata.version(f"{dist}-cpu")  # e.g. the xgboost-cpu wheel
            except metadata.PackageNotFoundError:
                out[dist] = "missing"
    return out


# ---------------------------------------------------------------------------- saving
def save_bundle(
    path: str | os.PathLike[str],
    model: PortableModel,
    *,
    name: str,
    classes: Sequence[str],
    threshold: float,
    input_features: Sequence[str],
    background: NDArray[np.float64],
    info: Mapping[str, Any] | None = None,
    radiomics_yaml: str | None = None,
    backbone_weights: str | os.PathLike[str] | None = None,
) -> Path:
    """Write a bundle folder (replacing an existing bundle there); return its path.

    Parameters
    ----------
    path : path
        The bundle folder, e.g. ``weights/combined-svm``.
    model : PortableModel
        The fitted classifier pipeline.
    name : str
        Model name shown to users.
    classes : (negative, positive)
        Class names; the model scores ``classes[1]``.
    threshold : float
        Decision threshold on the positive-class probability.
    input_features : sequence of str
        The columns the pipeline was trained on (``model.features`` is the subset it reads).
    background : ndarray of shape (m, len(model.features))
        Raw SHAP background rows.
    info : mapping, optional
        More card fields (``model``, ``expects``, ``backbone``, ``training_data``,
        ``test_metrics``...), stored as given.
    radiomics_yaml : str, optional
        Text of the pyradiomics parameter file.
    backbone_weights : path, optional
        A fine-tuned backbone ``.safetensors`` file to ship with the bundle.

    Raises
    ------
    BundleError
        ``path`` exists and is not a bundle, or an argument does not fit the model.
    """
    folder = Path(path)
    if len(classes) != 2:
        raise BundleError(f"{folder}: need (negative, positive) class names, got {list(classes)}")
    missing = [f for f in model.features if f not in set(input_features)]
    if missing:
        raise BundleError(
            f"{folder}: selected feature(s) {missing[:5]} are not among the input features"
        )
    background = np.ascontiguousarray(background, dtype=np.float64)
    k = len(model.features)
    if background.ndim != 2 or background.shape[1] != k or background.shape[0] == 0:
        raise BundleError(
            f"{folder}: SHAP background of shape {background.shape} does not fit {k} features"
        )
    if folder.exists() and not (folder / CARD).is_file():
        raise BundleError(f"{folder} exists and is not a model bundle; choose another --out")
    tmp = folder.with_name(folder.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    meta, arrays, xgb = model.to_state()
    (tmp / CLASSIFIER_JSON).write_text(json.dumps({"format": BUNDLE_FORMAT, **meta}, indent=1))
    save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp / CLASSIFIER_ARRAYS))
    if xgb is not None:
        (tmp / XGBOOST_MODEL).write_bytes(xgb)
    save_file({"background": background}, str(tmp / BACKGROUND))
    probe = background[np.isfinite(background).all(axis=1)][:1]
    if len(probe):
        write_probe(tmp, {"classifier_input": probe,
                          "classifier_output": _classifier_probe(model, probe)})
    if radiomics_yaml is not None:
        (tmp / RADIOMICS_YAML).write_text(radiomics_yaml, encoding="utf-8")
    if backbone_weights is not None:
        _check_safetensors(Path(backbone_weights))
        shutil.copyfile(backbone_weights, tmp / BACKBONE)
    card: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "kind": "tabular",
        "name": name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "classes": list(classes),
        "positive_class": classes[1],
        "threshold": float(threshold),
        **dict(info or {}),
        "features": {
            "input": list(input_features),
            "selected": list(model.features),
            "selected_readable": [readable_name(f) for f in model.features],
        },
        "classifier": model.classifier,
        "explanation": {
            "method": METHODS[model.classifier][0],
            "space": METHODS[model.classifier][1],
            "background_rows": int(background.shape[0]),
        },
        "versions": library_versions(),
        "intended_use": INTENDED_USE.format(negative=classes[0], positive=classes[1]),
        "files": {p.name: file_sha256(p) for p in sorted(tmp.iterdir())},
    }
    (tmp / CARD).write_text(json.dumps(card, indent=1, default=_json_default))
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    log.info("bundle %s written to %s", name, folder)
    return folder


def _classifier_probe(model: PortableModel, rows: NDArray[np.float64]) -> NDArray[np.float64]:
    """Positive-class probability of raw rows of the selected features."""
    return model.predict_proba(pd.DataFrame(rows, columns=list(model.features)))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def _check_safetensors(path: Path) -> None:
    """Raise BundleError unless ``path`` parses as a safetensors file."""
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as fh:
            list(fh.keys())
    except (SafetensorError, OSError) as exc:
        raise BundleError(f"{path.name}: not a readable safetensors file ({exc})") from exc


# ---------------------------------------------------------------------------- loading
@dataclass(frozen=True, eq=False)
class Bundle(CardFacts):
    """A loaded tabular model bundle.

    Attributes
    ----------
    path : Path
    card : dict
        The parsed ``model_card.json``.
    model : PortableModel
    background : ndarray
        Raw SHAP background rows of :attr:`required_features`.
    """

    path: Path
    card: dict[str, Any]
    model: PortableModel
    background: NDArray[np.float64]

    @property
    def model_card(self) -> ModelCard:
        """The card, normalised."""
        return ModelCard.from_dict(self.card, self.path.name)

    @property
    def name(self) -> str:
        """The model's name."""
        return self.model_card.name

    @property
    def required_features(self) -> tuple[str, ...]:
        """The only feature columns the model reads (extract just these)."""
        return self.model.features

    def predict_proba(self, feature_frame: pd.DataFrame) -> NDArray[np.float64]:
        """Positive-class probability of each row (rows need :attr:`required_features`)."""
        return self.model.predict_proba(feature_frame)

    def predict(self, feature_frame: pd.DataFrame) -> NDArray[np.str_]:
        """Class name of each row at the bundle's decision threshold."""
        positive = self.predict_proba(feature_frame) >= self.threshold
        return np.where(positive, self.classes[1], self.classes[0])

    def explain(
        self, feature_row: pd.Series | pd.DataFrame | Mapping[str, float]
    ) -> list[tuple[str, float, float]]:
        """SHAP contributions of one row: ``(readable feature, value, shap)``, largest first."""
        if isinstance(feature_row, pd.DataFrame):
            if len(feature_row) != 1:
                raise EusgistError(f"explain takes one row, got {len(feature_row)}")
            frame = feature_row
        else:
            frame = pd.DataFrame([dict(feature_row)])
        return shap_explain(self.model, frame, self.background).contributions(0)


def load_bundle(path: str | os.PathLike[str]) -> Bundle:
    """Load and check a bundle written by :func:`save_bundle`.

    Raises
    ------
    BundleError
        A missing, changed, unreadable or pickle-like file, an unknown format or
        classifier type, an incompatible library version, or shapes that do not fit.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise BundleError(f"{folder}: no such bundle folder")
    info = _read_card(folder)
    card = info.raw
    files = _check_files(folder, info)
    installed = library_versions()
    check_versions(info.versions, installed, [lib for lib in VERSIONED if lib != "xgboost"
                                              or card.get("classifier") == "xgboost"])
    meta = read_json_object(folder / CLASSIFIER_JSON)
    if meta.get("format") != BUNDLE_FORMAT:
        raise BundleError(
            f"{CLASSIFIER_JSON}: format {meta.get('format')!r}, expected {BUNDLE_FORMAT!r}"
        )
    arrays = _read_arrays(folder / CLASSIFIER_ARRAYS)
    xgb = (folder / XGBOOST_MODEL).read_bytes() if XGBOOST_MODEL in files else None
    try:
        model = PortableModel.from_state(meta, arrays, xgb)
    except Exception as exc:  # noqa: BLE001 - any parse failure is "this bundle is broken"
        raise BundleError(f"{folder / CLASSIFIER_JSON}: {exc}") from exc
    selected = info.features.get("selected")
    if selected != list(model.features):
        raise BundleError(
            f"{CARD}: lists {len(selected or [])} selected features but the classifier reads "
            f"{len(model.features)} ({CLASSIFIER_JSON})"
        )
    background = _read_arrays(folder / BACKGROUND).get("background")
    if background is None or background.ndim != 2 or background.shape[1] != len(model.features):
        shape = None if background is None else background.shape
        raise BundleError(
            f"{BACKGROUND}: background of shape {shape} does not fit {len(model.features)} features"
        )
    if RADIOMICS_YAML in files:
        try:
            yaml.safe_load((folder / RADIOMICS_YAML).read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise BundleError(f"{RADIOMICS_YAML}: not valid YAML ({exc})") from exc
    if BACKBONE in files:
        _check_safetensors(folder / BACKBONE)
    probe = read_probe(folder) if PROBE in files else None
    if probe is not None:
        inputs = probe["classifier_input"].astype(np.float64)
        if inputs.ndim != 2 or inputs.shape[1] != len(model.features):
            raise BundleError(f"{PROBE}: probe of shape {inputs.shape} does not fit "
                              f"{len(model.features)} features")
        check_probe(folder.name, "classifier", _classifier_probe(model, inputs),
                    probe["classifier_output"])
    log.debug("bundle %s loaded from %s", info.name, folder)
    return Bundle(folder, card, model, background.astype(np.float64))


def _read_card(folder: Path) -> ModelCard:
    try:
        info = read_card(folder, "tabular")
    except BundleError:
        raw = read_json_object(folder / CARD)
        if ModelCard.from_dict(raw).kind != "tabular":
            raise BundleError(f"{folder} is a CNN bundle; load it with eusgist.bundles.cnn"
                              ) from None
        raise
    missing = [names[0] for names in _REQUIRED_CARD if not any(n in info.raw for n in names)]
    if missing:
        raise BundleError(f"{CARD}: missing field(s) {missing}")
    return info


def _check_files(folder: Path, info: ModelCard) -> dict[str, str]:
    present = sorted(p.name for p in folder.iterdir())
    unsafe = [n for n in present if n.lower().endswith(PICKLE_SUFFIXES)]
    files = info.files
    unsafe += [n for n in files if not n.endswith(SAFE_SUFFIXES) or Path(n).name != n]
    if unsafe:
        raise BundleError(
            f"{folder}: refusing {sorted(set(unsafe))}: bundles hold only JSON, safetensors, "
            "UBJSON and YAML, never pickles or code"
        )
    needed = [CLASSIFIER_JSON, CLASSIFIER_ARRAYS, BACKGROUND]
    if info.raw.get("classifier") == "xgboost":
        needed.append(XGBOOST_MODEL)
    unlisted = [n for n in needed if n not in files]
    if unlisted:
        raise BundleError(f"{CARD}: does not list required file(s) {unlisted}")
    check_checksums(folder, files)
    return files


def _read_arrays(path: Path) -> dict[str, NDArray[Any]]:
    try:
        return load_file(str(path))
    except FileNotFoundError as exc:
        raise BundleError(f"{path.name}: missing from {path.parent}") from exc
    except (SafetensorError, OSError, ValueError) as exc:
        raise BundleError(f"{path.name}: not a readable safetensors file ({exc})") from exc
