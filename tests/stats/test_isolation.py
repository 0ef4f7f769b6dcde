"""eusgist.stats stands alone: plain arrays in, nothing of the project or Gradio imported."""

from __future__ import annotations

import subprocess
import sys

import eusgist.stats


def test_importing_stats_pulls_in_nothing_else_of_the_project():
    code = (
        "import sys, eusgist.stats\n"
        "bad = sorted(m for m in sys.modules if (m.startswith('eusgist.') and not "
        "m.startswith('eusgist.stats')) or m.split('.')[0] in ('gradio', 'torch', 'matplotlib'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_api_is_exported():
    for name in ("roc_auc_ci", "delong_test", "delong_test_unpaired", "binary_metrics",
                 "net_benefit", "net_benefit_treat_all", "brier_score", "calibration_curve",
                 "calibration_intercept_slope", "rank_scores", "auc_ci_from_ranks",
                 "delong_test_from_ranks"):
        assert name in eusgist.stats.__all__
        assert callable(getattr(eusgist.stats, name))
