"""DeLong AUC intervals and paired tests: eusgist.stats against R's pROC on the same data.

Makes n cases (default 10^6, rounded scores: many ties) scored by two models and times,
best of ``--repeat`` runs:

- AUC with CI of one model: ``roc_auc_ci`` / pROC ``roc`` + ``ci.auc(method="delong")``;
- the paired test: ``delong_test`` / pROC ``roc`` x2 + ``roc.test(method="delong")``;
- both together, as a report does (CIs of both models and their test): eusgist ranks each
  model once (``rank_scores``) and reuses the ranks (``auc_ci_from_ranks``,
  ``delong_test_from_ranks``); pROC ``roc`` x2, ``ci.auc`` x2, ``roc.test``.

pROC runs when ``Rscript`` with pROC is installed (apt-get install r-base-core
r-cran-proc). It reads the cases from a binary file and is timed inside R around the
pROC calls only (no start-up, no file reading). Prints the ratio pROC time / eusgist
time and the largest differences between the two. A subsample is also checked against
the textbook O(n1·n0) computation from the explicit pairwise kernel.

    .venv/bin/python bench/bench_delong.py [--n 1000000] [--repeat 3] [--subsample 6000]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from eusgist import stats

R_SCRIPT = r"""
suppressPackageStartupMessages(library(pROC))
args <- commandArgs(trailingOnly = TRUE)
n <- as.integer(args[2]); repeats <- as.integer(args[3])
v <- readBin(args[1], "double", n = 3 * n)
y <- v[1:n]; a <- v[(n + 1):(2 * n)]; b <- v[(2 * n + 1):(3 * n)]
now <- function() proc.time()[["elapsed"]]
best <- c(roc_a = Inf, ci_a = Inf, roc_b = Inf, ci_b = Inf, test = Inf)
for (i in seq_len(repeats)) {
  t0 <- now(); ra <- roc(y, a, levels = c(0, 1), direction = "<", quiet = TRUE)
  t1 <- now(); ca <- ci.auc(ra, method = "delong")
  t2 <- now(); rb <- roc(y, b, levels = c(0, 1), direction = "<", quiet = TRUE)
  t3 <- now(); cb <- ci.auc(rb, method = "delong")
  t4 <- now(); tt <- roc.test(ra, rb, method = "delong", paired = TRUE)
  t5 <- now()
  best <- pmin(best, diff(c(t0, t1, t2, t3, t4, t5)))
}
out <- c(best, auc_a = as.numeric(auc(ra)), lo_a = ca[1], hi_a = ca[3],
         auc_b = as.numeric(auc(rb)), lo_b = cb[1], hi_b = cb[3],
         z = unname(tt$statistic), p = tt$p.value, test_lo = tt$conf.int[1],
         test_hi = tt$conf.int[2])
