"""Radiomics features of a 2D image + lesion mask with pyradiomics.

Settings are data: a pyradiomics parameter YAML (``imageType``, ``featureClass``,
``setting``), validated against pyradiomics' own schema. The package ships commented
protocols in ``eusgist/features/params/`` (``eus_default``: original + LoG + wavelet;
``eus_original``: original image only). Feature names are pyradiomics' with a ``rad_``
prefix, e.g. ``rad_original_firstorder_Mean``; diagnostics are never features.

The 2D ultrasound pitfalls are handled here: masks saved as 255 or RGB are binarised, RGB
frames become luma, the pixel spacing is set on the SimpleITK image (``(col, row)`` order),
``force2D`` is refused on native 2D input, and masks too small for texture statistics are
rejected with a message that says so.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import platform
import threading
import warnings
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from eusgist import __version__
from eusgist.errors import EusgistError
from eusgist.preprocess import as_gray, binarise_mask

if TYPE_CHECKING:
    from eusgist.io import LoadedImage

log = logging.getLogger(__name__)

#: Folder of the shipped parameter files.
PARAMS_DIR = Path(__file__).resolve().parent / "params"
#: Name of the shipped protocol used when none is given.
DEFAULT_PARAMS = "eus_default"
#: Column prefix of radiomics features in a feature table.
PREFIX = "rad_"
#: pyradiomics image type (parameter-file spelling) of each filtered-image name stem.
_IMAGE_TYPES = {
    "original": "Original",
    "log": "LoG",
    "wavelet": "Wavelet",
    "square": "Square",
    "squareroot": "SquareRoot",
    "logarithm": "Logarithm",
    "exponential": "Exponential",
    "gradient": "Gradient",
    "lbp": "LBP2D",
}
#: Smallest ROI (pixels) accepted when the settings name no ``minimumROISize``.
MIN_ROI_PIXELS = 4

#: pykwalify (pyradiomics' parameter validator) parses its schema with one module-global YAML
#: loader, which is not thread-safe: concurrent validations (two requests loading a bundle at
#: once) crash with random YAML errors. Every validation holds this lock.
_VALIDATION_LOCK = threading.RLock()


def shipped_params() -> list[Path]:
    """The parameter files shipped with the package."""
    return sorted(PARAMS_DIR.glob("*.yaml"))


def validate_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Check a parameter mapping against pyradiomics' schema.

    Returns
    -------
    dict
        The validated parameters.

    Raises
    ------
    ValueError
        If the schema rejects them; the message lists pykwalify's complaints.
    """
    import pykwalify.core
    import pykwalify.errors
    import radiomics

    _quiet_pyradiomics()
    schema, funcs = radiomics.getParameterValidationFiles()
    try:
        with _VALIDATION_LOCK, warnings.catch_warnings():  # pykwalify: old-style imports
            warnings.simplefilter("ignore", DeprecationWarning)
            core = pykwalify.core.Core(
                source_data=copy.deepcopy(dict(params)), schema_files=[schema], extensions=[funcs]
            )
            return dict(core.validate(raise_exception=True))
    except (pykwalify.errors.PyKwalifyException, ValueError) as exc:  # schema funcs raise ValueError
        detail = getattr(exc, "msg", None) or str(exc)
        raise EusgistError(f"invalid radiomics parameters: {detail}") from exc


