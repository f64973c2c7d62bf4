"""evaluate.py's metric functions on crafted arrays: missing classes, calibration, abstention."""

from __future__ import annotations

import numpy as np
import pytest

from bot.writing import codegen

from . import load_script, make_plan

LABELS = ["a", "b", "c"]


@pytest.fixture(scope="module")
def ev(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluate")
    (folder / "evaluate.py").write_text(codegen.render_pr_files(make_plan("d.csv", LABELS), examples=[])["evaluate.py"])
    return load_script(folder / "evaluate.py", "rendered_evaluate")


def test_macro_f1_covers_only_classes_present_in_test(ev):
    # class c never occurs in y_true, but one "a" is predicted as c
    result = ev.classification_metrics([0, 0, 1, 1], [0, 2, 1, 1], LABELS)
    f1_a, f1_b = 2 * 1.0 * 0.5 / 1.5, 1.0
    assert result["macro_f1"] == pytest.approx((f1_a + f1_b) / 2)
    assert result["accuracy"] == pytest.approx(0.75)
    assert result["classes_in_test"] == 2
    assert result["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert result["per_class"]["a"]["recall"] == pytest.approx(0.5)
    assert result["confusion"] == {"labels": LABELS, "matrix": [[1, 0, 1], [0, 2, 0], [0, 0, 0]]}
    assert result["most_confused"] == [{"true": "a", "pred": "c", "count": 1}]


def test_perfect_predictions_with_an_absent_class_score_one(ev):
    result = ev.classification_metrics([0, 1, 1], [0, 1, 1], LABELS)
    assert result["macro_f1"] == 1.0 and result["accuracy"] == 1.0 and result["most_confused"] == []


def test_expected_calibration_error(ev):
    assert ev.expected_calibration_error([0.9] * 10, [1] * 9 + [0]) == pytest.approx(0.0)
    assert ev.expected_calibration_error([1.0] * 4, [1, 0, 1, 0]) == pytest.approx(0.5)
    # two bins: 0.95 (all right, gap 0.05) and 0.55 (half right, gap 0.05)
    assert ev.expected_calibration_error([0.95, 0.95, 0.55, 0.55], [1, 1, 1, 0]) == pytest.approx(0.05)
    assert ev.expected_calibration_error([], []) == 0.0


def test_threshold_is_zero_when_every_answer_is_right(ev):
    assert ev.choose_threshold([0.9, 0.6, 0.3], [True, True, True]) == 0.0


def test_threshold_cuts_below_the_confident_correct_answers(ev):
    confidence = [0.99, 0.95, 0.9, 0.8, 0.4, 0.3]
    correct = [True, True, True, True, False, False]
    assert ev.choose_threshold(confidence, correct) == pytest.approx(0.8)
    at = ev.abstain_metrics([0.85, 0.5, 0.95], [True, False, True], 0.8)
    assert at == {"threshold": 0.8, "coverage": pytest.approx(2 / 3), "accuracy": 1.0}


def test_abstaining_on_everything_reports_zero_coverage(ev):
    assert ev.abstain_metrics([0.1, 0.2], [True, False], 0.5) == {"threshold": 0.5, "coverage": 0.0, "accuracy": 0.0}


def test_fewer_errors_than_the_minimum_are_all_listed_most_confident_first(ev):
    probs = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    wrong = ev.misclassified_examples(["t0", "t1", "t2", "t3"], [0, 0, 1, 2], probs, LABELS)
    assert [w["text"] for w in wrong] == ["t1", "t2"]
    assert wrong[0] == {"text": "t1", "true": "a", "pred": "b", "confidence": 0.7}
    patterns = ev.failure_patterns(["t0", "t1", "t2", "t3"], [0, 0, 1, 2], probs, threshold=0.65)
    assert patterns["errors"] == 2 and patterns["below_threshold_share"] == 0.5


def test_perturbations_are_deterministic(ev):
    texts = ["please cancel my order number twelve", "where is my parcel"]
    assert ev.perturb(texts, "typos") == ev.perturb(texts, "typos")
    assert ev.perturb(texts, "typos") != texts
    assert ev.perturb(texts, "truncation") == ["please cancel my", "where is"]
    assert ev.perturb(["Hi"], "uppercase") == ["HI"] and ev.perturb(["Hi"], "lowercase") == ["hi"]


def test_baseline_gives_zero_probability_to_classes_missing_from_train(ev):
    texts = ["refund my money", "money back please", "track parcel", "where is my parcel"] * 3
    y = np.array([0, 0, 1, 1] * 3)
    model = ev.TfidfClassifier(3).fit(texts, y)
    model.calibrate(texts, y)
    probs = model.predict_proba(["refund please", "parcel"])
    assert probs.shape == (2, 3) and np.allclose(probs.sum(axis=1), 1.0)
    assert np.all(probs[:, 2] == 0.0) and list(probs.argmax(axis=1)) == [0, 1]
    constant = ev.TfidfClassifier(3).fit(["x", "y"], np.array([2, 2]))
    assert constant.predict_proba(["z"]).argmax() == 2


@pytest.mark.parametrize(
    ("ft", "base", "expected"),
    [(0.90, 0.898, "not worth its cost"), (0.80, 0.90, "worse"), (0.95, 0.90, "beats")],
)
def test_verdict_is_cost_aware(ev, ft, base, expected):
    text = ev.verdict({"macro_f1": ft}, "fine-tune + TF-IDF ensemble", {"macro_f1": base}, {"train_seconds": 600},
                      2.0, smoke=False)
    assert expected in text and text.startswith("The fine-tune + TF-IDF ensemble model")


def test_report_tables_survive_hostile_labels(ev):
    cells = ev.md("a|b\n<img src=x>")
    assert "|" not in cells.replace("\\|", "") and "<" not in cells
