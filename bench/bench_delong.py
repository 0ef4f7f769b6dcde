"""DeLong AUC variance: the O(n log n) midrank algorithm against the O(n1·n0) definition.

Runs ``eusgist.stats.roc_auc_ci`` and ``delong_test`` on n cases (default 10^6) and, on a
random subsample, the textbook computation from the explicit pairwise kernel
psi(x, y) = [x > y] + 1/2 [x = y]. Prints the timings, the speed ratio on the subsample,
the ratio extrapolated to n (the naive cost grows with n1·n0), and the agreement.

    .venv/bin/python bench/bench_delong.py [--n 1000000] [--subsample 6000] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from eusgist import stats


def naive_auc_se(y: np.ndarray, s: np.ndarray, block: int = 512) -> tuple[float, float]:
    """AUC and DeLong SE from the structural components of the full pairwise kernel."""
    pos, neg = s[y == 1], s[y == 0]
    v10 = np.empty(pos.size)
    v01 = np.zeros(neg.size)
    for start in range(0, pos.size, block):
        diff = pos[start:start + block, None] - neg[None, :]
        k = (diff > 0) + 0.5 * (diff == 0)
        v10[start:start + block] = k.mean(axis=1)
        v01 += k.sum(axis=0)
    v01 /= pos.size
    auc = float(v10.mean())
    var = v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size
    return auc, math.sqrt(var)


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--subsample", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    y = (rng.random(args.n) < 0.3).astype(np.int8)
    a = np.round(rng.normal(size=args.n) + 1.0 * y, 3)  # rounded: many ties
    b = np.round(rng.normal(size=args.n) + 0.8 * y, 3)

    full, t_full = timed(stats.roc_auc_ci, y, a)
    test, t_test = timed(stats.delong_test, y, a, b)
    n1 = int(y.sum())
    print(f"n = {args.n:,} ({n1:,} positive, {len(np.unique(a)):,} distinct scores)")
    print(f"  fast roc_auc_ci      {t_full:8.3f} s   AUC {full.auc:.6f}  SE {full.se:.3e}")
    print(f"  fast delong_test     {t_test:8.3f} s   z {test.z:.3f}  p {test.p_value:.3e}")

    idx = rng.choice(args.n, size=args.subsample, replace=False)
    ys, as_ = y[idx], a[idx]
    fast, t_fast = timed(stats.roc_auc_ci, ys, as_)
    (auc_ref, se_ref), t_naive = timed(naive_auc_se, ys, as_)
    m1 = int(ys.sum())
    pairs_sub, pairs_full = m1 * (ys.size - m1), n1 * (args.n - n1)
    t_naive_full = t_naive * pairs_full / pairs_sub
    print(f"subsample n = {ys.size:,} ({pairs_sub:,} pairs)")
    print(f"  fast                 {t_fast:8.4f} s   AUC {fast.auc:.15f}  SE {fast.se:.15e}")
    print(f"  naive O(n1*n0)       {t_naive:8.4f} s   AUC {auc_ref:.15f}  SE {se_ref:.15e}")
    print(f"  agreement            |dAUC| = {abs(fast.auc - auc_ref):.1e}, "
          f"|dSE|/SE = {abs(fast.se - se_ref) / se_ref:.1e}")
    print(f"  speed ratio          {t_naive / t_fast:8.1f}x on the subsample")
    print(f"naive at n = {args.n:,}: ~{t_naive_full:,.0f} s extrapolated "
          f"({pairs_full:.2e} pairs) -> fast is ~{t_naive_full / t_full:,.0f}x faster")


if __name__ == "__main__":
    main()
