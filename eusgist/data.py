"""Dataset manifests and lesion-level (or patient-level) splits.

A manifest is a CSV with the columns ``image, mask, label, patient_id, lesion_id`` and any
metadata columns after them; paths are relative to the CSV's folder and ``mask`` may be
empty for weakly supervised use (see docs/design.md). Splits keep every image of a lesion (or,
with ``group="patient"``, of a patient) on one side.
"""

from __future__ import annotations

import logging
import math
import os
import posixpath
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from eusgist.csvsafe import write_csv
from eusgist.errors import EusgistError, ManifestError

log = logging.getLogger(__name__)

REQUIRED_COLUMNS: tuple[str, ...] = ("image", "mask", "label", "patient_id", "lesion_id")
#: Labels taken as the positive class when none is named, in this order of preference.
DEFAULT_POSITIVE_LABELS: tuple[str, ...] = ("GIST", "malignant", "positive", "1")
#: How many offending rows an error message lists before it says "and N more".
MAX_ROWS_SHOWN = 5
#: Largest manifest CSV read, in bytes (about half a million rows).
MAX_MANIFEST_BYTES = 64 * 2**20
#: Pixel-spacing columns: a positive number of millimetres, or empty when unknown.
SPACING_COLUMNS: tuple[str, ...] = ("spacing_mm", "spacing_y_mm", "spacing_x_mm")

GroupBy = Literal["lesion", "patient"]


@dataclass(frozen=True)
class Manifest:
    """A validated manifest.

    Attributes
    ----------
    root : Path
        Folder the relative paths are resolved against (the CSV's folder).
    table : pandas.DataFrame
        One row per image; ``image``/``mask`` hold the paths as written in the CSV
        (``mask`` is ``""`` when absent); identifiers and labels are strings.
    classes : tuple of str
        ``(negative, positive)`` class names.
    """

    root: Path
    table: pd.DataFrame
    classes: tuple[str, str]

    @property
    def positive_label(self) -> str:
        """Name of the positive class (label 1)."""
        return self.classes[1]

    @property
    def y(self) -> np.ndarray:
        """Labels as 0/1 integers, 1 = positive class."""
        return (self.table["label"] == self.positive_label).to_numpy(dtype=np.int64)

    @property
    def has_masks(self) -> bool:
        """True when every row has a mask."""
        return bool((self.table["mask"] != "").all())

    def image_path(self, i: int) -> Path:
        """Absolute path of row ``i``'s image."""
        return self.root / self.table["image"].iat[i]

    def mask_path(self, i: int) -> Path | None:
        """Absolute path of row ``i``'s mask, or None when it has none."""
        mask = self.table["mask"].iat[i]
        return self.root / mask if mask else None

    def subset(self, rows: Sequence[int] | np.ndarray) -> Manifest:
        """A manifest of the given rows (positions), same root and classes."""
        return Manifest(self.root, self.table.iloc[list(rows)].reset_index(drop=True), self.classes)

    def __len__(self) -> int:
        return len(self.table)


def _rows(frame: pd.DataFrame, mask: pd.Series | np.ndarray) -> str:
    """CSV row numbers (1 = header, so data starts at 2) of the flagged rows, abbreviated."""
    rows = [int(i) + 2 for i in np.flatnonzero(np.asarray(mask))]
    shown = ", ".join(map(str, rows[:MAX_ROWS_SHOWN]))
    more = f" and {len(rows) - MAX_ROWS_SHOWN} more" if len(rows) > MAX_ROWS_SHOWN else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


def _leaves_root(path: str) -> bool:
    """True when a relative path climbs out of its folder (``../x``, ``a/../../x``)."""
    return posixpath.normpath(path.replace("\\", "/")).split("/")[0] == ".."


