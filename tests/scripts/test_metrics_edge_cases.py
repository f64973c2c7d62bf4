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


def test_threshold_refuses_off_topic_text_only_within_the_coverage_target(ev):
    # validation answers all right, at 0.6 to 1.0: the rule no longer collapses to 0.0 when none is wrong
    val = list(np.linspace(0.6, 1.0, 100))
    off_topic = [0.3, 0.4, 0.5, 0.55]
    threshold = ev.choose_threshold(val, [True] * 100, off_topic)
    assert threshold > max(off_topic) and np.mean(np.array(val) >= threshold) >= 0.97
    assert ev.choose_threshold(val, [True] * 100, [0.95] * 4) == 0.0  # refusing them would cost > 3 % of answers
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


def _decision(ev, shipped: str, gain: float, p_value: float) -> dict:
    """train.py's decision after one validation comparison, baseline against fine-tune."""
    comparisons = [{"cheaper": "baseline", "costlier": "finetuned", "val_gain_points": gain, "p_value": p_value,
                    "significant": p_value < 0.05}]
    return {"shipped": shipped, "reason": ev.decision_reason(shipped, comparisons), "comparisons": comparisons}


def test_comparisons_on_test_carry_an_interval_and_a_mcnemar_p(ev):
    y = np.zeros(200, dtype=int)
    shipped = y.copy()
    other = np.r_[np.zeros(180), np.ones(20)].astype(int)  # 20 more errors: p = 2 x 0.5^20
    [c] = ev.shipped_comparisons("finetuned", {"baseline": other, "finetuned": shipped}, y)
    assert c["shipped"] == "finetuned" and c["other"] == "baseline" and c["diff_points"] == 10.0
    assert c["significant"] and c["p_value"] == pytest.approx(2 / 2**20)
    assert 0 < c["interval"][0] < 10.0 < c["interval"][1]


@pytest.mark.parametrize(("shipped", "gain", "p_value", "diff", "p_test", "words"), [
    ("baseline", 0.4, 0.6, -0.5, 0.7, "not significant"),
    ("finetuned", 6.0, 0.001, 5.0, 0.002, "significant"),
])
def test_verdict_names_what_ships_and_qualifies_each_comparison(ev, shipped, gain, p_value, diff, p_test, words):
    other = "finetuned" if shipped == "baseline" else "baseline"
    comparison = {"shipped": shipped, "other": other, "diff_points": diff, "interval": [diff - 1.0, diff + 1.0],
                  "p_value": p_test, "significant": p_test < 0.05}
    text = ev.verdict(_decision(ev, shipped, gain, p_value), [comparison], smoke=False)
    name = {"baseline": "TF-IDF baseline", "finetuned": "fine-tune"}
    assert text.startswith(f"The {name[shipped]} ships")
    assert f"{diff:+.1f} points against the {name[other]} (95% interval {diff - 1:+.1f} to {diff + 1:+.1f}" in text
    assert f"McNemar p = {p_test:.2g}, {words})" in text
    assert "ship the baseline unless" not in text and "clear gain" not in text


def test_verdict_says_when_the_test_set_disagrees_with_validation(ev):
    comparison = {"shipped": "baseline", "other": "finetuned", "diff_points": -4.0, "interval": [-6.0, -2.0],
                  "p_value": 0.001, "significant": True}
    text = ev.verdict(_decision(ev, "baseline", 1.0, 0.4), [comparison], smoke=True)
    assert text.startswith("Smoke run") and "The TF-IDF baseline ships" in text
    assert "The fine-tune did significantly better on the test set" in text


def test_report_tables_survive_hostile_labels(ev):
    cells = ev.md("a|b\n<img src=x>")
    assert "|" not in cells.replace("\\|", "") and "<" not in cells
