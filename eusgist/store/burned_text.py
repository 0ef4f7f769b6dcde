"""Find burned-in text (names, IDs, dates, scanner settings) in image frames and blank it.

The detector is PaddleOCR's PP-OCRv4 text detection network (DB, differentiable
binarisation; Apache-2.0), as the ONNX file that the ``rapidocr-onnxruntime`` wheel ships,
run with ``onnxruntime`` on the CPU: nothing is downloaded, and only detection runs (boxes
of text, no recognition). The model is loaded on first use, once per process. The network's
post-processing (threshold the text probability map, keep components whose mean probability
is high enough, grow each box as DB's "unclip" does) is reimplemented here with numpy and
scipy for axis-aligned boxes, so OpenCV is never imported. Components thicker than 4 % of
the frame's short side are dropped: the network takes some lesions for text. Checked on the
374 BUSI breast ultrasound images (with masks): the boxes cover 0.3 % of an image on average
and touch a lesion in 23 images, at most 27 % of it, where caliper labels ("+1", "2+") are
burned in beside it; on pydicom's GE, Philips, SonoSite and Aloka screens every name, ID,
date and time is found.

Boxes are ``(x0, y0, x1, y1)`` in pixels of the frame, end-exclusive, like
:class:`eusgist.store.deid.Redaction` rectangles.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from eusgist.errors import EusgistError

if TYPE_CHECKING:
    import onnxruntime

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]

#: The detection model inside the rapidocr-onnxruntime wheel (package, path in it).
MODEL_PACKAGE = "rapidocr_onnxruntime"
MODEL_FILE = "models/ch_PP-OCRv4_det_infer.onnx"
#: Frames are scaled so that the short side is at least this (small text needs it) ...
_MIN_SIDE = 640
#: ... and the long side at most this (time grows with the area); then to multiples of 32.
_MAX_SIDE = 1280
#: DB post-processing as PaddleOCR ships it: pixel threshold, box score, unclip ratio.
_PIXEL_THRESHOLD = 0.3
_BOX_THRESHOLD = 0.5
_UNCLIP_RATIO = 1.6
#: A text line is thin: a component thicker than this fraction of the short side (in both
#: directions) is tissue that looks like text to the network (a lesion, a bright band).
_MAX_THICKNESS = 0.04
#: Frames with a side shorter than this hold no readable text and are not searched.
MIN_FRAME_SIDE = 32
#: Pixels added around every box (anti-aliased glyph edges), in frame pixels.
MARGIN = 2
#: Frames of a cine looked at (evenly spaced, first and last included).
MAX_FRAMES = 8
_PREVIEW_COLOUR = (255, 40, 40)

_lock = threading.Lock()
_session: onnxruntime.InferenceSession | None = None


def model_path() -> Path:
    """The detection model file, found without importing its package (which needs OpenCV).

    Raises
    ------
    EusgistError
        When ``rapidocr-onnxruntime`` is not installed.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / MODEL_FILE
        if path.is_file():
            return path
    raise EusgistError(
        "burned-in text detection needs the rapidocr-onnxruntime package "
        "(pip install -r requirements.txt); or import with redact='none'"
    )


def _detector() -> onnxruntime.InferenceSession:
    """The ONNX session, created on first use and shared (``run`` is thread-safe)."""
    global _session
    with _lock:
        if _session is None:
            path = model_path()
            try:
                import onnxruntime
            except ImportError as exc:
                raise EusgistError(
                    "burned-in text detection needs onnxruntime "
                    "(pip install -r requirements.txt); or import with redact='none'"
                ) from exc
            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3
            _session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
            log.info("loaded the text detector %s", path.name)
        return _session


def as_rgb8(frame: np.ndarray) -> np.ndarray:
    """A frame as ``(H, W, 3)`` uint8: gray repeated, alpha dropped; other dtypes stretched
    from their minimum to their maximum (16-bit, float, modality values)."""
    array = np.asarray(frame)
    if array.ndim == 3 and array.shape[-1] in (1, 2):
        array = array[..., 0]
    elif array.ndim == 3 and array.shape[-1] >= 3:
        array = array[..., :3]
    if array.ndim not in (2, 3) or min(array.shape[:2]) < 1:
        raise EusgistError(f"a frame must be (H, W) or (H, W, C), not {array.shape}")
    if array.dtype != np.uint8:
        values = np.nan_to_num(array.astype(np.float64))
        low, high = float(values.min()), float(values.max())
        scale = 255.0 / (high - low) if high > low else 0.0
        array = np.clip(np.rint((values - low) * scale), 0, 255).astype(np.uint8)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    return np.ascontiguousarray(array)


def _network_size(height: int, width: int) -> tuple[int, int]:
    scale = max(1.0, _MIN_SIDE / min(height, width))
    scale = min(scale, _MAX_SIDE / max(height, width))
    return (
        max(32, int(round(height * scale / 32)) * 32),
        max(32, int(round(width * scale / 32)) * 32),
    )