def load_params(params: str | Path | Mapping[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """Resolve a protocol: a shipped name, a YAML path, or a mapping.

    Returns
    -------
    tuple
        ``(name, yaml_text, validated_params)``.
    """
    if isinstance(params, Mapping):
        name, text = "<dict>", yaml.safe_dump(dict(params), sort_keys=False)
    else:
        path = Path(params)
        if path.suffix == "" and len(path.parts) == 1:
            shipped = PARAMS_DIR / f"{path.name}.yaml"
            if not shipped.is_file():
                names = [p.stem for p in shipped_params()]
                raise EusgistError(f"unknown radiomics protocol {str(params)!r}; shipped: {names}")
            path = shipped
        if not path.is_file():
            raise EusgistError(f"radiomics parameter file not found: {path}")
        name, text = path.stem, path.read_text(encoding="utf-8")
        try:
            params = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise EusgistError(f"{path}: not valid YAML ({exc})") from exc
        if not isinstance(params, Mapping):
            raise EusgistError(f"{path}: expected a mapping of imageType/featureClass/setting")
    validated = validate_params(params)
    if validated.get("setting", {}).get("force2D"):
        raise EusgistError(
            f"radiomics protocol {name}: force2D must be false for 2D images (pyradiomics "
            "would drop one in-plane axis: 1D wavelets, one-direction texture matrices)"
        )
    return name, text, validated


def settings_hash(params: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of validated parameters (comments do not count)."""
    canon = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canon.encode()).hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of the libraries that determine radiomics values."""
    out = {"eusgist": __version__, "python": platform.python_version()}
    for dist in ("pyradiomics", "numpy", "SimpleITK", "PyWavelets"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "missing"
    return out


def _quiet_pyradiomics() -> None:
    """pyradiomics (and pykwalify, its validator) log every step at INFO; keep their errors."""
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    logging.getLogger("pykwalify").setLevel(logging.ERROR)


def _image_type_of(name: str) -> str:
    """pyradiomics image type (``LoG``) of a filtered-image name (``log-sigma-1-0-mm-3D``)."""
    stem = name.split("-", 1)[0]
    if stem.startswith("wavelet"):
        stem = "wavelet"
    if stem not in _IMAGE_TYPES:
        raise EusgistError(f"unknown radiomics image type in feature name: {name!r}")
    return _IMAGE_TYPES[stem]


def _log_sigma_name(sigma: float) -> str:
    return "log-sigma-%s-mm-3D" % str(float(sigma)).replace(".", "-")


def _split_name(feature: str) -> tuple[str, str, str]:
    bare = feature[len(PREFIX) :] if feature.startswith(PREFIX) else feature
    parts = bare.split("_")
    if len(parts) != 3 or not all(parts):
        raise EusgistError(
            f"not a radiomics feature name: {feature!r} (expected IMAGETYPE_CLASS_FEATURE, "
            "e.g. rad_original_firstorder_Mean)"
        )
    return parts[0], parts[1], parts[2]


def minimal_params(params: Mapping[str, Any], features: Iterable[str]) -> dict[str, Any]:
    """The smallest protocol computing `features` with the same settings as `params`.

    Image types and feature classes not needed are disabled and, for LoG, only the needed
    sigmas are kept, so a trained model's handful of features costs a handful.

    Raises
    ------
    ValueError
        If a feature needs an image type or class that `params` does not enable.
    """
    enabled_types: Mapping[str, Any] = params.get("imageType") or {"Original": {}}
    enabled_classes: Mapping[str, Any] = params.get("featureClass") or {}
    setting = params.get("setting", {})
    image_types: dict[str, dict[str, Any]] = {}
    classes: dict[str, set[str]] = {}
    for feature in features:
        type_name, cls, feat = _split_name(feature)
        image_type = _image_type_of(type_name)
        if image_type not in enabled_types:
            raise EusgistError(f"feature {feature!r} needs image type {image_type}, not enabled")
        if enabled_classes and cls not in enabled_classes:
            raise EusgistError(f"feature {feature!r} needs feature class {cls}, not enabled")
        custom = dict(enabled_types[image_type] or {})
        if image_type == "LoG":
            sigmas = custom.get("sigma", setting.get("sigma", []))
            wanted = [s for s in sigmas if _log_sigma_name(s) == type_name]
            if not wanted:
                raise EusgistError(f"feature {feature!r}: its LoG sigma is not in the protocol")
            have = image_types.get("LoG", {}).get("sigma", [])
            custom["sigma"] = sorted(set(have) | set(wanted))
        image_types[image_type] = custom
        classes.setdefault(cls, set()).add(feat)
    return {
        "imageType": image_types,
        "featureClass": {cls: sorted(names) for cls, names in classes.items()},
        "setting": dict(setting),
    }


def _roi_checks(mask: np.ndarray, setting: Mapping[str, Any]) -> None:
    """Clear messages for the masks pyradiomics would reject cryptically."""
    n = int(mask.sum())
    minimum = int(setting.get("minimumROISize") or MIN_ROI_PIXELS)
    if n < minimum:
        raise EusgistError(
            f"mask too small for radiomics: {n} lesion pixel{'s' if n != 1 else ''}, "
            f"at least {minimum} needed"
        )
    if mask.all():
        raise EusgistError(
            "mask covers the whole image: outline the lesion, leaving background around it "
            "(pyradiomics finds no lesion label in a mask without background)"
        )
    rows = int(mask.any(axis=1).sum())
    cols = int(mask.any(axis=0).sum())
    if min(rows, cols) < 2:
        raise EusgistError(
            f"mask is a line ({rows} row(s) x {cols} column(s)): radiomics needs a 2D region"
        )


def _per_image_type(features: Iterable[str]) -> dict[str, dict[str, list[str]]]:
    """``{filtered-image name: {class: [feature, ...]}}`` of feature names."""
    wanted: dict[str, dict[str, set[str]]] = {}
    for feature in features:
        type_name, cls, feat = _split_name(feature)
        wanted.setdefault(type_name, {}).setdefault(cls, set()).add(feat)
    return {t: {c: sorted(f) for c, f in classes.items()} for t, classes in wanted.items()}


def _selective_extractor(params: Mapping[str, Any], features: Sequence[str]) -> Any:
    """A pyradiomics extractor computing exactly `features` (with :func:`minimal_params`).

    pyradiomics enables feature classes for every image type and every wavelet sub-band;
    this one computes, on each filtered image, only the classes and features asked of
    that image and skips the others (e.g. 7 of 8 wavelet sub-bands), so the values are
    the same as a full extraction's.
    """
    from radiomics import featureextractor, getFeatureClasses

    wanted = _per_image_type(features)

    class _Selective(featureextractor.RadiomicsFeatureExtractor):  # type: ignore[misc]
        def computeFeatures(  # noqa: N802 (pyradiomics' name)
            self, image: Any, mask: Any, imageTypeName: str, **kwargs: Any  # noqa: N803
        ) -> dict[str, Any]:
            out: dict[str, Any] = {}
            classes = getFeatureClasses()
            for cls, names in wanted.get(imageTypeName, {}).items():
                if cls.startswith("shape"):
                    continue  # computed once by execute()
                computer = classes[cls](image, mask, **kwargs)
                for name in names:
                    computer.enableFeatureByName(name)
                for name, value in computer.execute().items():
                    out[f"{imageTypeName}_{cls}_{name}"] = value
            return out

    with _VALIDATION_LOCK, warnings.catch_warnings():  # its pykwalify validation warns
        warnings.simplefilter("ignore", DeprecationWarning)
        return _Selective(copy.deepcopy(minimal_params(params, features)))


class RadiomicsExtractor:
    """pyradiomics on one 2D image and its lesion mask.

    Parameters
    ----------
    params : str, Path or Mapping
        A shipped protocol name (``"eus_default"``, ``"eus_original"``), a path to a
        pyradiomics parameter YAML, or the parsed mapping.

    Attributes
    ----------
    name : str
        Protocol name (file stem, or ``"<dict>"``).
    params_yaml : str
        The protocol's text as given (comments included).
    """

    def __init__(self, params: str | Path | Mapping[str, Any] = DEFAULT_PARAMS) -> None:
        self.name, self.params_yaml, self._params = load_params(params)
        self._extractors: dict[frozenset[str] | None, Any] = {}

    @property
    def settings(self) -> dict[str, Any]:
        """The validated parameters (``imageType``, ``featureClass``, ``setting``)."""
        return copy.deepcopy(self._params)

    @property
    def settings_hash(self) -> str:
        """:func:`settings_hash` of :attr:`settings`."""
        return settings_hash(self._params)

    @property
    def provenance(self) -> dict[str, Any]:
        """What a feature table needs to say how its radiomics columns were made."""
        return {
            "radiomics_params_name": self.name,
            "radiomics_params_yaml": self.params_yaml,
            "radiomics_settings": self.settings,
            "radiomics_settings_hash": self.settings_hash,
            "radiomics_versions": library_versions(),
        }

    def _extractor(self, only: frozenset[str] | None) -> Any:
        if only not in self._extractors:
            from radiomics import featureextractor

            _quiet_pyradiomics()
            if only is None:
                with _VALIDATION_LOCK, warnings.catch_warnings():  # pykwalify warns
                    warnings.simplefilter("ignore", DeprecationWarning)
                    extractor = featureextractor.RadiomicsFeatureExtractor(
                        copy.deepcopy(self._params))
            else:
                extractor = _selective_extractor(self._params, sorted(only))
            extractor.settings["additionalInfo"] = False
            self._extractors[only] = extractor
        return self._extractors[only]

    def extract(
        self,
        image: LoadedImage | np.ndarray,
        mask: np.ndarray,
        spacing: Sequence[float] | None = None,
        *,
        only: Sequence[str] | None = None,
    ) -> dict[str, float]:
        """Radiomics features of the lesion.

        Parameters
        ----------
        image : LoadedImage or numpy.ndarray
            2D grayscale (or RGB) image; a :class:`~eusgist.io.LoadedImage` brings its
            spacing.
        mask : numpy.ndarray
            Lesion mask of the image's size; any non-zero value is lesion.
        spacing : sequence of float, optional
            ``(row, col)`` pixel spacing in mm; overrides the image's. Unknown = 1.
        only : sequence of str, optional
            Feature names (with or without ``rad_``) to compute; the extraction is reduced
            to the image types and classes they need.

        Returns
        -------
        dict
            ``{"rad_<pyradiomics name>": value}``, diagnostics excluded.

        Raises
        ------
        ValueError
            Empty, tiny, line-shaped or mismatched masks, bad spacing, or a pyradiomics
            failure (its message included).
        """
        import SimpleITK as sitk

        array = getattr(image, "array", image)
        if spacing is None:
            spacing = getattr(image, "spacing", None)
        gray = as_gray(array)
        roi = binarise_mask(mask, gray.shape)
        _roi_checks(roi, self._params.get("setting", {}))
        row_mm, col_mm = (1.0, 1.0) if spacing is None else (float(s) for s in spacing[-2:])
        if not (np.isfinite([row_mm, col_mm]).all() and row_mm > 0 and col_mm > 0):
            raise EusgistError(f"pixel spacing must be positive, got {tuple(spacing or ())}")
        sitk_image = sitk.GetImageFromArray(gray)
        sitk_mask = sitk.GetImageFromArray(roi.astype(np.uint8))
        for img in (sitk_image, sitk_mask):
            img.SetSpacing((col_mm, row_mm))  # SimpleITK is (x, y) = (col, row)
        key = None if only is None else frozenset(PREFIX + "_".join(_split_name(f)) for f in only)
        try:
            result = self._extractor(key).execute(sitk_image, sitk_mask, label=1)
        except (ValueError, RuntimeError, IndexError, ZeroDivisionError) as exc:
            raise EusgistError(f"radiomics extraction failed: {exc}") from exc
        features = {
            PREFIX + name: float(value)
            for name, value in result.items()
            if not name.startswith("diagnostics_")
        }
        if key is None:
            return features
        missing = sorted(key - features.keys())
        if missing:
            raise EusgistError(f"radiomics features not produced by these settings: {missing}")
        return {name: features[name] for name in sorted(key)}
