"""About tab: what the tool is for and not for, what each installed model is and is not, what
the app stores and for how long, the licence, how to cite, and who may review.

The models section is read from the model cards when the page loads (the weights folder may
hold other bundles than the shipped ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gradio as gr

from eusgist import __version__
from eusgist.inference import catalog
from eusgist.report.text import ci_range
from eusgist.ui.predict_models import method_words, read_card, what_it_is

INTENDED_USE = """\
## Intended use

eusgist is **research and teaching software** for studying how well models tell gastric
gastrointestinal stromal tumours (GIST) from leiomyomas on endoscopic ultrasound (EUS)
images, and for reproducing published methods (ResNet on EUS; radiomics + deep features with
SVM, XGBoost and random forest; ROC/DeLong, calibration and decision-curve evaluation) on
your own data. It is **not a medical device** and **not clinically validated**: no output
shown here may guide the care of a patient, and none replaces histopathology or a clinician.
**No GIST vs leiomyoma model ships with it**: no public EUS data set of GISTs and leiomyomas
exists. The installed models below show the workflow on other data and say so everywhere.
"""

RETENTION = """\
## What the app stores, where, and for how long

- **Predict** stores nothing of its own. Uploaded images and masks, and the pictures shown,
  are Gradio's temporary copies (the system temporary folder, or `GRADIO_TEMP_DIR`): deleted
  after one day (checked every hour) and whenever the server restarts. The features of the
  last 64 predicted images are kept **in memory only**, keyed on the image content, so a
  re-run is fast; they are gone when the server stops.
- **Annotate** stores what you import and save in the **annotation database**: the images
  (DICOM de-identified on import, burned-in text blanked), their lesion labels and metadata,
  and every saved revision of every mask (history is never rewritten). It is a SQLite file,
  `annotations/eusgist.sqlite` beside the app, or in `EUSGIST_DATA_DIR`, or the database
  `EUSGIST_DATABASE_URL` names. Nothing expires: it is kept until whoever runs the server
  deletes it. On a Hugging Face Space with neither set, it lives on the Space's own disk and
  is **lost when the Space restarts**. Pictures prepared for the editor are temporary files
  (`eusgist-pictures` in the temporary folder), deleted after one day.
- **Evaluate** and **annotation export** write their inputs' unpacked copies and the reports
  into new folders in the system temporary folder (`eusgist-evaluate-*`,
  `eusgist-export-*`). The app does not delete these: they stay until the operating system
  clears its temporary folder (at reboot on most systems). The copies Gradio serves for
  download follow the one-day rule above.
- The **feature cache on disk** (`EUSGIST_CACHE`, default `~/.cache/eusgist/features`) is
  used by the command line (`extract`, `report`) only, never by the app; it is kept until
  deleted.
- With a login (`EUSGIST_AUTH_FILE`), the password file holds names and salted PBKDF2 hashes.
  The server's log records refused inputs' messages, never images.
"""

REVIEWERS = """\
## Who may review

