"""The Predict tab's explanation panels: SHAP bars (HTML, readable names, the technical name
on hover and in a table) and the Grad-CAM picture with its colour scale; and the updates
that clear a result and show only the panels a prediction filled.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from html import escape

import gradio as gr
import numpy as np

from eusgist.explain.names import display_name
from eusgist.explain.shap import readable_name
from eusgist.inference import catalog
from eusgist.inference.predict import Prediction

#: Scoped to the SHAP panel (gr.HTML ``css_template``); text is 13-14 px at any width.
SHAP_CSS = """
.shap { font-size: 14px; line-height: 1.35; color: var(--body-text-color); }
.shap h4 { margin: 0 0 4px; font-size: 15px; }
.shap .legend { font-size: 13px; margin-bottom: 6px; }
.shap .row { display: grid; grid-template-columns: minmax(0, 46%) 1fr 4.5em; gap: 8px;
  align-items: center; padding: 3px 0; border-bottom: 1px solid var(--border-color-primary); }
.shap .name { overflow-wrap: anywhere; }
.shap .track { position: relative; height: 14px; }
.shap .track::before { content: ""; position: absolute; left: 50%; top: -3px; bottom: -3px;
  border-left: 1px solid #666; }
.shap .bar { position: absolute; top: 0; height: 14px; border-radius: 2px; }
.shap .up { background: #d62728; }
.shap .down { background: #1f77b4; }
.shap .num { text-align: right; font-variant-numeric: tabular-nums; font-size: 13px; }
.shap details { margin-top: 8px; font-size: 13px; }
.shap table { border-collapse: collapse; width: 100%; }
.shap td, .shap th { padding: 2px 6px; text-align: left; font-size: 13px; }
.shap code { font-size: 12px; overflow-wrap: anywhere; }
"""


def technical_names(model: catalog.LoadedModel) -> dict[str, str]:
    """The short readable name of each feature the model (or a routed model) reads → its
    column name, so a contribution's technical name can be shown beside it."""
    out: dict[str, str] = {}
    for m in (model, *model.routes.values()):
        for sub in (m, *m.members):
            bundle = sub.bundle if sub.kind == "tabular" else None
            prefix = f"{sub.path.name}: " if m.members else ""
            for column in getattr(bundle, "required_features", ()):
                out.setdefault(prefix + readable_name(column), column)
    return out


def shap_html(pred: Prediction, columns: Mapping[str, str]) -> str:
    """Signed SHAP bars of a prediction's top contributions, largest first; empty when it
    has none. ``columns`` maps a contribution's feature to its column name
    (:func:`technical_names`)."""
    if not pred.contributions:
        return ""
    neg, pos = pred.classes
    scale = max(abs(c.shap) for c in pred.contributions) or 1.0
    rows, table = [], []
    for c in pred.contributions:
        column = columns.get(c.feature, c.feature)
        name, side = escape(display_name(column)), "up" if c.shap > 0 else "down"
        width = 50 * abs(c.shap) / scale
        left = 50 if c.shap > 0 else 50 - width
        hover = escape(f"{column} = {c.value:.4g}; SHAP {c.shap:+.4f}", quote=True)
        rows.append(
            f'<div class="row" title="{hover}"><span class="name">{name}</span>'
            f'<span class="track"><span class="bar {side}" style="left:{left:.1f}%;'
            f'width:{width:.1f}%"></span></span><span class="num">{c.shap:+.3f}</span></div>')
        table.append(f"<tr><td>{name}</td><td><code>{escape(column)}</code></td>"
                     f"<td>{c.value:.4g}</td><td>{c.shap:+.4f}</td></tr>")
    return (
        '<div class="shap"><h4>What pushed this prediction (SHAP, top features)</h4>'
        f'<div class="legend"><span style="color:#d62728">■</span> towards {escape(pos)} '
        f'&nbsp; <span style="color:#1f77b4">■</span> towards {escape(neg)}; numbers are '
        f"changes in {escape(pred.shap_space or 'probability')}. Hover a row for the technical "
        "name.</div>"
        + "".join(rows)
        + "<details><summary>Technical feature names and values</summary><table><tr>"
        "<th>feature</th><th>column</th><th>value</th><th>SHAP</th></tr>"
        + "".join(table) + "</table></details></div>"
    )


#: Side of the enlarged Grad-CAM picture and the colour bar's width, in pixels.
GRADCAM_SIDE = 512
COLOUR_BAR = 28


@lru_cache(maxsize=1)
def _jet_bar(height: int) -> np.ndarray:
    """The jet colour scale as an RGB strip, high at the top (as the Grad-CAM overlay)."""
    import matplotlib

    colours = matplotlib.colormaps["jet"](np.linspace(1.0, 0.0, height))[:, :3]
    return np.repeat((255 * colours[:, None, :]).astype(np.uint8), COLOUR_BAR, axis=1)


def gradcam_figure(overlay: np.ndarray | None) -> np.ndarray | None:
    """The Grad-CAM overlay, enlarged to :data:`GRADCAM_SIDE`, with its colour scale
    (low → high attention) beside it, as an RGB picture; None without one. Drawn with
    Pillow (a few milliseconds; a matplotlib figure took ~70 ms of every prediction)."""
    if overlay is None:
        return None
    from PIL import Image, ImageDraw, ImageFont

    rgb = np.asarray(overlay)[..., :3].astype(np.uint8)
    scale = GRADCAM_SIDE / max(rgb.shape[:2])
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    picture = Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR)
    margin, label_w = 12, 150
    canvas = Image.new("RGB", (size[0] + margin + COLOUR_BAR + label_w, size[1] + 2 * margin),
                       "white")
    canvas.paste(picture, (0, margin))
    bar_h = size[1] - 2 * margin
    bar_x = size[0] + margin
    canvas.paste(Image.fromarray(_jet_bar(bar_h)), (bar_x, 2 * margin))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=18)
    text_x = bar_x + COLOUR_BAR + 8
    draw.text((text_x, 2 * margin), "high", fill="black", font=font)
    draw.text((text_x, 2 * margin + bar_h - 20), "low", fill="black", font=font)
    draw.text((text_x, 2 * margin + bar_h // 2 - 30), "Grad-CAM\nattention", fill="black",
              font=font)
    return np.asarray(canvas)


def clear_result() -> tuple[None, str, dict, dict, None, str, None]:
    """Empty probabilities, decision, SHAP, Grad-CAM, ROI picture (the panels hidden),
    out-of-domain warning and verdict, so no earlier answer stays on screen while a new one
    is computed or after it failed."""
    return (None, "", gr.update(value="", visible=False), gr.update(value=None, visible=False),
            None, "", None)


def show_panels(shap: str | None, gradcam: np.ndarray | None) -> tuple[dict, dict]:
    """Show the SHAP panel when it has bars and the Grad-CAM panel when it has a picture."""
    return gr.update(visible=bool(shap)), gr.update(visible=gradcam is not None)
