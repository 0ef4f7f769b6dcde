"""Save and load a tabular model bundle: a folder ``weights/<name>/``.

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

import hashlib
import json
import logging
import math
import os
import shutil
import warnings
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
from eusgist.errors import BundleError, EusgistError
from eusgist.explain import METHODS, readable_name
from eusgist.explain import explain as shap_explain
from eusgist.models.portable import PortableModel

log = logging.getLogger(__name__)

__all__ = [
    "BUNDLE_FORMAT",
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
CARD = "model_card.json"
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
#: Largest JSON file of a bundle that is read, in bytes.
MAX_JSON_BYTES = 32 * 2**20
#: Libraries whose versions a bundle records and a loader compares.
VERSIONED = ("numpy", "scikit-learn", "xgboost", "shap")
INTENDED_USE = (
    "Research and teaching only; NOT for clinical use. Scores how much an ultrasound "
    "lesion's image features resemble the {positive} rather than the {negative} lesions of "
    "its training data (for eusgist: gastric GIST vs leiomyoma on endoscopic ultrasound). "
    "It has not been validated for diagnosis or treatment decisions and must not replace "
    "histopathology or a clinician."
)
_REQUIRED_CARD = ("name", "class_names", "positive_class", "threshold", "features", "files",
                  "library_versions")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    if radiomics_yaml is not None:
        (tmp / RADIOMICS_YAML).write_text(radiomics_yaml, encoding="utf-8")
    if backbone_weights is not None:
        _check_safetensors(Path(backbone_weights))
        shutil.copyfile(backbone_weights, tmp / BACKBONE)
    card: dict[str, Any] = {
        "bundle_format": BUNDLE_FORMAT,
        "name": name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "class_names": list(classes),
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
        "library_versions": library_versions(),
        "intended_use": INTENDED_USE.format(negative=classes[0], positive=classes[1]),
        "files": {p.name: file_sha256(p) for p in sorted(tmp.iterdir())},
    }
    (tmp / CARD).write_text(json.dumps(card, indent=1, default=_json_default))
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    log.info("bundle %s written to %s", name, folder)
    return folder


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
class Bundle:
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
    def name(self) -> str:
        """The model's name."""
        return str(self.card["name"])

    @property
    def classes(self) -> tuple[str, str]:
        """``(negative, positive)`` class names."""
        neg, pos = self.card["class_names"]
        return str(neg), str(pos)

    @property
    def threshold(self) -> float:
        """Decision threshold on the positive-class probability."""
        return float(self.card["threshold"])

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
    card = _read_card(folder)
    files = _check_files(folder, card)
    _check_versions(card["library_versions"], needs_xgboost=card.get("classifier") == "xgboost")
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
    selected = card["features"].get("selected") if isinstance(card["features"], dict) else None
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
    log.debug("bundle %s loaded from %s", card["name"], folder)
    return Bundle(folder, card, model, background.astype(np.float64))


