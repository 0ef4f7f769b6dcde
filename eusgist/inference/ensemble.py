"""The ensemble's predictor: every member scores the input; their log-odds are averaged."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import expit, logit

from eusgist.inference.inputs import Box, MaskInput, VolumeInput
from eusgist.inference.predictor import Contribution, Scored, Timer, Worker, decode_image

if TYPE_CHECKING:
    from eusgist.inference.catalog import LoadedModel

#: Contributions shown per member (each in its own SHAP scale).
TOP_PER_MEMBER = 5
_EPS = 1e-6


def mean_log_odds(probabilities: np.ndarray) -> np.ndarray:
    """The ensemble's probability: the mean over the first axis (members) in log-odds."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), _EPS, 1 - _EPS)
    return expit(logit(p).mean(axis=0))


class EnsemblePredictor:
    """Averages its members' log-odds; explains with each member's top contributions."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded

    def predict(self, image: VolumeInput, mask: MaskInput, box: Box | None,
                spacing_mm: float | None, timer: Timer, explain: bool,
                notes: list[str]) -> Scored:
        """Decode once; each member predicts from the same image and ROI."""
        img, roi = decode_image(self.loaded, image, mask, box, timer, notes)
        scores, contributions = [], []
        n = len(self.loaded.members)
        for member in self.loaded.members:
            member_notes: list[str] = []
            scored = member.predictor.predict(img, roi, None, spacing_mm, timer, explain,
                                              member_notes)
            notes.extend(n for n in member_notes if n not in notes)
            scores.append(scored.probability)
            scale = _to_ensemble_log_odds(scored, n)
            contributions += [Contribution(f"{member.path.name}: {c.feature}", c.value,
                                           c.shap * scale)
                              for c in scored.contributions[:TOP_PER_MEMBER]]
        p = float(mean_log_odds(np.array(scores)))
        parts = ", ".join(f"{m.path.name} {s:.3f}" for m, s in zip(self.loaded.members, scores))
        notes.append(f"Ensemble ({parts}): their log-odds averaged. Each feature's contribution "
                     "is its member's SHAP value in the ensemble's log-odds (a member explained "
                     "in probability is converted at its own P: approximate).")
        contributions.sort(key=lambda c: -abs(c.shap))
        return Scored(p, contributions, None, space="log-odds" if contributions else None)

    def worker(self) -> Worker:
        """What each member prepares from an item."""
        return partial(_prepare_members, [m.predictor.worker() for m in self.loaded.members])

    def score(self, prepared: list[Any], batch_size: int) -> np.ndarray:
        """Each member scores all items; their log-odds are averaged."""
        scores = []
        for i, member in enumerate(self.loaded.members):
            with member.lock:
                scores.append(member.predictor.score([p[i] for p in prepared], batch_size))
        return mean_log_odds(np.array(scores))


def _to_ensemble_log_odds(scored: Scored, n_members: int) -> float:
    """Factor taking a member's SHAP values to its share of the ensemble's log-odds: 1/n for
    a log-odds member; for a probability member also d logit / dp at its P (linearised)."""
    if scored.space != "probability":
        return 1.0 / n_members
    p = min(max(scored.probability, 0.01), 0.99)
    return 1.0 / (p * (1.0 - p) * n_members)


def _prepare_members(workers: list[Worker], image: VolumeInput, mask: MaskInput,
                     spacing_mm: float | None) -> list[Any]:
    return [worker(image, mask, spacing_mm) for worker in workers]
