"""The Predict tab's models in words: the notice at the top (which models are here, and that
none is a GIST/leiomyoma model or clinically validated), short selector labels, the chosen
model's description, and its examples.

Everything is read from the model cards (:mod:`eusgist.inference.catalog`), never from
bundle names written here: the weights folder may hold other bundles.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from eusgist.bundles.card import CARD, ModelCard, read_json_object
from eusgist.inference import catalog

#: Example images: ``examples/<model name>/*.png`` with optional ``*_mask.png`` masks.
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"

_MODALITIES = {"radiomics": "radiomics", "deep": "CNN features",
               "combined": "radiomics + CNN features",
               "deepseg": "CNN features of box and frame + segmenter outline"}
_CLASSIFIERS = {"svm": "SVM", "xgboost": "XGBoost", "rf": "random forest",
                "logistic": "logistic regression"}


def read_card(info: catalog.ModelInfo) -> ModelCard | None:
    """The card of a listed bundle, normalised; None when it cannot be read."""
    try:
        return ModelCard.from_dict(read_json_object(info.path / CARD), info.path.name)
    except (OSError, ValueError):
        return None


def method_words(card: ModelCard) -> str:
    """What kind of model a card describes, in a few words (``radiomics, SVM``)."""
    if card.kind == "router":
        return "picks a model by ROI kind"
    if card.kind == "ensemble":
        return "averages " + " and ".join(map(str, card.raw.get("members") or []))
    if card.kind == "tabular":
        model = card.raw.get("model") or {}
        modality = _MODALITIES.get(str(model.get("modality")), "image features")
        return f"{modality}, {_CLASSIFIERS.get(str(model.get('classifier')), 'classifier')}"
    arch = str(card.raw.get("arch") or card.expects.get("arch") or "").strip()
    return f"{'3D ' if card.kind == '3d' else ''}CNN{f' ({arch})' if arch else ''}"


def _data_words(card: ModelCard) -> str:
    """The training data's name without its details (``BUSI breast ultrasound subset``)."""
    data = card.training_data
    source = str(data.get("source") or Path(str(data.get("manifest") or "")).parent.name)
    return source.split("(")[0].split(":")[0].strip() or "unrecorded data"


def is_gist_model(card: ModelCard) -> bool:
    """A model of GIST vs leiomyoma trained on real (not synthetic) images."""
    return ({c.lower() for c in card.classes} == {"gist", "leiomyoma"}
            and not catalog.is_synthetic(card))


def short_label(info: catalog.ModelInfo) -> str:
    """The selector's label: bundle name, task and method (``busi-radiomics-svm — malignant
    vs benign, radiomics, SVM``); SYNTHETIC and unavailable models say so."""
    card = read_card(info)
    if not info.available or card is None:
        return f"{info.path.name} (unavailable)"
    neg, pos = card.classes
    tag = " [SYNTHETIC demo]" if info.synthetic else ""
    return f"{info.path.name} — {pos} vs {neg}, {method_words(card)}{tag}"


def model_choices() -> list[tuple[str, str]]:
    """``(label, name)`` for the selector: available real-data models first, the one best on
    boxes (what a clinician draws) on top, ties to the one best on outlines; then synthetic
    demos; unavailable ones last."""
    def auc(value: float | None) -> float:
        return -(value if value is not None else -1.0)

    models = sorted(catalog.list_models(), key=lambda m: (
        not m.available, m.synthetic, auc(m.box_auc), auc(m.outline_auc), m.name))
    return [(short_label(m), m.path.name) for m in models]


def _routes(card: ModelCard) -> str:
    routes = card.raw.get("routes") or {}
    return ", ".join(f"{kind} ROIs → {name}" for kind, name in routes.items())


def what_it_is(card: ModelCard) -> str:
    """Task, method, and training data (a router: where it sends each ROI kind)."""
    neg, pos = card.classes
    what = f"{pos} vs {neg}; {method_words(card)}"
    if card.kind == "router":
        return f"{what}: {_routes(card)}"
    if card.kind == "ensemble":
        return f"{what} ({card.raw.get('combine', 'mean log-odds')})"
    data = _data_words(card)
    return f"{what}; trained on {'**' + data + '**' if catalog.is_synthetic(card) else data}"


