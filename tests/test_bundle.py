"""Model bundles: exact round trip, plain errors for every kind of damage, no code on load."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from eusgist.bundles.card import ModelCard, read_card
from eusgist.bundles.tabular import (
    BACKGROUND,
    CARD,
    CLASSIFIER_ARRAYS,
    CLASSIFIER_JSON,
    XGBOOST_MODEL,
    BundleError,
    file_sha256,
    load_bundle,
    save_bundle,
)
from eusgist.explain import background_sample
from eusgist.models.portable import PortableModel
from eusgist.models.synthetic import synthetic_feature_table
from eusgist.models.tabular import fit_model

GRIDS = {
    "svm": {"select__C": [0.2]},
    "rf": {"select__C": [0.2], "clf__n_estimators": [30]},
    "xgboost": {"select__C": [0.2], "clf__n_estimators": [30]},
}


@pytest.fixture(scope="module")
def table():
    return synthetic_feature_table(n_lesions=30, n_rad=20, n_deep=20, seed=8)


@pytest.fixture(scope="module")
def fitted(table):
    y = (table["label"] == "GIST").to_numpy(int)
    return {
        clf: fit_model(table, y, table["lesion_id"], modality="combined", classifier=clf,
                       grid=grid, n_splits=3)
        for clf, grid in GRIDS.items()
    }


def _save(folder, model, table, **kwargs):
    portable = PortableModel.from_pipeline(model.pipeline, model.classifier)
    return save_bundle(
        folder, portable, name=model.name, classes=("leiomyoma", "GIST"), threshold=model.threshold,
        input_features=model.feature_names, background=background_sample(portable, table, n=20),
        info={"model": {"modality": model.modality}}, **kwargs,
    )


@pytest.fixture
def svm_bundle(tmp_path, fitted, table):
    yaml_text = "setting:\n  binWidth: 25\n"
    return _save(tmp_path / "svm", fitted["svm"], table, radiomics_yaml=yaml_text)


def _rewrite(folder, name, data: bytes):
    """Replace a file and update its checksum in the card (a deliberate, consistent edit)."""
    (folder / name).write_bytes(data)
    card = json.loads((folder / CARD).read_text())
    card["files"][name] = file_sha256(folder / name)
    (folder / CARD).write_text(json.dumps(card))


def _edit_card(folder, edit):
    card = json.loads((folder / CARD).read_text())
    edit(card)
    (folder / CARD).write_text(json.dumps(card))


@pytest.mark.parametrize("classifier", list(GRIDS))
def test_round_trip_predicts_identically(tmp_path, fitted, table, classifier):
    model = fitted[classifier]
    bundle = load_bundle(_save(tmp_path / classifier, model, table))
    expected = model.predict_proba(table)
    got = bundle.predict_proba(table[list(bundle.required_features)])
    if classifier == "svm":
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    else:
        np.testing.assert_array_equal(got, expected)
    assert bundle.required_features == tuple(model.selected_features)
    assert bundle.threshold == model.threshold and bundle.classes == ("leiomyoma", "GIST")
    assert set(bundle.predict(table)) <= {"leiomyoma", "GIST"}
    card = bundle.card
    assert card["positive_class"] == "GIST"
    assert "not for clinical use" in card["intended_use"].lower()
    assert card["features"]["input"] == model.feature_names
    assert all((bundle.path / name).stat().st_size < 50e6 for name in card["files"])
    contributions = bundle.explain(table.iloc[0])
    assert len(contributions) == len(bundle.required_features)
    assert all(not f.startswith(("rad_", "deep_")) for f, _, _ in contributions)


def test_saving_replaces_a_bundle_but_not_another_folder(tmp_path, fitted, table, svm_bundle):
    _save(svm_bundle, fitted["rf"], table)
    assert load_bundle(svm_bundle).model.classifier == "rf"
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    with pytest.raises(BundleError, match="not a model bundle"):
        _save(tmp_path / "notes", fitted["rf"], table)
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me"


def test_tampered_file_is_named(svm_bundle):
    data = bytearray((svm_bundle / CLASSIFIER_ARRAYS).read_bytes())
    data[-1] ^= 0xFF
    (svm_bundle / CLASSIFIER_ARRAYS).write_bytes(bytes(data))
    with pytest.raises(BundleError, match=rf"{CLASSIFIER_ARRAYS}: checksum mismatch"):
        load_bundle(svm_bundle)


@pytest.mark.parametrize("name", [BACKGROUND, CLASSIFIER_JSON, "radiomics.yaml"])
def test_missing_file_is_named(svm_bundle, name):
    (svm_bundle / name).unlink()
    with pytest.raises(BundleError, match=rf"{name}: missing"):
        load_bundle(svm_bundle)


def test_missing_card_and_folder(tmp_path, svm_bundle):
    with pytest.raises(BundleError, match="no such bundle folder"):
        load_bundle(tmp_path / "nothing")
    (svm_bundle / CARD).unlink()
    with pytest.raises(BundleError, match=f"{CARD}: missing"):
        load_bundle(svm_bundle)


def test_xgboost_bundle_needs_its_model_file(tmp_path, fitted, table):
    folder = _save(tmp_path / "xgb", fitted["xgboost"], table)
    _edit_card(folder, lambda card: card["files"].pop(XGBOOST_MODEL))
    with pytest.raises(BundleError, match=f"required file.*{XGBOOST_MODEL}"):
        load_bundle(folder)


def test_unknown_classifier_type(svm_bundle):
    meta = json.loads((svm_bundle / CLASSIFIER_JSON).read_text())
    meta["classifier"] = "lightgbm"
    _rewrite(svm_bundle, CLASSIFIER_JSON, json.dumps(meta).encode())
    with pytest.raises(BundleError, match=r"classifier\.json: unknown classifier type 'lightgbm'"):
        load_bundle(svm_bundle)


def test_wrong_feature_count(svm_bundle):
    meta = json.loads((svm_bundle / CLASSIFIER_JSON).read_text())
    meta["features"] = meta["features"][:-1]
    _rewrite(svm_bundle, CLASSIFIER_JSON, json.dumps(meta).encode())
    with pytest.raises(BundleError, match=r"classifier\.json: array 'median' has shape"):
        load_bundle(svm_bundle)


def test_card_and_classifier_disagree_on_features(svm_bundle):
    _edit_card(svm_bundle, lambda card: card["features"]["selected"].pop())
    with pytest.raises(BundleError, match="selected features"):
        load_bundle(svm_bundle)


def test_major_version_mismatch_is_an_error_minor_a_warning(svm_bundle):
    _edit_card(svm_bundle, lambda card: card["versions"].update(numpy="1.26.4"))
    with pytest.raises(BundleError, match="numpy 1.26.4.*incompatible major"):
        load_bundle(svm_bundle)
    major = np.__version__.split(".")[0]
    _edit_card(svm_bundle, lambda card: card["versions"].update(numpy=f"{major}.999.0"))
    with pytest.warns(UserWarning, match="numpy"):
        load_bundle(svm_bundle)


def test_unknown_format_and_cnn_bundle(svm_bundle):
    _edit_card(svm_bundle, lambda card: card.update(format="eusgist-cnn/1"))
    with pytest.raises(BundleError, match="CNN bundle"):
        load_bundle(svm_bundle)
    _edit_card(svm_bundle, lambda card: card.update(format="eusgist-tabular/99"))
    with pytest.raises(BundleError, match="not supported"):
        load_bundle(svm_bundle)


class _Exploit:
    """Unpickling this runs code: it would create the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_loading_never_executes_a_pickle(tmp_path, svm_bundle):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Exploit(marker))
    # 1. a pickle posing as the arrays file, with a matching checksum
    _rewrite(svm_bundle, CLASSIFIER_ARRAYS, payload)
    with pytest.raises(BundleError, match=f"{CLASSIFIER_ARRAYS}: not a readable safetensors"):
        load_bundle(svm_bundle)
    # 2. a pickle listed in the card
    _rewrite(svm_bundle, "classifier.pkl", payload)
    with pytest.raises(BundleError, match=r"refusing \['classifier.pkl'\]"):
        load_bundle(svm_bundle)
    # 3. a stray joblib file in the folder
    (svm_bundle / "model.joblib").write_bytes(payload)
    with pytest.raises(BundleError, match="refusing.*model.joblib"):
        load_bundle(svm_bundle)
    assert not marker.exists()


