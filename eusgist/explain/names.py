"""Feature names for clinicians: ``rad_original_shape2D_Sphericity`` → "Shape: sphericity".

:func:`display_name` writes a feature column as its family ("Shape", "Intensity",
"Texture (GLCM)", ...), a plain-words name and, for a filtered image, the filter; the
technical column name stays available beside it (the Predict tab shows it on hover and in a
table). :func:`eusgist.explain.shap.readable_name` is the shorter form written into model
cards and SHAP summaries.
"""

from __future__ import annotations

import re

from eusgist.segment.shape import SEG_FEATURES

#: Radiomics feature class → the family a reader knows it by.
FAMILIES = {
    "firstorder": "Intensity",
    "shape": "Shape",
    "shape2D": "Shape",
    "glcm": "Texture (GLCM)",
    "glrlm": "Texture (GLRLM)",
    "glszm": "Texture (GLSZM)",
    "gldm": "Texture (GLDM)",
    "ngtdm": "Texture (NGTDM)",
}

#: Whole pyradiomics feature names that splitting into words would not explain.
_NAMES = {
    "Id": "inverse difference",
    "Idn": "inverse difference normalised",
    "Idm": "inverse difference moment",
    "Idmn": "inverse difference moment normalised",
    "Imc1": "informational measure of correlation 1",
    "Imc2": "informational measure of correlation 2",
    "MCC": "maximal correlation coefficient",
    "InverseVariance": "inverse variance",
    "RootMeanSquared": "root mean square",
    "MeshSurface": "area (mesh)",
    "PixelSurface": "area (pixels)",
    "PerimeterSurfaceRatio": "perimeter to area ratio",
}

#: Words rewritten after splitting a CamelCase name.
_WORDS = {"gray": "grey", "normalized": "normalised", "non": "non-"}
_SPLIT = re.compile(r"[A-Z]+(?=[A-Z][a-z]|\d|$)|[A-Z]?[a-z]+|\d+")
_LOG_SIGMA = re.compile(r"log-sigma-(\d+)-(\d+)-mm-3D")


def _ordinal(number: str) -> str:
    n = int(number)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _plain(name: str) -> str:
    """A pyradiomics feature name in lower-case words (``10Percentile`` → "10th percentile")."""
    if name in _NAMES:
        return _NAMES[name]
    words = [w if (w.isupper() and len(w) > 1) else w.lower() for w in _SPLIT.findall(name)]
    if len(words) > 1 and words[0].isdigit() and words[1] == "percentile":
        words[0] = _ordinal(words[0])
    text = " ".join(_WORDS.get(w, w) for w in words) or name
    return text.replace("non- ", "non-").replace("grey level", "grey-level")


def _filter(image_type: str) -> str:
    """The image a feature was computed on, in words; empty for the original image."""
    if image_type == "original":
        return ""
    sigma = _LOG_SIGMA.fullmatch(image_type)
    if sigma:
        return f"LoG-filtered, σ {sigma[1]}.{sigma[2]} mm"
    return image_type.replace("-", " ")


def display_name(column: str) -> str:
    """A feature column as a clinician reads it.

    Examples
    --------
    >>> display_name("rad_original_shape2D_Sphericity")
    'Shape: sphericity'
    >>> display_name("rad_original_glcm_Idmn")
    'Texture (GLCM): inverse difference moment normalised'
    >>> display_name("rad_log-sigma-2-0-mm-3D_firstorder_90Percentile")
    'Intensity: 90th percentile (LoG-filtered, σ 2.0 mm)'
    >>> display_name("deep_tf_efficientnet_lite0_0015")
    'CNN feature 15 (tf_efficientnet_lite0)'
    """
    name = column.removeprefix("rad_")
    parts = name.split("_")
    if len(parts) == 3 and parts[1] in FAMILIES:
        image_type, family, feature = parts
        where = _filter(image_type)
        return f"{FAMILIES[family]}: {_plain(feature)}" + (f" ({where})" if where else "")
    if column.startswith("deep_"):
        backbone, _, index = column[5:].rpartition("_")
        if backbone and index.isdigit():
            return f"CNN feature {int(index)} ({backbone})"
    if column in SEG_FEATURES:
        return f"Outline in the box: {SEG_FEATURES[column]}"
    return name