def shipped_notice() -> str:
    """The notice at the top of the tab: no GIST/leiomyoma model ships, what each installed
    model is, and that none is clinically validated."""
    cards = [(m, read_card(m)) for m in catalog.list_models()]
    gist = [m.path.name for m, c in cards if c is not None and is_gist_model(c)]
    lines = ["**eusgist ships no GIST vs leiomyoma model**: no public EUS data set of GISTs and "
             "leiomyomas exists. **No model here is clinically validated**: research and "
             "teaching only, never for a patient's care."]
    if gist:
        lines.append(f"Installed here as GIST vs leiomyoma on real images: {', '.join(gist)} "
                     "(see its card for what it was validated on).")
    if not cards:
        lines.append("No model is installed (`$EUSGIST_WEIGHTS_DIR` holds no bundle).")
        return "\n\n".join(lines)
    default = next((n for label, n in model_choices() if not label.endswith("(unavailable)")),
                   None)
    lines.append("The models here:")
    items = [f"- **{m.path.name}**{' (default)' if m.path.name == default else ''}: "
             + ("unavailable" if c is None or not m.available else what_it_is(c))
             for m, c in cards]
    return "\n\n".join(lines) + "\n" + "\n".join(items)


def describe(model: catalog.LoadedModel) -> str:
    """The chosen model in two lines, shown under the selector."""
    card = model.model_card
    tag = "**SYNTHETIC demo model.** " if model.synthetic else ""
    gist = "" if is_gist_model(card) else " Not a GIST/leiomyoma model."
    return (f"{tag}{what_it_is(card)}.{gist}\n\n"
            f"**Tested:** {catalog.roi_statement(card) or 'no test metrics recorded.'}")


def examples(model: str | None = None) -> list[list[object]]:
    """``[model name, image, mask or None, spacing in mm or None]`` for every example (of
    ``model`` only, when given).

    Examples live in ``examples/<model name>/``: listed in ``examples.csv`` (columns
    ``image``, ``mask``, ``spacing_mm``; paths relative to the folder) when there is one,
    else every ``*.png`` with its optional ``*_mask.png``.
    """
    rows: list[list[object]] = []
    for folder in sorted(p for p in EXAMPLES_DIR.glob("*") if p.is_dir()):
        if model is not None and folder.name != model:
            continue
        listing = folder / "examples.csv"
        if listing.is_file():
            table = pd.read_csv(listing, keep_default_na=False)
            for rec in table.to_dict("records"):
                mask = str(folder / rec["mask"]) if rec.get("mask") else None
                spacing = rec.get("spacing_mm")
                spacing = float(spacing) if spacing not in (None, "") else None
                rows.append([folder.name, str(folder / rec["image"]), mask, spacing])
            continue
        for image in sorted(folder.glob("*.png")):
            if image.stem.endswith("_mask"):
                continue
            mask = image.with_name(f"{image.stem}_mask.png")
            rows.append([folder.name, str(image), str(mask) if mask.is_file() else None, None])
    return rows


def examples_label(name: str | None) -> str:
    """The examples table's title, naming the model."""
    return f"Examples for {name} (click one to load its image and mask)" if name else "Examples"


def example_files() -> list[str]:
    """Every example image and mask (served to the browser as they are)."""
    return [str(p) for row in examples() for p in row[1:3] if p]


def model_examples(name: str | None) -> gr.Dataset:
    """The examples table of the chosen model: ``[image, mask, spacing text]`` rows; hidden
    when the model has none."""
    rows = [[image, mask, "" if spacing is None else f"{spacing:g}"]
            for _, image, mask, spacing in (examples(name) if name else [])]
    return gr.Dataset(samples=rows, label=examples_label(name), visible=bool(rows))


def pick_example(row: list[object] | None) -> tuple[object, object, object]:
    """The clicked example's image, mask and spacing, into the tab's inputs."""
    image, mask, spacing = (list(row or []) + [None, None, ""])[:3]
    return image, mask, spacing or ""