def test_predict_names_missing_columns(svm_bundle, table):
    bundle = load_bundle(svm_bundle)
    with pytest.raises(ValueError, match="lacks 1 required column"):
        bundle.predict_proba(table.drop(columns=[bundle.required_features[0]]))


def test_backbone_weights_travel_with_the_bundle(tmp_path, fitted, table):
    from safetensors.numpy import save_file

    weights = tmp_path / "finetuned.safetensors"
    save_file({"conv.weight": np.ones((4, 3), dtype=np.float16)}, str(weights))
    folder = _save(tmp_path / "b", fitted["rf"], table, backbone_weights=weights)
    bundle = load_bundle(folder)
    assert "backbone.safetensors" in bundle.card["files"]
    assert bundle.card["explanation"]["space"] == "probability"
    (tmp_path / "fake.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(BundleError, match="fake.safetensors: not a readable safetensors"):
        _save(tmp_path / "c", fitted["rf"], table, backbone_weights=tmp_path / "fake.safetensors")


def test_forest_with_a_cycle_is_refused(tmp_path, fitted, table):
    """Node arrays that would loop forever (a child before its parent) never reach predict."""
    from safetensors.numpy import load_file, save_file

    folder = _save(tmp_path / "rf", fitted["rf"], table)
    arrays = load_file(str(folder / CLASSIFIER_ARRAYS))
    arrays["tree_left"][0] = 0  # the root becomes its own left child
    save_file(arrays, str(tmp_path / "arrays.safetensors"))
    _rewrite(folder, CLASSIFIER_ARRAYS, (tmp_path / "arrays.safetensors").read_bytes())
    with pytest.raises(BundleError, match="tree nodes are inconsistent"):
        load_bundle(folder)


# ---------------------------------------------------------------------------- card schema
SHIPPED = Path(__file__).resolve().parents[1] / "weights"
OLD_TABULAR = {"bundle_format": "eusgist-tabular/1", "name": "t", "class_names": ["a", "b"],
               "positive_class": "b", "threshold": 0.3, "features": {"selected": ["x"]},
               "files": {"classifier.json": "0" * 64}, "library_versions": {"numpy": "2.0"},
               "training_data": {"source": "S"}, "intended_use": "Not for clinical use."}
OLD_CNN = {"format": "eusgist-cnn/1", "name": "c", "kind": "cnn", "arch": "resnet18",
           "classes": ["a", "b"], "positive_class": "b", "threshold": 0.3,
           "expects": {"input_size": 64}, "versions": {"numpy": "2.0"},
           "training": {"source": "S"}, "intended_use": "Not for clinical use."}


@pytest.mark.parametrize("raw, kind", [(OLD_TABULAR, "tabular"), (OLD_CNN, "cnn"),
                                       ({**OLD_CNN, "expects": {"dims": "3d"}}, "3d")])
def test_card_reader_accepts_both_dialects(raw, kind):
    card = ModelCard.from_dict(raw).check()
    assert (card.kind, card.classes, card.positive_class, card.threshold) == \
        (kind, ("a", "b"), "b", 0.3)
    assert card.versions == {"numpy": "2.0"} and card.training_data == {"source": "S"}
    assert card.check(kind) is card
    with pytest.raises(BundleError, match="not supported"):
        card.check("tabular" if kind != "tabular" else "cnn")


@pytest.mark.parametrize("name, kind", [("busi-radiomics-svm", "tabular"),
                                        ("phantom-demo-combined-svm", "tabular"),
                                        ("busi-resnet18-cnn", "cnn")])
def test_shipped_cards_of_both_dialects_read(name, kind):
    card = read_card(SHIPPED / name)
    assert card.kind == kind and card.name == name
    assert card.classes[1] == card.positive_class and 0 < card.threshold < 1
    assert card.versions["numpy"] and card.training_data and card.test_metrics["auc"] > 0.5
    assert "not for clinical use" in card.intended_use.lower()
    assert "probe.safetensors" in card.files  # every shipped bundle checks itself


def test_new_cards_are_written_in_the_unified_dialect(svm_bundle):
    raw = json.loads((svm_bundle / CARD).read_text())
    assert {"format", "kind", "classes", "versions", "files"} <= set(raw)
    assert not {"bundle_format", "class_names", "library_versions"} & set(raw)


@pytest.fixture
def cnn_bundle(tmp_path):
    from eusgist.bundles.cnn import create_backbone, save_cnn_bundle

    model, _ = create_backbone("test_resnet", input_size=32)
    expects = {"input_size": 32, "supervision": "weak", "crop_margin": 0.1, "mean": [0.5] * 3,
               "std": [0.25] * 3, "intensity_scale": 255.0}
    return save_cnn_bundle(tmp_path / "cnn", model, {
        "name": "cnn", "arch": "test_resnet", "classes": ["a", "b"], "positive_class": "b",
        "threshold": 0.5, "expects": expects})


def test_cnn_bundles_record_checksums_and_follow_the_version_rule(cnn_bundle):
    from eusgist.bundles.cnn import WEIGHTS_NAME, load_cnn_bundle

    card = read_card(cnn_bundle, "cnn")
    assert card.files == {name: file_sha256(cnn_bundle / name)
                          for name in (WEIGHTS_NAME, "probe.safetensors")}
    assert load_cnn_bundle(cnn_bundle).card["name"] == "cnn"
    torch_major = int(card.versions["torch"].split(".")[0])
    _edit_card(cnn_bundle, lambda c: c["versions"].update(torch=f"{torch_major + 1}.0.0"))
    with pytest.raises(BundleError, match="torch .*incompatible major"):
        load_cnn_bundle(cnn_bundle)
    _edit_card(cnn_bundle, lambda c: c["versions"].update(torch=f"{torch_major}.999.0"))
    with pytest.warns(UserWarning, match="torch"):
        load_cnn_bundle(cnn_bundle)
    (cnn_bundle / WEIGHTS_NAME).write_bytes((cnn_bundle / WEIGHTS_NAME).read_bytes() + b"x")
    with pytest.raises(BundleError, match="checksum"):
        load_cnn_bundle(cnn_bundle)


def test_old_import_paths_re_export():
    import eusgist.bundle
    import eusgist.models.cnn_bundle
    import eusgist.scoring
    from eusgist.bundles import cnn, tabular
    from eusgist.inference import batch

    assert eusgist.bundle.load_bundle is tabular.load_bundle
    assert eusgist.models.cnn_bundle.load_cnn_bundle is cnn.load_cnn_bundle
    assert eusgist.scoring.score_dataset is batch.score_dataset