cat(sprintf("%s %.17g\n", names(out), out), sep = "")
"""


def naive_placements(y: np.ndarray, s: np.ndarray, block: int = 512) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """DeLong structural components from the full pairwise kernel, in blocks of positives."""
    pos, neg = s[y == 1], s[y == 0]
    v10 = np.empty(pos.size)
    v01 = np.zeros(neg.size)
    for start in range(0, pos.size, block):
        diff = pos[start:start + block, None] - neg[None, :]
        k = (diff > 0) + 0.5 * (diff == 0)
        v10[start:start + block] = k.mean(axis=1)
        v01 += k.sum(axis=0)
    return v10, v01 / pos.size


def naive_auc_se(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """AUC and DeLong SE of ``a`` and the SE of the paired difference a - b."""
    (p10, p01), (q10, q01) = naive_placements(y, a), naive_placements(y, b)

    def se(v10: np.ndarray, v01: np.ndarray) -> float:
        return math.sqrt(v10.var(ddof=1) / v10.size + v01.var(ddof=1) / v01.size)

    return float(p10.mean()), se(p10, p01), se(p10 - q10, p01 - q01)


def best_of(repeat: int, fn: Callable[[], object]) -> tuple[object, float]:
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return out, best


def proc_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(["Rscript", "-e", "suppressMessages(library(pROC))"],
                           capture_output=True, timeout=60, check=False)
    return probe.returncode == 0


def run_proc(y: np.ndarray, a: np.ndarray, b: np.ndarray, repeat: int) -> dict[str, float]:
    """pROC's timings (s, best of ``repeat``) and numbers on the same cases."""
    with tempfile.TemporaryDirectory() as tmp:
        data, script = Path(tmp) / "cases.bin", Path(tmp) / "bench.R"
        np.concatenate([y.astype(np.float64), a, b]).astype("<f8").tofile(data)
        script.write_text(R_SCRIPT)
        out = subprocess.run(["Rscript", str(script), str(data), str(y.size), str(repeat)],
                             capture_output=True, text=True, timeout=300, check=True)
    return {k: float(v) for k, v in (line.split() for line in out.stdout.splitlines())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--subsample", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    y = (rng.random(args.n) < 0.3).astype(np.int8)
    a = np.round(rng.normal(size=args.n) + 1.0 * y, 3)  # rounded: many ties
    b = np.round(rng.normal(size=args.n) + 0.99 * y, 3)  # close to a: p informative
    n1 = int(y.sum())
    print(f"n = {args.n:,} ({n1:,} positive, {len(np.unique(a)):,} distinct scores), "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs, "
          f"best of {args.repeat}")

    def both() -> tuple[stats.AUCResult, stats.AUCResult, stats.DeLongTest]:
        ra, rb = stats.rank_scores(y, a), stats.rank_scores(y, b)
        return (stats.auc_ci_from_ranks(ra), stats.auc_ci_from_ranks(rb),
                stats.delong_test_from_ranks(ra, rb))

    ci_a, t_ci = best_of(args.repeat, lambda: stats.roc_auc_ci(y, a))
    test, t_test = best_of(args.repeat, lambda: stats.delong_test(y, a, b))
    (ci_a2, ci_b, test2), t_both = best_of(args.repeat, both)
    _, t_calls = best_of(args.repeat, lambda: (stats.roc_auc_ci(y, a), stats.roc_auc_ci(y, b),
                                               stats.delong_test(y, a, b)))
    assert ci_a2 == ci_a and test2 == test, "shared ranks differ from the per-call path"
    print(f"  AUC A {ci_a.auc:.6f} [{ci_a.lo:.6f}, {ci_a.hi:.6f}]   "
          f"AUC B {ci_b.auc:.6f} [{ci_b.lo:.6f}, {ci_b.hi:.6f}]   "
          f"paired z {test.z:.3f}  p {test.p_value:.3e}")
    print(f"  eusgist, both together by separate calls (no shared ranks): {t_calls:.3f} s")

    ours = {"AUC with CI (one model)": t_ci, "paired test (two models)": t_test,
            "both: 2 CIs + paired test": t_both}
    if proc_available():
        r = run_proc(y, a, b, args.repeat)
        theirs = [r["roc_a"] + r["ci_a"], r["roc_a"] + r["roc_b"] + r["test"],
                  r["roc_a"] + r["ci_a"] + r["roc_b"] + r["ci_b"] + r["test"]]
        print(f"  {'':28s} {'pROC':>9s} {'eusgist':>9s} {'ratio':>7s}")
        for (what, t_ours), t_r in zip(ours.items(), theirs, strict=True):
            print(f"  {what:28s} {t_r:8.3f}s {t_ours:8.3f}s {t_r / t_ours:6.1f}x")
        pairs = {"AUC": [(ci_a.auc, r["auc_a"]), (ci_b.auc, r["auc_b"])],
                 "CI bounds": [(ci_a.lo, r["lo_a"]), (ci_a.hi, r["hi_a"]),
                               (ci_b.lo, r["lo_b"]), (ci_b.hi, r["hi_b"]),
                               (test.lo, r["test_lo"]), (test.hi, r["test_hi"])],
                 "z": [(test.z, r["z"])], "p": [(test.p_value, r["p"])]}
        print("  agreement with pROC: " + ", ".join(
            f"max |d{k}| {max(abs(x - w) for x, w in v):.1e} "
            f"(rel {max(abs(x - w) / max(abs(w), 1e-300) for x, w in v):.1e})"
            for k, v in pairs.items()))
    else:
        print("  (Rscript with pROC not installed: no pROC comparison)")
        for what, t_ours in ours.items():
            print(f"  {what:28s} eusgist {t_ours:8.3f}s")

    idx = rng.choice(args.n, size=args.subsample, replace=False)
    ys, as_, bs = y[idx], a[idx], b[idx]
    fast_ci, fast_test = stats.roc_auc_ci(ys, as_), stats.delong_test(ys, as_, bs)
    (auc_ref, se_ref, se_diff_ref), t_naive = best_of(1, lambda: naive_auc_se(ys, as_, bs))
    m1 = int(ys.sum())
    print(f"subsample n = {ys.size:,} ({m1 * (ys.size - m1):,} pairs) against the "
          f"explicit O(n1*n0) kernel ({t_naive:.2f} s): |dAUC| {abs(fast_ci.auc - auc_ref):.1e}, "
          f"|dSE|/SE {abs(fast_ci.se - se_ref) / se_ref:.1e}, paired "
          f"|dSE|/SE {abs(fast_test.se - se_diff_ref) / se_diff_ref:.1e}")


if __name__ == "__main__":
    main()
