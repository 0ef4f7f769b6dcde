"""Deprecated: moved to :mod:`eusgist.report.figures` (this shim re-exports it)."""

import warnings

from eusgist.report.figures import (  # noqa: F401
    DPI,
    SIZE,
    calibration_figure,
    dca_figure,
    draw_calibration,
    draw_dca,
    draw_roc,
    panel_figure,
    roc_figure,
    write_figures,
)

warnings.warn("eusgist.report_figures moved to eusgist.report.figures", DeprecationWarning,
              stacklevel=2)
