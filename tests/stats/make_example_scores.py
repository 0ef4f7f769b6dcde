"""Write tests/stats/data/example_scores.csv: synthetic image-level scores of three models.

Not real patients. 160 lesions (GIST vs leiomyoma) with 1-4 EUS images each; lesion size
drawn from guo2024's Table 1 (GIST 23.9±13.1 mm, leiomyoma 9.6±6.2 mm); each model's
probability is a noisy logistic function of a lesion-level signal plus image-level noise,
so the models are correlated, as models fitted to the same images are. Used by the report
and CLI tests and for the README's example report:

    python tests/stats/make_example_scores.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).parent / "data" / "example_scores.csv"


def example_scores(seed: int = 2026, n_lesions: int = 160) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    gist = rng.random(n_lesions) < 0.45
    size = np.where(gist, rng.normal(23.9, 13.1, n_lesions), rng.normal(9.6, 6.2, n_lesions))
    size = np.clip(size, 3.0, 80.0).round(1)
    signal = np.where(gist, 1.0, -1.0) + rng.normal(0, 1.0, n_lesions)
    rows = []
    for k in range(n_lesions):
        for _ in range(rng.integers(1, 5)):
            shared = signal[k] + rng.normal(0, 0.6)
            rows.append({
                "lesion_id": f"L{k:03d}",
                "label": "GIST" if gist[k] else "leiomyoma",
                "size_mm": size[k],
                "radiomics": 1 / (1 + np.exp(-(0.6 * shared + rng.normal(0, 1.3)))),
                "deep": 1 / (1 + np.exp(-(1.2 * shared + rng.normal(0, 0.8) - 0.3))),
                "combined": 1 / (1 + np.exp(-(1.3 * shared + rng.normal(0, 0.6)))),
            })
    return pd.DataFrame(rows)


if __name__ == "__main__":
    example_scores().to_csv(OUT, index=False, float_format="%.4f")
    print(f"wrote {OUT}")
