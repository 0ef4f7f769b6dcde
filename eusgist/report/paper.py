"""The zhao2026 evaluation on any feature table: Tables 2-4 and Figures 1-2 in one folder.

:func:`paper_report` splits the table 8:2 by lesion, tunes and fits the three classifiers
(SVM, XGBoost, random forest) on each of the three modalities (radiomics, deep, combined)
with :func:`eusgist.models.tabular.fit_model`, and writes:

- ``table2_performance.csv`` — AUC (DeLong CI), accuracy, sensitivity, specificity
  (Wilson CIs) of every model on the training split (resubstitution: the refitted model
  scores its own training lesions, as zhao2026 reports) and the test split, plus the
  training split's out-of-fold CV AUC so the optimism of resubstitution shows;
- ``table3_delong.csv`` — paired DeLong tests between every pair of models on the test split;
- ``table4_brier.csv`` — test Brier score, calibration intercept and slope;
- ``figure1_calibration_dca.png`` — calibration and decision curves per modality (test);
- ``figure2_shap_<modality>-svm.png``/``.csv`` — SHAP top-20 of each SVM (test images);
- ``roc_test.png``, ``dca.csv``, ``report.json`` (docs/design.md's evaluation-report contract
  for the test-split scores of all nine models), ``settings.json`` and ``report.html``.

Statistics are lesion-level (mean of image probabilities); every threshold is the
Youden-optimal one on the training split's lesion-level out-of-fold scores, never chosen
on the test split. Everything is written into a temporary folder renamed at the end
(:func:`eusgist.report.writer.atomic_dir`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from eusgist import __version__, stats
from eusgist.csvsafe import write_csv
from eusgist.errors import EvaluationError
from eusgist.models.tabular import CLASSIFIERS, MODALITIES, FittedModel, feature_columns
from eusgist.report.evaluate import evaluate_scores
from eusgist.report.results import Evaluation, stats_errors
from eusgist.report.tables import calibration_table, dca_table, delong_table, report_dict
from eusgist.report.writer import atomic_dir, check_out_dir, write_json

log = logging.getLogger(__name__)

__all__ = ["PaperReportOptions", "check_out_dir", "paper_report"]

TRAIN_SET = "train (resubstitution)"
TEST_SET = "test"
#: Models explained in Figure 2 (zhao2026 explains its SVMs).
SHAP_CLASSIFIER = "svm"
FIGURE1 = "figure1_calibration_dca.png"
_COLORS = {c: f"C{k}" for k, c in enumerate(CLASSIFIERS)}


@dataclass(frozen=True)
class PaperReportOptions:
    """How the report is computed (the ``report`` command's options).

    Attributes
    ----------
    seed : int
        Split, cross-validation, model, bootstrap and SHAP seed.
    test_size : float
        Test share of lesions (zhao2026: 0.2).
    cv_folds : int
        Grouped CV folds for tuning and out-of-fold scores.
    positive_label : str or None
        Positive class (default: the first of GIST, malignant, positive, 1 present).
    n_bootstrap : int
        Bootstrap replicates of the test ROC bands (0: none).
    shap_rows : int
        Test images explained in each SHAP plot.
    overwrite : bool
        Replace an existing non-empty output folder.
    """

    seed: int = 0
    test_size: float = 0.2
    cv_folds: int = 5
    positive_label: str | None = None
    n_bootstrap: int = 1000
    shap_rows: int = 100
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.cv_folds < 2:
            raise EvaluationError(f"cv_folds must be at least 2, not {self.cv_folds}")
        if self.n_bootstrap < 0:
            raise EvaluationError(f"n_bootstrap must be 0 or more, not {self.n_bootstrap}")
        if self.shap_rows < 1:
            raise EvaluationError(f"shap_rows must be at least 1, not {self.shap_rows}")


@dataclass(frozen=True)
class _Split:
    """Lesion-level labels and per-model scores of one side of the split."""

    y: NDArray[np.int8]
    scores: dict[str, NDArray[np.float64]]


def _lesion_scores(frame: pd.DataFrame, y: NDArray[np.int64],
                   image_scores: Mapping[str, NDArray[np.float64]]) -> _Split:
    names = list(image_scores)
    with stats_errors():
        agg = stats.aggregate_by_lesion(frame["lesion_id"].to_numpy(), y,
                                        np.column_stack([image_scores[n] for n in names]))
    return _Split(agg.y_true, {n: agg.y_score[:, k] for k, n in enumerate(names)})


def _table2(models: Mapping[str, FittedModel], train: Evaluation,
            test: Evaluation, cv_auc: Mapping[str, float]) -> pd.DataFrame:
    rows = []
    for name, model in models.items():
        for split, ev in ((TRAIN_SET, train), (TEST_SET, test)):
            m = ev.models[name]
            row: dict[str, Any] = {
                "modality": model.modality, "classifier": model.classifier, "set": split,
                "n_lesions": ev.n, "n_positive": ev.n_positive,
                "auc": m.auc.auc, "auc_lo": m.auc.lo, "auc_hi": m.auc.hi,
            }
            for k in ("accuracy", "sensitivity", "specificity"):
                row[k], row[f"{k}_lo"], row[f"{k}_hi"] = m.at_threshold.metrics[k]
            row["threshold"] = model.threshold
            row["cv_auc"] = cv_auc[name] if split == TRAIN_SET else np.nan
            rows.append(row)
    return pd.DataFrame(rows)


def _per_modality(test: Evaluation) -> Iterator[tuple[str, Evaluation, dict]]:
    """Each modality with the evaluation of its models only and their colours."""
    for modality in MODALITIES:
        sub = dataclasses.replace(test, models={n: m for n, m in test.models.items()
                                                if n.startswith(f"{modality}-")})
        yield modality, sub, {f"{modality}-{c}": col for c, col in _COLORS.items()}


def _figure1(test: Evaluation) -> Any:
    from eusgist.report import figures as rf

    panels = []
    for modality, sub, colors in _per_modality(test):
        panels += [(f"{modality}: calibration", partial(rf.draw_calibration, ev=sub,
                                                        colors=colors)),
                   (f"{modality}: decision curves", partial(rf.draw_dca, ev=sub, colors=colors))]
    return rf.panel_figure(panels, ncols=2,
                           title="Figure 1: calibration and decision curves (test split)")


def _roc_figure(test: Evaluation) -> Any:
    from eusgist.report import figures as rf

    panels = []
    for modality, sub, colors in _per_modality(test):
        panels.append((f"{modality} (n = {test.n}, {test.n_positive} positive)",
                       partial(rf.draw_roc, ev=sub, colors=colors)))
    return rf.panel_figure(panels, ncols=3, title="ROC curves on the test split (lesion level)")


def _shap(models: Mapping[str, FittedModel], train: pd.DataFrame, test: pd.DataFrame,
          folder: Path, options: PaperReportOptions) -> list[Path]:
    """Figure 2: SHAP top-20 summary of each modality's SVM on test images."""
    from eusgist.explain import background_sample, explain, shap_summary
    from eusgist.models.portable import PortableModel

    rng = np.random.default_rng(options.seed)
    rows = np.sort(rng.choice(len(test), size=min(options.shap_rows, len(test)), replace=False))
    shown = test.iloc[rows]
    written = []
    for name, model in models.items():
        if model.classifier != SHAP_CLASSIFIER:
            continue
        portable = PortableModel.from_pipeline(model.pipeline, model.classifier)
        background = background_sample(portable, train, seed=options.seed)
        scratch = folder / f".shap-{name}"
        top = min(20, len(model.selected_features))
        png, csv = shap_summary(explain(portable, shown, background, seed=options.seed),
                                scratch, title=f"Figure 2: {name}, top {top} features (test)")
        for path in (png, csv):
            target = folder / f"figure2_shap_{name}{path.suffix}"
            path.rename(target)
            written.append(target)
        scratch.rmdir()
    return written


def _html(table2: pd.DataFrame, test: Evaluation, figures: Mapping[str, Path],
          context: Mapping[str, str]) -> str:
    from eusgist.report.html import CSS, delong_html, figure_html, fmt, html_table, with_ci

    t2_rows = [[f"{r.modality}-{r.classifier}", r.set, f"{r.n_lesions} ({r.n_positive})",
                with_ci((r.auc, r.auc_lo, r.auc_hi)),
                *[with_ci((getattr(r, k), getattr(r, f"{k}_lo"), getattr(r, f"{k}_hi")))
                  for k in ("accuracy", "sensitivity", "specificity")],
                fmt(r.cv_auc)]
               for r in table2.itertuples()]
    t4_rows = [[name, fmt(m.brier), fmt(m.calibration_fit.intercept, 2),
                fmt(m.calibration_fit.slope, 2)]
               for name, m in test.models.items() if m.calibration_fit is not None]
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<title>eusgist paper report (zhao2026)</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Paper report: zhao2026's evaluation on this data set</h1>",
        html_table(["Setting", "Value"], [[k, v] for k, v in context.items()], numeric_from=99),
        "<h2>Table 2: diagnostic performance, training and test splits</h2>",
        "<p class=small>Lesion level (mean of image probabilities); 95% CIs: AUC DeLong, "
        "proportions Wilson. Training rows are <b>resubstitution</b> (the refitted model "
        "scores its own training lesions, as zhao2026 reports); CV AUC is the lesion-level "
        "out-of-fold AUC of grouped cross-validation on the training split, an honest "
        "estimate beside it. Thresholds: Youden's J on the out-of-fold training scores.</p>",
        html_table(["Model", "Set", "Lesions (positive)", "AUC", "Accuracy", "Sensitivity",
                    "Specificity", "CV AUC"], t2_rows, numeric_from=2),
        "<h2>Table 3: DeLong tests between models (test split, paired)</h2>",
        delong_html(test),
        "<h2>Table 4: Brier scores (test split)</h2>",
        html_table(["Model", "Brier score", "Calibration intercept", "Calibration slope"], t4_rows),
        "<h2>Figures</h2>",
        "<div>" + "".join(figure_html(path, caption) for caption, path in figures.items())
        + "</div>",
        "<p class=small>Tables: table2_performance.csv, table3_delong.csv, table4_brier.csv, "
        "dca.csv; test-split statistics of all models: report.json.</p></body></html>",
    ]
    return "\n".join(parts)


