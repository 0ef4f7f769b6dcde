"""What a probability meant on held-out lesions: the observed outcome rate, with its
interval, among the test lesions whose probability fell in the same range.

``validate-roi --write`` stores equal-count bins of the test lesions' probabilities per ROI
kind in the card (``test_metrics_by_roi.<kind>.outcome_bins``); a prediction looks up its
bin. This is the model's calibration on held-out data made concrete: "Of the 15 held-out
test lesions (box ROIs) with P between 0.87 and 1.00, 13 were malignant: 87% (95% CI 62% to
96%)".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eusgist import stats


def observed_outcome(by_kind: Mapping[str, Mapping[str, Any]], roi_kind: str | None,
                     probability: float) -> dict[str, Any] | None:
    """The held-out bin of ``probability`` for ``roi_kind`` with its observed positive rate
    and Wilson 95% interval; None when the card records no bins for that kind."""
    bins = list((by_kind.get(roi_kind or "") or {}).get("outcome_bins") or [])
    if not bins:
        return None
    bins.sort(key=lambda b: b["lo"])

    def distance(b: Mapping[str, Any]) -> float:
        return max(b["lo"] - probability, probability - b["hi"], 0.0)

    best = min(bins, key=distance)
    rate, lo, hi = stats.proportion_ci(int(best["positive"]), int(best["n"]), method="wilson")
    return {"roi_kind": roi_kind, "p_lo": float(best["lo"]), "p_hi": float(best["hi"]),
            "n": int(best["n"]), "positive": int(best["positive"]), "rate": float(rate),
            "ci": [float(lo), float(hi)], "ci_method": "Wilson, 95%"}


def outcome_sentence(observed: Mapping[str, Any], positive_class: str) -> str:
    """One sentence for people, e.g. "Of the 15 held-out test lesions (box ROIs) with P
    between 0.87 and 1.00, 13 were malignant: 87% (95% CI 62% to 96%)."."""
    lo, hi = observed["ci"]
    return (f"Of the {observed['n']} held-out test lesions ({observed['roi_kind']} ROIs) with "
            f"P between {observed['p_lo']:.2f} and {observed['p_hi']:.2f}, "
            f"{observed['positive']} were {positive_class}: {100 * observed['rate']:.0f}% "
            f"(95% CI {100 * lo:.0f}% to {100 * hi:.0f}%).")