Annotators work blind: each sees only their own masks. **Reviewers** see everyone's masks,
the needs-review worklist and the export, and accept, reject or merge annotations. Whoever
runs the server gives reviewer rights: the names in `EUSGIST_REVIEWERS` (comma-separated)
are registered as reviewers when the database opens; on a Hugging Face Space, members of the
organisation `EUSGIST_REVIEWER_ORG` whose role there is in `EUSGIST_REVIEWER_ROLES` (default
`admin,write`) become reviewers when they sign in. The annotator's name comes from the login
(`EUSGIST_AUTH_FILE`, or the Space's Hugging Face sign-in); without a login anyone can type
any name, so turn the login on before several people annotate.
"""


def licence_and_citation() -> str:
    """The licence and how to cite the software, the data and the methods."""
    return f"""\
## Licence

eusgist is free software under the **Apache License 2.0**. The shipped BUSI models were
trained on the BUSI data set, released under CC0; the phantom model on synthetic images made
by eusgist itself.

## How to cite

Cite the software with its version: *eusgist: GIST vs leiomyoma on endoscopic ultrasound,
version {__version__}, Apache-2.0.* When you use a shipped BUSI model, also cite its data:
Al-Dhabyani W, Gomaa M, Khaled H, Fahmy A. Dataset of breast ultrasound images. *Data in
Brief* 2020;28:104863. The methods reproduced come from Guo et al. 2024 (ResNet on EUS,
GIST vs leiomyoma), Zhao et al. 2026 (deep learning, radiomics and combined EUS models,
doi:10.3877/cma.j.issn.2095-7157.2026.02.005) and Gao et al. 2026 (weakly vs strongly
supervised deep learning); cite those you follow.
"""


def _roi_lines(by_kind: Mapping[str, Mapping[str, Any]]) -> list[str]:
    lines = []
    for kind, m in by_kind.items():
        if "auc" not in m:
            continue
        ci = f" (95% CI {ci_range(*m['auc_ci'])})" if m.get("auc_ci") else ""
        n = m.get("n_lesions") or m.get("n_images")
        count = f", {n} test lesions ({m['n_positive_lesions']} positive)" if n and \
            m.get("n_positive_lesions") is not None else ""
        roi = f" — ROI: {m['roi']}" if m.get("roi") else ""
        lines.append(f"  - {kind.replace('_', ' ')}: AUC {m['auc']:.3f}{ci}{count}{roi}")
    return lines


def _model_section(info: catalog.ModelInfo) -> str:
    card = read_card(info)
    name = info.path.name
    if card is None or not info.available:
        return f"### {name}\n\nUnavailable: {info.error or 'unreadable model card'}."
    neg, pos = card.classes
    tag = " — SYNTHETIC demo" if info.synthetic else ""
    is_not = ["clinically validated, nor validated on any data but its own test split"]
    if {c.lower() for c in card.classes} != {"gist", "leiomyoma"}:
        is_not.insert(0, "a GIST vs leiomyoma model")
    if info.synthetic:
        is_not.insert(0, "trained on any real patient's images: its output says nothing "
                         "about patients")
    split = card.training_data.get("split") or {}
    by_kind = _roi_lines(catalog.roi_metrics(card))
    tested = by_kind or [f"  - {catalog.metrics_statement(card)}"]
    size = split.get("test_size")
    share = f", {size:.0%} of them" if isinstance(size, int | float) else ""
    how = (f" (held out by {split['by']}{share}, never seen in training)"
           if split.get("by") else "")
    if card.kind in ("router", "ensemble"):
        what = f"{what_it_is(card)} (see those models)."
    else:
        text = catalog.training_statement(card)
        what = f"{pos} vs {neg}; {method_words(card)}. {text[:1].upper()}{text[1:]}"
    return "\n".join([
        f"### {name}{tag}",
        f"- **Is**: {what}",
        f"- **Validated on its test lesions{', per ROI kind' if by_kind else ''}**{how}:",
        *tested,
        f"- **Is not**: {'; '.join(is_not)}.",
    ])


def models_markdown() -> str:
    """What each installed model is and is not, from its card."""
    models = catalog.list_models()
    if not models:
        return "## The models\n\nNo model is installed (`$EUSGIST_WEIGHTS_DIR` holds no bundle)."
    return "## The models installed here\n\n" + "\n\n".join(_model_section(m) for m in models)


def build() -> None:
    """Add the About tab to the enclosing Blocks."""
    with gr.Tab("About", id="about", elem_id="about"):
        gr.Markdown(INTENDED_USE)
        models = gr.Markdown(elem_id="about-models")
        gr.Markdown(RETENTION)
        gr.Markdown(REVIEWERS)
        gr.Markdown(licence_and_citation())
        gr.on(triggers=None, fn=models_markdown, inputs=None, outputs=models,
              api_name="about_models", show_progress="hidden")