def paper_report(
    frame: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    options: PaperReportOptions = PaperReportOptions(),
    *,
    context: Mapping[str, str] | None = None,
) -> Path:
    """Fit the nine zhao2026 models on ``frame`` and write the report folder (all or nothing).

    Parameters
    ----------
    frame : pandas.DataFrame
        A feature table (:func:`eusgist.features.extract_features`): identifier columns,
        ``rad_*`` and ``deep_*`` feature columns, one row per image.
    out_dir : path
        The folder to create.
    options : PaperReportOptions
    context : mapping of str to str, optional
        Lines describing the data and run, shown in the HTML page and ``settings.json``.

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    ValueError
        A non-empty ``out_dir`` (without ``overwrite``), a modality without feature
        columns, one class, too few lesions to split or cross-validate.
    """
    from eusgist.models.tabular import fit_model, lesion_split

    out = Path(out_dir)
    check_out_dir(out, options.overwrite)
    for modality in MODALITIES:
        feature_columns(list(frame.columns), modality)  # fail before any training
    train, test, classes = lesion_split(frame, test_size=options.test_size, seed=options.seed,
                                        positive_label=options.positive_label)
    y_train = (train["label"] == classes[1]).to_numpy(dtype=np.int64)
    y_test = (test["label"] == classes[1]).to_numpy(dtype=np.int64)
    log.info("split by lesion: %d train / %d test images (%d / %d lesions)", len(train),
             len(test), train["lesion_id"].nunique(), test["lesion_id"].nunique())

    models: dict[str, FittedModel] = {}
    pairs = [(m, c) for m in MODALITIES for c in CLASSIFIERS]
    for k, (modality, classifier) in enumerate(pairs, start=1):
        log.info("[%d/%d] fitting %s-%s", k, len(pairs), modality, classifier)
        model = fit_model(train, y_train, train["lesion_id"], modality=modality,
                          classifier=classifier, seed=options.seed, n_splits=options.cv_folds)
        models[model.name] = model
    thresholds = {name: m.threshold for name, m in models.items()}
    resub = _lesion_scores(train, y_train, {n: m.predict_proba(train) for n, m in models.items()})
    oof = _lesion_scores(train, y_train, {n: m.oof_proba for n, m in models.items()})
    held = _lesion_scores(test, y_test, {n: m.predict_proba(test) for n, m in models.items()})
    with stats_errors():
        cv_auc = {n: stats.roc_auc_ci(oof.y, s).auc for n, s in oof.scores.items()}
    train_ev = evaluate_scores(resub.y, resub.scores, threshold=thresholds, n_bootstrap=0)
    test_ev = evaluate_scores(held.y, held.scores, threshold=thresholds,
                              n_bootstrap=options.n_bootstrap, seed=options.seed)
    table2 = _table2(models, train_ev, test_ev, cv_auc)
    for name, m in test_ev.models.items():
        log.info("%s: test AUC %.3f (%.3f to %.3f), train %.3f, CV %.3f", name, m.auc.auc,
                 m.auc.lo, m.auc.hi, train_ev.models[name].auc.auc, cv_auc[name])

    settings = {
        **dict(context or {}),
        "Classes": f"{classes[0]} (0) vs {classes[1]} (1, positive)",
        "Split": f"by lesion, test share {options.test_size:g}, seed {options.seed}: "
                 f"{train_ev.n} train lesions ({train_ev.n_positive} positive), "
                 f"{test_ev.n} test lesions ({test_ev.n_positive} positive)",
        "Tuning": f"grouped {options.cv_folds}-fold CV on the training split",
        "eusgist": __version__,
    }
    with atomic_dir(out, overwrite=options.overwrite) as tmp:
        write_csv(table2, tmp / "table2_performance.csv")
        write_csv(delong_table(test_ev), tmp / "table3_delong.csv")
        write_csv(calibration_table(test_ev), tmp / "table4_brier.csv")
        write_csv(dca_table(test_ev), tmp / "dca.csv")
        write_json(tmp / "report.json", report_dict(test_ev))
        write_json(tmp / "settings.json", {
            **settings,
            "models": {n: {"best_params": m.best_params, "threshold": m.threshold,
                           "n_features_input": len(m.feature_names),
                           "n_features_selected": len(m.selected_features)}
                       for n, m in models.items()},
        })
        figures = {"ROC curves (test split)": tmp / "roc_test.png",
                   "Figure 1: calibration and decision curves": tmp / FIGURE1}
        _roc_figure(test_ev).savefig(tmp / "roc_test.png")
        _figure1(test_ev).savefig(tmp / FIGURE1)
        for path in _shap(models, train, test, tmp, options):
            if path.suffix == ".png":
                figures[f"Figure 2: SHAP, {path.stem.removeprefix('figure2_shap_')}"] = path
        (tmp / "report.html").write_text(_html(table2, test_ev, figures, settings),
                                         encoding="utf-8")
    log.info("wrote %s", out)
    return out

