"""One model-card schema for every bundle kind (tabular, CNN, volume CNN).

A bundle is a folder ``weights/<name>/`` with ``model_card.json`` and its weight files.
:class:`ModelCard` reads both card dialects already shipped — tabular cards
(``bundle_format``, ``class_names``, ``library_versions``, ``training_data``) and CNN cards
(``format``, ``classes``, ``versions``, ``training``) — and new cards are written in the
unified dialect (``format``, ``kind``, ``classes``, ``versions``, ``files``).

The rules are the same for every kind: every file the card lists (``files``: name →
SHA-256) is checked at load, and a library of another major version than recorded is a
:class:`~eusgist.errors.BundleError`, of another minor version a warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from eusgist.errors import BundleError

log = logging.getLogger(__name__)

__all__ = [
    "CARD",
    "CardFacts",
    "Kind",
    "ModelCard",
    "check_checksums",
    "check_versions",
    "file_sha256",
    "folder_name",
    "read_card",
    "read_json_object",
    "update_card",
]

CARD = "model_card.json"
#: Largest JSON file of a bundle that is read, in bytes.
MAX_JSON_BYTES = 32 * 2**20
#: ``tabular``: features → classifier; ``cnn``: a 2D CNN; ``3d``: a volume CNN (dims
#: ``"3d"`` or ``"2d-slice"``); ``router``: a bundle per ROI kind; ``ensemble``: the mean
#: log-odds of sibling bundles.
Kind = Literal["tabular", "cnn", "3d", "router", "ensemble"]
#: Format prefix of each kind's cards (a volume CNN is a ``eusgist-cnn`` bundle).
FORMATS = {"tabular": "eusgist-tabular/", "cnn": "eusgist-cnn/", "3d": "eusgist-cnn/",
           "router": "eusgist-router/", "ensemble": "eusgist-ensemble/"}


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_name(owner: Path, name: object, field: str, where: str = "beside it") -> str:
    """``name`` from ``owner``'s card, checked to be a plain folder name (no path, no ``..``):
    a bundle a router or an ensemble names beside itself (``where``).

    Raises
    ------
    BundleError
        ``name`` is not a string or not a bare folder name; the message names ``field``.
    """
    if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
        raise BundleError(f"{owner.name}/{CARD}: {field} must be the folder name of a bundle "
                          f"{where}, not {name!r}")
    return name


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


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class ModelCard:
    """A model card of any kind and dialect, normalised.

    Attributes
    ----------
    format : str
        ``eusgist-tabular/N`` or ``eusgist-cnn/N`` (empty when the card has none).
    kind : {"tabular", "cnn", "3d", "router", "ensemble"}
    name : str
    classes : (negative, positive)
    positive_class : str
    threshold : float
        Decision threshold on the positive-class probability (0.5 when unrecorded).
    expects : dict
        What the model takes (supervision, crop margin, input size, dims, phases...).
    features : dict
        A tabular model's ``input``/``selected`` feature names (empty for CNNs).
    files : dict
        File name → SHA-256 of every weight file (empty in the first CNN cards).
    versions : dict
        Library → version the bundle was made with.
    training_data : dict
        Source, splits and counts (the tabular ``training_data`` or CNN ``training``).
    test_metrics : dict
    intended_use : str
    created : str
    raw : dict
        The card as read.
    """

    format: str
    kind: Kind
    name: str
    classes: tuple[str, str]
    positive_class: str
    threshold: float
    expects: dict[str, Any] = field(default_factory=dict)
    features: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    training_data: dict[str, Any] = field(default_factory=dict)
    test_metrics: dict[str, Any] = field(default_factory=dict)
    intended_use: str = ""
    created: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, card: Mapping[str, Any], default_name: str = "") -> ModelCard:
        """Normalise a card of either dialect, without checking it (see :meth:`check`)."""
        fmt = str(card.get("format") or card.get("bundle_format") or "")
        expects = _dict(card.get("expects"))
        cnn = fmt.startswith(FORMATS["cnn"]) or card.get("kind") in ("cnn", "3d")
        kind: Kind = ("3d" if expects.get("dims", "2d") != "2d" else "cnn") if cnn else "tabular"
        for wrapper in ("router", "ensemble"):
            if fmt.startswith(FORMATS[wrapper]) or card.get("kind") == wrapper:
                kind = wrapper
        classes = card.get("classes", card.get("class_names"))
        pair = [str(c) for c in classes][:2] if isinstance(classes, list | tuple) else []
        neg, pos = (pair + ["negative", "positive"][len(pair):])[:2]
        threshold = card.get("threshold", 0.5)
        return cls(
            format=fmt, kind=kind, name=str(card.get("name") or default_name),
            classes=(str(neg), str(pos)), positive_class=str(card.get("positive_class", pos)),
            threshold=float(threshold) if isinstance(threshold, int | float) else math.nan,
            expects=expects, features=_dict(card.get("features")),
            files=_dict(card.get("files")),
            versions=_dict(card.get("versions") or card.get("library_versions")),
            training_data=_dict(card.get("training_data") or card.get("training")),
            test_metrics=_dict(card.get("test_metrics")),
            intended_use=str(card.get("intended_use") or ""),
            created=str(card.get("created") or ""), raw=dict(card),
        )

    @property
    def dims(self) -> str:
        """``"2d"`` (images), ``"2d-slice"`` or ``"3d"`` (volumes)."""
        return str(self.expects.get("dims", "2d")) if self.kind != "tabular" else "2d"

    def check(self, kind: Kind | Iterable[Kind] | None = None) -> ModelCard:
        """Return self when the card is of ``kind`` and its fields are well-formed; else raise
        BundleError. Missing fields take their defaults (classes ``negative``/``positive``,
        threshold 0.5); a kind's loader says which it requires."""
        kinds = {kind} if isinstance(kind, str) else set(kind or FORMATS)
        if self.kind not in kinds or not self.format.startswith(FORMATS[self.kind]):
            wanted = sorted({FORMATS[k] + "1" for k in kinds})
            raise BundleError(f"{CARD}: bundle format {self.format or None!r} is not supported "
                              f"here; this version reads {' or '.join(map(repr, wanted))}")
        if not self.format.endswith("/1"):
            raise BundleError(f"{CARD}: bundle format {self.format!r} is not supported; this "
                              f"version reads {FORMATS[self.kind] + '1'!r}")
        raw = self.raw
        classes = raw.get("classes", raw.get("class_names", ["negative", "positive"]))
        if not (isinstance(classes, list) and len(classes) == 2
                and all(isinstance(c, str) for c in classes)
                and raw.get("positive_class", classes[1]) == classes[1]):
            key = "classes" if "classes" in raw else "class_names"
            raise BundleError(f"{CARD}: {key!r} must be two names, the positive class second")
        threshold = raw.get("threshold", 0.5)
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) \
                or not math.isfinite(threshold):
            raise BundleError(f"{CARD}: 'threshold' must be a finite number, got {threshold!r}")
        for key in ("files", "versions", "library_versions", "expects"):
            if key in raw and not isinstance(raw[key], dict):
                raise BundleError(f"{CARD}: {key!r} must be an object")
        return self


