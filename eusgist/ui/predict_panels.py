"""The Predict tab's explanation panels: SHAP bars (HTML, readable names, the technical name
on hover and in a table) and the Grad-CAM picture with its colour scale; and the updates
that clear a result and show only the panels a prediction filled.
"""

from __future__ import annotations

from collections.abc import Mapping
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
        bundle = m.bundle if m.kind == "tabular" else None
        for column in getattr(bundle, "required_features", ()):
            out.setdefault(readable_name(column), column)
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
        "changes in probability. Hover a row for the technical name.</div>"
        + "".join(rows)
        + "<details><summary>Technical feature names and values</summary><table><tr>"
        "<th>feature</th><th>column</th><th>value</th><th>SHAP</th></tr>"
        + "".join(table) + "</table></details></div>"
    )


def gradcam_figure(overlay: np.ndarray | None) -> np.ndarray | None:
    """The Grad-CAM overlay, enlarged, with its colour scale (low → high attention), as an
    RGB picture; None without one."""
    if overlay is None:
        return None
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 5.4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.imshow(overlay, interpolation="bilinear")
    ax.set_axis_off()
    ax.set_title("Where the CNN looked (its input crop)", fontsize=14)
    bar = fig.colorbar(ScalarMappable(cmap=matplotlib.colormaps["jet"]), ax=ax,
                       fraction=0.05, pad=0.03, ticks=[0, 1])
    bar.ax.set_yticklabels(["low", "high"], fontsize=13)
    bar.set_label("Grad-CAM attention: low → high", fontsize=13)
    fig.tight_layout()
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def clear_result() -> tuple[None, str, dict, dict, None, str, None]:
    """Empty probabilities, decision, SHAP, Grad-CAM, ROI picture (the panels hidden),
    out-of-domain warning and verdict, so no earlier answer stays on screen while a new one
    is computed or after it failed."""
    return (None, "", gr.update(value="", visible=False), gr.update(value=None, visible=False),
            None, "", None)


def show_panels(shap: str | None, gradcam: np.ndarray | None) -> tuple[dict, dict]:
    """Show the SHAP panel when it has bars and the Grad-CAM panel when it has a picture."""
    return gr.update(visible=bool(shap)), gr.update(visible=gradcam is not None)
