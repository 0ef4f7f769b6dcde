"""Report figures: ROC curves with bootstrap bands, reliability curves, decision curves.

Figures are built on :class:`matplotlib.figure.Figure` directly (Agg canvas), never via
pyplot, so nothing depends on a display or on global pyplot state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from eusgist.report.text import ci_range

if TYPE_CHECKING:
    from eusgist.report.results import Evaluation

DPI = 110
SIZE = (5.2, 4.6)


def _percent(level: float) -> str:
    return f"{100 * level:g}%"


def draw_roc(ax: Axes, ev: Evaluation, *, colors: Mapping[str, str] | None = None) -> None:
    """ROC curve of each model of ``ev`` on ``ax``, its CI band and its operating point."""
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--")
    for k, (name, m) in enumerate(ev.models.items()):
        color = (colors or {}).get(name, f"C{k}")
        label = f"{name}: AUC {m.auc.auc:.3f} ({ci_range(m.auc.lo, m.auc.hi)})"
        ax.plot(m.roc.fpr, m.roc.tpr, color=color, lw=1.6, label=label)
        if m.band is not None:
            ax.fill_between(m.band.fpr, m.band.lo, m.band.hi, color=color, alpha=0.15,
                            step="post", lw=0)
        sens = m.at_threshold.metrics["sensitivity"][0]
        spec = m.at_threshold.metrics["specificity"][0]
        ax.plot([1 - spec], [sens], marker="o", color=color, ms=5, mec="white")
    band = f"; bands: {_percent(ev.level)} bootstrap" if ev.n_bootstrap else ""
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), aspect="equal",
           xlabel="1 − specificity", ylabel="Sensitivity",
           title=f"ROC (n = {ev.n}, {ev.n_positive} positive{band})")
    ax.title.set_fontsize(9)
    ax.legend(loc="lower right", fontsize=7.5, frameon=False)


def roc_figure(ev: Evaluation) -> Figure:
    """ROC curve of each model, its pointwise CI band and its operating point."""
    fig = Figure(figsize=SIZE, dpi=DPI)
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.11, top=0.93)
    draw_roc(fig.add_subplot(), ev)
    return fig


def draw_calibration(ax: Axes, ev: Evaluation, *,
                     colors: Mapping[str, str] | None = None) -> None:
    """Reliability curve (quantile bins) of each probabilistic model of ``ev`` on ``ax``."""
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--", label="ideal")
    for k, (name, m) in enumerate(ev.models.items()):
        if m.reliability is not None:
            ax.plot(m.reliability.prob_pred, m.reliability.prob_true, marker="o", ms=4,
                    color=(colors or {}).get(name, f"C{k}"), lw=1.4,
                    label=f"{name}: Brier {m.brier:.3f}")
    ax.set(xlim=(0, 1), ylim=(0, 1), aspect="equal", xlabel="Predicted probability",
           ylabel="Observed frequency", title="Calibration")
    ax.legend(loc="upper left", fontsize=7.5, frameon=False)


def calibration_figure(ev: Evaluation) -> Figure | None:
    """Reliability curve (quantile bins) of each probabilistic model; None if there is none."""
    if not any(m.reliability is not None for m in ev.models.values()):
        return None
    fig = Figure(figsize=SIZE, dpi=DPI)
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.11, top=0.93)
    draw_calibration(fig.add_subplot(), ev)
    return fig


def draw_dca(ax: Axes, ev: Evaluation, *, colors: Mapping[str, str] | None = None) -> None:
    """Net benefit against threshold probability on ``ax``, with treat-all and treat-none."""
    t = ev.dca.thresholds
    ax.plot(t, ev.dca.treat_all, color="0.45", lw=1.2, label="treat all")
    ax.plot(t, ev.dca.treat_none, color="black", lw=1.2, label="treat none")
    for k, name in enumerate(ev.models):
        if name in ev.dca.net_benefit:
            ax.plot(t, ev.dca.net_benefit[name], color=(colors or {}).get(name, f"C{k}"),
                    lw=1.6, label=name)
    top = max([float(np.max(ev.dca.treat_all))]
              + [float(np.max(nb)) for nb in ev.dca.net_benefit.values()])
    ax.set(xlim=(0, 1), ylim=(-0.05, max(top, 0.05) * 1.1), xlabel="Threshold probability",
           ylabel="Net benefit", title="Decision curves")
    ax.legend(loc="upper right", fontsize=7.5, frameon=False)


def dca_figure(ev: Evaluation) -> Figure:
    """Net benefit against threshold probability, with treat-all and treat-none."""
    fig = Figure(figsize=SIZE, dpi=DPI)
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.11, top=0.93)
    draw_dca(fig.add_subplot(), ev)
    return fig


def panel_figure(
    panels: Sequence[tuple[str, Callable[[Axes], None]]], *, ncols: int, title: str = ""
) -> Figure:
    """A grid of panels, lettered A, B, ... in reading order (as journal figures are).

    Each panel is ``(caption, draw)``, where ``draw(ax)`` fills one axes.
    """
    nrows = -(-len(panels) // ncols)
    fig = Figure(figsize=(SIZE[0] * ncols, SIZE[1] * nrows + (0.4 if title else 0)), dpi=DPI)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for k, (ax, (caption, draw)) in enumerate(zip(axes, panels, strict=False)):
        draw(ax)
        ax.set_title("")  # the panel's own title gives way to the lettered caption
        ax.set_title(f"{chr(ord('A') + k)}  {caption}", fontsize=9, loc="left")
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def write_figures(ev: Evaluation, folder: Path) -> dict[str, Path]:
    """Save the figures as PNG files in ``folder``; return name → path."""
    figures = {"roc": roc_figure(ev), "calibration": calibration_figure(ev),
               "dca": dca_figure(ev)}
    out = {}
    for name, fig in figures.items():
        if fig is not None:
            out[name] = folder / f"{name}.png"
            fig.savefig(out[name])
    return out
