"""Deprecated: moved to :mod:`eusgist.report.paper` (this shim re-exports it)."""

import warnings

from eusgist.report.paper import (  # noqa: F401
    FIGURE1,
    SHAP_CLASSIFIER,
    TEST_SET,
    TRAIN_SET,
    PaperReportOptions,
    check_out_dir,
    paper_report,
)

__all__ = ["PaperReportOptions", "check_out_dir", "paper_report"]

warnings.warn("eusgist.paper_report moved to eusgist.report.paper", DeprecationWarning,
              stacklevel=2)