class CardFacts:
    """``classes`` and ``threshold`` of anything holding a normalised ``model_card``."""

    model_card: ModelCard

    @property
    def classes(self) -> tuple[str, str]:
        """``(negative, positive)`` class names."""
        return self.model_card.classes

    @property
    def threshold(self) -> float:
        """Decision threshold on the positive-class probability."""
        return self.model_card.threshold


def read_card(folder: str | os.PathLike[str], kind: Kind | Iterable[Kind] | None = None
              ) -> ModelCard:
    """The checked card of the bundle in ``folder`` (of ``kind`` when given).

    Raises
    ------
    BundleError
        The card is missing, unreadable, of another kind or format, or incomplete.
    """
    folder = Path(folder)
    return ModelCard.from_dict(read_json_object(folder / CARD), folder.name).check(kind)


def check_checksums(folder: Path, files: Mapping[str, str]) -> None:
    """Raise BundleError unless every listed file is a plain file with its SHA-256."""
    for name, digest in files.items():
        file = folder / name
        if Path(name).name != name:
            raise BundleError(f"{CARD}: file name {name!r} is not a plain name")
        if file.is_symlink():
            raise BundleError(f"{name}: a symbolic link; bundles hold plain files only")
        if not file.is_file():
            raise BundleError(f"{name}: missing from {folder} (listed in {CARD})")
        if file_sha256(file) != digest:
            raise BundleError(
                f"{name}: checksum mismatch; the file changed after the bundle was written"
            )


def _major_minor(version: str) -> tuple[int, int] | None:
    parts = version.split("+")[0].split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return None


def check_versions(recorded: Mapping[str, Any], installed: Mapping[str, str],
                   libraries: Iterable[str]) -> None:
    """The one version rule: another major version is an error, another minor a warning.

    Libraries the card does not record are skipped.

    Raises
    ------
    BundleError
        A major version differs, or a version cannot be compared.
    """
    for lib in libraries:
        if lib not in recorded or lib not in installed:
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


def update_card(folder: str | os.PathLike[str], fields: Mapping[str, Any]) -> Path:
    """Set ``fields`` in the bundle's card, written atomically (a temporary file, then a
    rename); the weight files and their checksums are untouched. Returns the card's path."""
    path = Path(folder) / CARD
    card = read_json_object(path)
    card.update(fields)
    tmp = path.with_name(f".{CARD}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(card, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
