"""Deprecated: moved to :mod:`eusgist.report.html` (this shim re-exports it)."""

import warnings

from eusgist.report.html import (  # noqa: F401
    CSS,
    METRIC_LABELS,
    delong_html,
    figure_html,
    fmt,
    html_table,
    p_value,
    performance_rows,
    render_html,
    with_ci,
    write_html,
)

# the old private names, which eusgist.paper_report imported
_delong_html, _figure, _fmt, _p, _table, _with_ci = (
    delong_html, figure_html, fmt, p_value, html_table, with_ci)

warnings.warn("eusgist.report_html moved to eusgist.report.html", DeprecationWarning,
              stacklevel=2)
