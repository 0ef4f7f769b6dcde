"""Statistics clinicians publish for a binary classifier, on plain arrays.

``y_true`` is 0/1 with 1 = the positive class (GIST); a higher score means more likely
positive. Nothing here imports the rest of eusgist.

- ROC: :func:`roc_auc_ci` (DeLong), :func:`delong_test`, :func:`delong_test_unpaired`,
  :func:`roc_curve`, :func:`youden_threshold`; bootstrap: :func:`bootstrap_auc_ci`,
  :func:`roc_ci_band`. Several models on the same cases: :func:`rank_scores` once per
  model, then :func:`auc_ci_from_ranks` and :func:`delong_test_from_ranks` reuse the ranks.
- Threshold metrics: :func:`binary_metrics`, :func:`threshold_metrics`,
  :func:`proportion_ci` (Wald, Wilson, Clopper-Pearson).
- Calibration: :func:`brier_score`, :func:`calibration_curve`,
  :func:`calibration_intercept_slope`.
- Decision curves: :func:`net_benefit`, :func:`net_benefit_treat_all`,
  :func:`net_interventions_avoided`, :func:`decision_curve`.
- :func:`aggregate_by_lesion` (image → lesion scores) and :func:`to_binary` (labels → 0/1).
"""

from eusgist.stats._validate import to_binary
from eusgist.stats.aggregate import LesionScores, aggregate_by_lesion
from eusgist.stats.bootstrap import RocBand, bootstrap_auc_ci, roc_ci_band
from eusgist.stats.calibration import (
    CalibrationCurve,
    CalibrationFit,
    brier_score,
    calibration_curve,
    calibration_intercept_slope,
)
from eusgist.stats.dca import (
    DecisionCurve,
    decision_curve,
    default_thresholds,
    net_benefit,
    net_benefit_treat_all,
    net_interventions_avoided,
)
from eusgist.stats.delong import (
    AUCResult,
    DeLongTest,
    RankedScores,
    auc_ci_from_ranks,
    delong_placements,
    delong_test,
    delong_test_from_ranks,
    delong_test_unpaired,
    rank_scores,
    roc_auc_ci,
)
from eusgist.stats.metrics import (
    CI_METHODS,
    ConfusionCounts,
    ThresholdMetrics,
    binary_metrics,
    confusion_counts,
    f1_score,
    proportion_ci,
    threshold_metrics,
)
from eusgist.stats.roc import RocCurve, roc_curve, youden_threshold

__all__ = [
    "CI_METHODS",
    "AUCResult",
    "CalibrationCurve",
    "CalibrationFit",
    "ConfusionCounts",
    "DeLongTest",
    "DecisionCurve",
    "LesionScores",
    "RankedScores",
    "RocBand",
    "RocCurve",
    "ThresholdMetrics",
    "aggregate_by_lesion",
    "auc_ci_from_ranks",
    "binary_metrics",
    "bootstrap_auc_ci",
    "brier_score",
    "calibration_curve",
    "calibration_intercept_slope",
    "confusion_counts",
    "decision_curve",
    "default_thresholds",
    "delong_placements",
    "delong_test",
    "delong_test_from_ranks",
    "delong_test_unpaired",
    "f1_score",
    "net_benefit",
    "net_benefit_treat_all",
    "net_interventions_avoided",
    "proportion_ci",
    "rank_scores",
    "roc_auc_ci",
    "roc_ci_band",
    "roc_curve",
    "threshold_metrics",
    "to_binary",
    "youden_threshold",
]