def _probability_map(rgb: np.ndarray) -> np.ndarray:
    height, width = _network_size(*rgb.shape[:2])
    resized = np.asarray(Image.fromarray(rgb).resize((width, height), Image.BILINEAR))
    bgr = resized[..., ::-1].astype(np.float32)  # PaddleOCR was trained on OpenCV's BGR
    batch = ((bgr / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)[None]
    session = _detector()
    (output,) = session.run(None, {session.get_inputs()[0].name: batch})
    return np.asarray(output)[0, 0]


def find_text_boxes(image: np.ndarray, *, margin: int = MARGIN) -> list[Box]:
    """Boxes around the text burned into one frame.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)``; uint8, or any other
        numeric dtype (stretched to 0-255 first).
    margin : int
        Pixels added on every side of each box, beyond the detector's own growth.

    Returns
    -------
    list of (x0, y0, x1, y1)
        End-exclusive, clipped to the frame, top to bottom then left to right; none for a
        frame with a side under :data:`MIN_FRAME_SIDE` pixels.

    Raises
    ------
    EusgistError
        When the detector is not installed or the array is not a frame.
    """
    if margin < 0:
        raise EusgistError(f"text box margin {margin} must be >= 0")
    rgb = as_rgb8(image)
    rows, cols = rgb.shape[:2]
    if min(rows, cols) < MIN_FRAME_SIDE:
        return []
    probability = _probability_map(rgb)
    scale_y, scale_x = rows / probability.shape[0], cols / probability.shape[1]
    thickest = _MAX_THICKNESS * min(probability.shape)
    text = ndimage.binary_dilation(probability > _PIXEL_THRESHOLD, np.ones((2, 2), bool))
    labels, _ = ndimage.label(text, np.ones((3, 3), bool))
    boxes = []
    for found in ndimage.find_objects(labels):
        if found is None:
            continue
        ys, xs = found
        height, width = ys.stop - ys.start, xs.stop - xs.start
        if not 3 <= min(height, width) <= thickest or probability[found].mean() < _BOX_THRESHOLD:
            continue
        grow = height * width * _UNCLIP_RATIO / (2 * (height + width))
        boxes.append((
            max(0, int(np.floor((xs.start - grow) * scale_x)) - margin),
            max(0, int(np.floor((ys.start - grow) * scale_y)) - margin),
            min(cols, int(np.ceil((xs.stop + grow) * scale_x)) + margin),
            min(rows, int(np.ceil((ys.stop + grow) * scale_y)) + margin),
        ))
    return sorted(boxes, key=lambda box: (box[1], box[0]))


def frame_picks(n_frames: int) -> list[int]:
    """Indices of the frames of a cine searched for text: up to :data:`MAX_FRAMES`, evenly
    spaced, the first and last included (burned-in text stays put from frame to frame)."""
    if n_frames < 1:
        return []
    picks = np.linspace(0, n_frames - 1, min(n_frames, MAX_FRAMES)).round().astype(int)
    return sorted({int(i) for i in picks})


def find_text_boxes_in_frames(frames: Sequence[np.ndarray], *, margin: int = MARGIN) -> list[Box]:
    """The boxes of the :func:`frame_picks` frames of ``frames``, together."""
    boxes: set[Box] = set()
    for index in frame_picks(len(frames)):
        boxes.update(find_text_boxes(frames[index], margin=margin))
    return sorted(boxes, key=lambda box: (box[1], box[0]))


def redact(image: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
    """A copy of one frame, ``(H, W)`` or ``(H, W, C)``, with every box black: colour
    channels 0 and, with 2 or 4 channels, the last (alpha) opaque."""
    out = np.array(image, copy=True)
    alpha = out.ndim == 3 and out.shape[-1] in (2, 4)
    opaque = np.iinfo(out.dtype).max if out.dtype.kind in "ui" else 1.0
    for x0, y0, x1, y1 in boxes:
        out[y0:y1, x0:x1] = 0
        if alpha:
            out[y0:y1, x0:x1, -1] = opaque
    return out


def preview_text_boxes(image: np.ndarray, boxes: Sequence[Box] | None = None) -> np.ndarray:
    """The frame as ``(H, W, 3)`` uint8 with each box outlined in red (found with
    :func:`find_text_boxes` when ``boxes`` is None), to show before importing."""
    rgb = as_rgb8(image)
    boxes = find_text_boxes(rgb) if boxes is None else boxes
    picture = Image.fromarray(rgb)
    draw = ImageDraw.Draw(picture)
    width = max(1, round(min(rgb.shape[:2]) / 240))
    for x0, y0, x1, y1 in boxes:
        draw.rectangle((x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)),
                       outline=_PREVIEW_COLOUR, width=width)
    return np.asarray(picture)