def read_json_object(path: Path) -> dict[str, Any]:
    """A bundle's JSON file as a dict.

    Raises
    ------
    BundleError
        The file is missing, a symbolic link, over :data:`MAX_JSON_BYTES`, not UTF-8 JSON,
        nested too deeply to parse, or not a JSON object.
    """
    try:
        if path.is_symlink():
            raise BundleError(f"{path.name}: a symbolic link; bundles hold plain files only")
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise BundleError(f"{path.name}: {size:,} bytes; the limit is {MAX_JSON_BYTES:,}")
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BundleError(f"{path.name}: missing from {path.parent}") from exc
    except RecursionError:
        raise BundleError(f"{path.name}: not valid JSON (nested too deeply)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path.name}: not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise BundleError(f"{path.name}: expected a JSON object")
    return value


def _read_card(folder: Path) -> dict[str, Any]:
    card = read_json_object(folder / CARD)
    fmt = card.get("bundle_format")
    if isinstance(fmt, str) and fmt.startswith("eusgist-cnn/"):
        raise BundleError(
            f"{folder} is a CNN bundle ({fmt}); load it with eusgist.models.cnn_bundle"
        )
    if fmt != BUNDLE_FORMAT:
        raise BundleError(
            f"{CARD}: bundle format {fmt!r} is not supported; this version reads {BUNDLE_FORMAT!r}"
        )
    missing = [k for k in _REQUIRED_CARD if k not in card]
    if missing:
        raise BundleError(f"{CARD}: missing field(s) {missing}")
    if not isinstance(card["files"], dict) or not isinstance(card["library_versions"], dict):
        raise BundleError(f"{CARD}: 'files' and 'library_versions' must be objects")
    classes, threshold = card["class_names"], card["threshold"]
    if not (isinstance(classes, list) and len(classes) == 2
            and all(isinstance(c, str) for c in classes) and card["positive_class"] == classes[1]):
        raise BundleError(f"{CARD}: 'class_names' must be two names, the positive class second")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) \
            or not math.isfinite(threshold):
        raise BundleError(f"{CARD}: 'threshold' must be a finite number, got {threshold!r}")
    return card


def _check_files(folder: Path, card: Mapping[str, Any]) -> dict[str, str]:
    present = sorted(p.name for p in folder.iterdir())
    unsafe = [n for n in present if n.lower().endswith(PICKLE_SUFFIXES)]
    files: dict[str, str] = dict(card["files"])
    unsafe += [n for n in files if not n.endswith(SAFE_SUFFIXES) or Path(n).name != n]
    if unsafe:
        raise BundleError(
            f"{folder}: refusing {sorted(set(unsafe))}: bundles hold only JSON, safetensors, "
            "UBJSON and YAML, never pickles or code"
        )
    needed = [CLASSIFIER_JSON, CLASSIFIER_ARRAYS, BACKGROUND]
    if card.get("classifier") == "xgboost":
        needed.append(XGBOOST_MODEL)
    unlisted = [n for n in needed if n not in files]
    if unlisted:
        raise BundleError(f"{CARD}: does not list required file(s) {unlisted}")
    for name, digest in files.items():
        file = folder / name
        if file.is_symlink():
            raise BundleError(f"{name}: a symbolic link; bundles hold plain files only")
        if not file.is_file():
            raise BundleError(f"{name}: missing from {folder} (listed in {CARD})")
        if file_sha256(file) != digest:
            raise BundleError(
                f"{name}: checksum mismatch; the file changed after the bundle was written"
            )
    return files


def _major_minor(version: str) -> tuple[int, int] | None:
    parts = version.split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return None


def _check_versions(recorded: Mapping[str, Any], *, needs_xgboost: bool) -> None:
    installed = library_versions()
    for lib in VERSIONED:
        if lib == "xgboost" and not needs_xgboost or lib not in recorded:
            continue
        then, now = _major_minor(str(recorded[lib])), _major_minor(installed[lib])
        if then is None or now is None:
            raise BundleError(
                f"{CARD}: cannot compare {lib} versions {recorded[lib]!r} and {installed[lib]!r}"
            )
        if then[0] != now[0]:
            raise BundleError(
                f"{CARD}: made with {lib} {recorded[lib]}, installed {installed[lib]}: "
                "incompatible major version"
            )
        if then != now:
            message = (f"bundle made with {lib} {recorded[lib]}, installed {installed[lib]} "
                       "(minor version differs)")
            log.warning(message)
            warnings.warn(message, UserWarning, stacklevel=3)


def _read_arrays(path: Path) -> dict[str, NDArray[Any]]:
    try:
        return load_file(str(path))
    except FileNotFoundError as exc:
        raise BundleError(f"{path.name}: missing from {path.parent}") from exc
    except (SafetensorError, OSError, ValueError) as exc:
        raise BundleError(f"{path.name}: not a readable safetensors file ({exc})") from exc