def _bad_spacing(value: object) -> bool:
    """True unless ``value`` is a positive finite number, or missing (blank, None, NaN)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True
    return not (math.isfinite(number) and number > 0)


def _resolve_classes(
    labels: pd.Series, positive_label: str | None, allowed: Sequence[str] | None, name: str
) -> tuple[str, str]:
    if allowed is not None:
        unknown = ~labels.isin(list(allowed))
        if unknown.any():
            values = sorted(set(labels[unknown]))
            raise ManifestError(
                f"{name}: unknown label(s) {values} in {_rows(labels.to_frame(), unknown)}; "
                f"expected one of {list(allowed)}"
            )
    present = sorted(set(labels))
    if len(present) < 2:
        raise ManifestError(
            f"{name}: only one class present ({present[0]!r}); two classes are needed"
            if present
            else f"{name}: no labels"
        )
    if len(present) > 2:
        raise ManifestError(f"{name}: {len(present)} classes {present}; exactly two are supported")
    if positive_label is None:
        positive_label = next((p for p in DEFAULT_POSITIVE_LABELS if p in present), None)
        if positive_label is None:
            raise ManifestError(
                f"{name}: cannot tell the positive class among {present}; name it "
                "(positive_label=... or --positive-label)"
            )
    if positive_label not in present:
        raise ManifestError(f"{name}: positive label {positive_label!r} not among labels {present}")
    negative = next(p for p in present if p != positive_label)
    return negative, positive_label


def validate_manifest(
    table: pd.DataFrame,
    root: Path,
    *,
    name: str = "manifest",
    positive_label: str | None = None,
    labels: Sequence[str] | None = None,
    check_files: bool = True,
    require_masks: bool = False,
    allow_outside_root: bool = False,
) -> Manifest:
    """Check a manifest table and return it as a :class:`Manifest`.

    Paths must stay inside ``root`` (no ``..`` climbing out of it) unless
    ``allow_outside_root``; absolute paths are always refused.

    Raises
    ------
    ManifestError
        Missing columns, empty table, blank or missing files, absolute paths or paths
        leaving ``root``, duplicate rows (the same image with the same mask; one image
        may carry several masks, e.g. :mod:`eusgist.roi_kinds` variants), a spacing that is
        not a positive number, unknown labels, a single class, a lesion with two labels or two patients,
        or (with ``require_masks``) rows without a mask. The message lists the rows.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ManifestError(f"{name}: missing column(s) {missing}; required: {list(REQUIRED_COLUMNS)}")
    if table.empty:
        raise ManifestError(f"{name}: no rows")
    table = table.copy()
    for col in REQUIRED_COLUMNS:
        table[col] = table[col].fillna("").astype(str).str.strip()
    for col in ("image", "label", "patient_id", "lesion_id"):
        blank = table[col] == ""
        if blank.any():
            raise ManifestError(f"{name}: empty {col} in {_rows(table, blank)}")
    absolute = table["image"].map(os.path.isabs) | table["mask"].map(os.path.isabs)
    if absolute.any():
        raise ManifestError(
            f"{name}: absolute path in {_rows(table, absolute)}; paths must be relative to the CSV"
        )
    outside = table["image"].map(_leaves_root) | table["mask"].map(_leaves_root)
    if outside.any() and not allow_outside_root:
        raise ManifestError(
            f"{name}: path outside the manifest's folder (..) in {_rows(table, outside)}; "
            "move the files under it, or allow it for trusted local data "
            "(allow_outside_root=True; CLI: --allow-outside-root)"
        )
    for col in (c for c in SPACING_COLUMNS if c in table.columns):
        bad = table[col].map(_bad_spacing)
        if bad.any():
            raise ManifestError(f"{name}: {col} must be a positive number of mm or empty, in "
                                f"{_rows(table, bad)}")
    dup = table.duplicated(["image", "mask"], keep="first")  # ROI variants share an image
    if dup.any():
        raise ManifestError(f"{name}: duplicate image in {_rows(table, dup)}")
    if require_masks:
        no_mask = table["mask"] == ""
        if no_mask.any():
            raise ManifestError(f"{name}: no mask in {_rows(table, no_mask)} (masks are required)")
    classes = _resolve_classes(table["label"], positive_label, labels, name)
    for col, what in (("label", "labels"), ("patient_id", "patients")):
        conflicting = table.groupby("lesion_id")[col].transform("nunique") > 1
        if conflicting.any():
            raise ManifestError(f"{name}: a lesion has two {what} in {_rows(table, conflicting)}")
    if check_files:
        for col in ("image", "mask"):
            paths = table[col]
            absent = (paths != "") & ~paths.map(lambda p: (root / p).is_file())
            if absent.any():
                first = paths[absent].iat[0]
                raise ManifestError(f"{name}: {col} file not found in {_rows(table, absent)} (first: {first})")
    return Manifest(root=root, table=table.reset_index(drop=True), classes=classes)


