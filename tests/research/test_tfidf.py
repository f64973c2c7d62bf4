"""The TF-IDF model the fine-tune is compared with, and shipped beside when the ensemble wins."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bot.research.tfidf import ENSEMBLE_WEIGHTS, TfidfClassifier, blend, choose_weight

TEXTS = ["cancel my order", "refund please", "where is my parcel", "I want a refund", "cancel it now",
         "track my parcel", "please cancel the order", "money back for my refund"]
Y = [0, 1, 2, 1, 0, 2, 0, 1]


def test_saved_model_predicts_exactly_like_the_fitted_one_and_holds_no_pickle(tmp_path):
    model = TfidfClassifier(4).fit(TEXTS, Y).calibrate(TEXTS[:4], Y[:4])
    model.finetuned_weight = 0.6
    model.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tfidf.json", "tfidf.safetensors"]
    assert json.loads((tmp_path / "tfidf.json").read_text())["format"] == "ml-intern-tfidf/1"
    loaded = TfidfClassifier.load(tmp_path)
    queries = ["I need a refund", "cancel", "parcel tracking please", "unrelated words entirely"]
    np.testing.assert_allclose(loaded.predict_proba(queries), model.predict_proba(queries), atol=1e-6)
    assert loaded.finetuned_weight == 0.6 and loaded.temperature == model.temperature
    assert loaded.predict_proba(["refund please"]).argmax() == 1


def test_classes_missing_from_training_get_zero_probability():
    probs = TfidfClassifier(4).fit(TEXTS, Y).predict_proba(["refund please", "parcel"])
    assert probs.shape == (2, 4) and np.allclose(probs.sum(axis=1), 1.0) and np.all(probs[:, 3] == 0.0)


def test_binary_and_single_class_training_sets(tmp_path):
    binary = TfidfClassifier(3).fit(["refund please", "cancel order"], [2, 0])
    assert binary.predict_proba(["refund"]).argmax() == 2 and binary.predict_proba(["cancel"]).argmax() == 0
    constant = TfidfClassifier(3).fit(["x", "y"], [1, 1])
    constant.save(tmp_path)
    assert list(TfidfClassifier.load(tmp_path).predict_proba(["z"])[0]) == [0.0, 1.0, 0.0]


def test_loading_refuses_a_folder_of_another_format(tmp_path):
    (tmp_path / "tfidf.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="is not a ml-intern-tfidf/1 model"):
        TfidfClassifier.load(tmp_path)


def test_the_weight_is_chosen_on_validation_and_ties_keep_the_fine_tune():
    right = np.eye(3)[[0, 1, 2, 0]]
    wrong = np.eye(3)[[1, 2, 0, 1]]
    y = [0, 1, 2, 0]
    weight, accuracy = choose_weight(right, wrong, y)
    assert weight == 1.0 and accuracy == {"finetuned": 1.0, "tfidf": 0.0, "ensemble": 1.0}
    weight, accuracy = choose_weight(0.9 * wrong + 0.1 * right, right, y)
    assert weight == 0.5 and accuracy == {"finetuned": 0.0, "tfidf": 1.0, "ensemble": 1.0}
    assert min(ENSEMBLE_WEIGHTS) == 0.5  # the transformer always keeps at least half the say


def test_the_average_can_beat_both_models():
    # each model is right twice, confidently; where it is wrong it is unsure, so the average is right
    finetuned = np.array([[0.9, 0.1], [0.45, 0.55], [0.1, 0.9], [0.45, 0.55]])
    tfidf = np.array([[0.45, 0.55], [0.9, 0.1], [0.55, 0.45], [0.9, 0.1]])
    y = [0, 0, 1, 0]
    weight, accuracy = choose_weight(finetuned, tfidf, y)
    assert accuracy["ensemble"] == 1.0 > max(accuracy["finetuned"], accuracy["tfidf"])
    np.testing.assert_allclose(blend(finetuned, tfidf, weight).sum(axis=1), 1.0)