def read_manifest(path: str | os.PathLike[str], **kwargs: object) -> Manifest:
    """Read and validate a manifest CSV; keyword arguments as :func:`validate_manifest`.

    Identifier and label columns are read as text, so ``007`` stays ``007``. The file must
    be UTF-8 (a BOM is allowed) and at most :data:`MAX_MANIFEST_BYTES`.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{path.name}: {path.stat().st_size:,} bytes; the limit for a "
                            f"manifest is {MAX_MANIFEST_BYTES:,}")
    try:
        table = pd.read_csv(path, dtype={c: str for c in REQUIRED_COLUMNS}, keep_default_na=False,
                            encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise ManifestError(f"{path.name}: empty file, not a manifest CSV") from None
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path.name}: not a readable CSV, not UTF-8 text ({exc.reason} "
                            f"at byte {exc.start}); save it as CSV UTF-8") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise ManifestError(f"{path.name}: not a readable CSV ({str(exc)[:200]})") from None
    return validate_manifest(table, path.parent, name=path.name, **kwargs)  # type: ignore[arg-type]


def link_or_copy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Put ``src`` at ``dst`` for a derived dataset: a hard link (no copy of the pixels), a
    copy where links are not possible; an existing ``dst`` is kept."""
    dst = Path(dst)
    if dst.exists():
        return
    try:
        dst.hardlink_to(src)
    except OSError:
        shutil.copyfile(src, dst)


def write_manifest(table: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a manifest CSV with the required columns first; return its path.

    The table's paths must already be relative to ``path``'s folder. Text that a
    spreadsheet would run as a formula is neutralised (:mod:`eusgist.csvsafe`) except in
    the ``image`` and ``mask`` paths, which are written verbatim.
    """
    path = Path(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ManifestError(f"{path.name}: missing column(s) {missing}")
    extra = [c for c in table.columns if c not in REQUIRED_COLUMNS]
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_csv(table[list(REQUIRED_COLUMNS) + extra], path, keep=("image", "mask"))


def _groups(manifest: Manifest, group: GroupBy) -> np.ndarray:
    if group not in ("lesion", "patient"):
        raise EusgistError(f"group must be 'lesion' or 'patient', not {group!r}")
    return manifest.table[f"{group}_id"].to_numpy()


def _check_enough_groups(manifest: Manifest, groups: np.ndarray, n_splits: int, group: str) -> None:
    y = manifest.y
    for cls, name in enumerate(manifest.classes):
        n = len(set(groups[y == cls]))
        if n < n_splits:
            raise ManifestError(
                f"only {n} {group}(s) of class {name!r}; need at least {n_splits} to split"
            )


def grouped_kfold(
    manifest: Manifest, *, n_splits: int = 5, group: GroupBy = "lesion", seed: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Stratified K-fold over lesions (or patients): yields ``(train_rows, test_rows)``.

    No lesion (or patient) is ever on both sides of a fold. Rows repeating an image (ROI
    variants, :mod:`eusgist.roi_kinds`) follow that image's first row, so a manifest of ROI
    variants splits exactly as the manifest it was made from.
    """
    if n_splits < 2:
        raise EusgistError(f"n_splits must be at least 2, not {n_splits}")
    groups = _groups(manifest, group)
    _check_enough_groups(manifest, groups, n_splits, group)
    images = manifest.table["image"].astype(str).to_numpy()
    first = np.flatnonzero(~pd.Series(images).duplicated().to_numpy())
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for _, test in splitter.split(np.zeros(len(first)), manifest.y[first], groups[first]):
        in_test = np.isin(images, images[first[test]])
        yield np.flatnonzero(~in_test), np.flatnonzero(in_test)


def train_test_split(
    manifest: Manifest, *, test_size: float = 0.2, group: GroupBy = "lesion", seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, grouped train/test split (default 8:2, as zhao2026); returns row positions.

    ``test_size`` is met to the nearest ``1/round(1/test_size)`` of the groups.
    """
    if not 0.0 < test_size < 1.0:
        raise EusgistError(f"test_size must be between 0 and 1, not {test_size}")
    n_splits = max(2, round(1.0 / test_size))
    train, test = next(grouped_kfold(manifest, n_splits=n_splits, group=group, seed=seed))
    log.debug("split %d rows: %d train, %d test", len(manifest), len(train), len(test))
    return train, test
