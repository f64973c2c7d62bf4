"""bot/research/selection.py: calibration, paired tests, intervals, the ship decision and the abstain
threshold, on cases whose answers are known by hand."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import f1_score

from bot.research import selection
from bot.research.selection import (
    OFF_TOPIC,
    bootstrap_interval,
    choose_shipped,
    choose_threshold,
    fit_temperature,
    macro_f1_of,
    mcnemar_p,
    off_topic_halves,
    paired_bootstrap_diff,
)
from bot.writing import codegen


def _softmax(logits, temperature=1.0):
    z = np.asarray(logits, dtype=float) / temperature
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# --- temperature ---------------------------------------------------------------------------


def test_temperature_scaling_recovers_the_temperature_the_labels_were_drawn_with():
    rng = np.random.default_rng(0)
    logits = 3.0 * rng.normal(size=(4000, 5))
    probs = _softmax(logits, 2.0)
    y = np.array([rng.choice(5, p=p) for p in probs])
    assert fit_temperature(logits, y) == pytest.approx(2.0, rel=0.1)


def test_a_validation_split_without_errors_does_not_make_every_confidence_one():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 200)
    logits = rng.normal(size=(200, 4)) + 6.0 * np.eye(4)[y]  # all right, by wide margins
    temperature = fit_temperature(logits, y)
    confidence = _softmax(logits, temperature).max(axis=1).astype(np.float32)
    assert temperature > selection.TEMPERATURE_GRID[0]
    assert confidence.max() < 1.0  # still rankable, so a threshold can separate off-topic text
    assert confidence.mean() > 0.95  # and still confident: it was right every time


def test_nothing_to_fit_leaves_the_temperature_at_one():
    assert fit_temperature(np.zeros((0, 3)), []) == 1.0


# --- McNemar and bootstrap -----------------------------------------------------------------


def _pairs(only_a: int, only_b: int, both: int = 20) -> tuple[np.ndarray, np.ndarray]:
    a = np.r_[np.ones(only_a), np.zeros(only_b), np.ones(both)].astype(bool)
    b = np.r_[np.zeros(only_a), np.ones(only_b), np.ones(both)].astype(bool)
    return a, b


@pytest.mark.parametrize(("only_a", "only_b", "p"), [
    (10, 0, 2 / 2**10),  # every discordant pair favours A: 2 x 0.5^10
    (0, 10, 2 / 2**10),
    (5, 5, 1.0),  # balanced: no evidence either way
    (6, 0, 2 / 2**6),  # 0.031: the smallest one-sided count that is significant at 0.05
    (5, 0, 2 / 2**5),  # 0.0625: not significant
    (7, 3, 2 * (1 + 10 + 45 + 120) / 2**10),  # 0.34
    (0, 0, 1.0),  # no discordant pair: indistinguishable
])
def test_mcnemar_is_the_exact_binomial_test_on_discordant_pairs(only_a, only_b, p):
    assert mcnemar_p(*_pairs(only_a, only_b)) == pytest.approx(p)


def test_macro_f1_matches_sklearn_over_the_classes_present():
    rng = np.random.default_rng(2)
    y_true, y_pred = rng.integers(0, 5, 300), rng.integers(0, 6, 300)  # class 5 only predicted
    expected = f1_score(y_true, y_pred, labels=sorted(set(y_true)), average="macro", zero_division=0)
    assert macro_f1_of(y_true, y_pred) == pytest.approx(expected)


def test_bootstrap_interval_brackets_the_accuracy_and_is_reproducible():
    y = np.zeros(1000, dtype=int)
    pred = np.r_[np.zeros(500), np.ones(500)].astype(int)  # 50 % right
    low, high = bootstrap_interval(y, pred)
    half_width = 1.96 * np.sqrt(0.25 / 1000)  # the normal approximation: 0.031
    assert low == pytest.approx(0.5 - half_width, abs=0.01) and high == pytest.approx(0.5 + half_width, abs=0.01)
    assert bootstrap_interval(y, pred) == [low, high]  # seed 1234: the same interval every run
    assert bootstrap_interval(y, y) == [1.0, 1.0]


def test_paired_difference_interval_excludes_zero_only_for_a_real_gain():
    y = np.zeros(1000, dtype=int)
    worse = np.r_[np.zeros(800), np.ones(200)].astype(int)
    better = np.r_[np.zeros(900), np.ones(100)].astype(int)  # right on 100 more rows, wrong on none more
    low, high = paired_bootstrap_diff(y, better, worse)
    assert 0.0 < low < 0.1 < high
    assert paired_bootstrap_diff(y, worse, worse) == [0.0, 0.0]


# --- the ship decision -----------------------------------------------------------------------


def _predictions(y: np.ndarray, wrong: int, start: int = 0) -> np.ndarray:
    """y with `wrong` rows (from `start`) predicted as another class."""
    pred = y.copy()
    pred[start:start + wrong] = (pred[start:start + wrong] + 1) % 3
    return pred


def test_a_tie_ships_the_cheaper_model():
    y = np.arange(60) % 3
    decision = choose_shipped({"baseline": y, "finetuned": y.copy()}, y, ["baseline", "finetuned"])
    assert decision["shipped"] == "baseline"
    assert decision["comparisons"] == [{"cheaper": "baseline", "costlier": "finetuned", "val_gain_points": 0.0,
                                        "p_value": 1.0, "significant": False}]
    assert decision["reason"].startswith("The TF-IDF baseline ships") and "not significant" in decision["reason"]


def test_a_costlier_model_ships_only_when_significantly_better():
    y = np.arange(60) % 3
    ten_more_right = {"baseline": _predictions(y, 10), "finetuned": y}  # b=0, c=10: p = 0.002
    decision = choose_shipped(ten_more_right, y, ["baseline", "finetuned"])
    assert decision["shipped"] == "finetuned" and decision["comparisons"][0]["significant"]
    assert decision["comparisons"][0]["val_gain_points"] == pytest.approx(100 * 10 / 60, abs=0.01)
    assert "a significant gain" in decision["reason"]
    # five rows won, five lost: the same accuracy, p = 1, the cheaper model stays
    swapped = {"baseline": _predictions(y, 5), "finetuned": _predictions(y, 5, start=30)}
    assert choose_shipped(swapped, y, ["baseline", "finetuned"])["shipped"] == "baseline"
    # five more right is not enough at alpha 0.05 (p = 0.0625)
    five_more = {"baseline": _predictions(y, 5), "finetuned": y}
    assert choose_shipped(five_more, y, ["baseline", "finetuned"])["shipped"] == "baseline"


def test_each_candidate_is_compared_with_the_current_choice():
    y = np.arange(90) % 3
    predictions = {"baseline": _predictions(y, 12), "finetuned": _predictions(y, 9), "ensemble": y}
    decision = choose_shipped(predictions, y, ["baseline", "finetuned", "ensemble"], finetuned_weight=0.7)
    # fine-tune vs baseline: 3 rows apart, not significant; ensemble vs baseline (still the choice): 12 rows
    assert [(c["cheaper"], c["costlier"], c["significant"]) for c in decision["comparisons"]] == [
        ("baseline", "finetuned", False), ("baseline", "ensemble", True)]
    assert decision["shipped"] == "ensemble" and decision["finetuned_weight"] == 0.7
    assert decision["candidates"] == ["baseline", "finetuned", "ensemble"] and decision["alpha"] == 0.05
    assert decision["val_accuracy"] == {"baseline": pytest.approx(78 / 90), "finetuned": pytest.approx(81 / 90),
                                        "ensemble": 1.0}


def test_a_significantly_worse_costlier_model_never_ships():
    y = np.arange(60) % 3
    decision = choose_shipped({"baseline": y, "finetuned": _predictions(y, 20)}, y, ["baseline", "finetuned"])
    assert decision["shipped"] == "baseline" and decision["comparisons"][0]["significant"]
    assert "significantly worse" in decision["reason"]


# --- the abstain threshold ---------------------------------------------------------------------


def test_the_threshold_refuses_the_off_topic_cluster_while_answering_97_percent():
    val = [0.9] * 97 + [0.5, 0.4, 0.3]
    off_topic = [0.2, 0.25, 0.35, 0.45, 0.55]
    threshold = choose_threshold(val, [True] * 100, off_topic, coverage_target=0.97)
    # by hand: at 0.9 all 5 off-topic sentences and 3 validation rows are refused (1.0 - 0.03 = 0.97),
    # more than at 0.5 (0.8 - 0.02) or 0.4 (0.6 - 0.01); answering 97 % of validation is allowed
    assert threshold == 0.9
    assert all(c < threshold for c in off_topic)
    # the default target, 98 %, forbids refusing 3 % of validation: 0.5 is then the best allowed
    assert choose_threshold(val, [True] * 100, off_topic) == 0.5
    assert np.mean(np.array(val) >= 0.5) >= selection.COVERAGE_TARGET


def test_the_coverage_target_caps_what_the_threshold_may_refuse():
    val = [0.9] * 90 + [0.1] * 10  # refusing the off-topic text would refuse 10 % of validation
    assert choose_threshold(val, [True] * 100, [0.5] * 20) == 0.0
    assert choose_threshold(val, [True] * 100, [0.5] * 20, coverage_target=0.9) == 0.9


def test_ties_and_missing_off_topic_text_keep_the_lower_threshold():
    val = [0.9] * 100
    assert choose_threshold(val, [True] * 100, [0.95] * 5) == 0.0  # nothing worth refusing
    assert choose_threshold(val, [True] * 100, []) == 0.0
    assert choose_threshold([], [], [0.2]) == 0.0
    with pytest.raises(ValueError):
        choose_threshold([0.9, 0.8], [True], [0.2])


# --- the off-topic sentences -------------------------------------------------------------------

DOMAIN_WORDS = re.compile(
    r"\b(bank\w*|card\w*|pay\w*|money|cash|transfer\w*|refund\w*|order\w*|deliver\w*|shipping|parcel\w*|"
    r"buy\w*|purchas\w*|shop\w*|invoice\w*|bill\w*|subscri\w*|cancel\w*|customer\w*|support|accounts?|"
    r"passwords?|refunds?|prices?|fees?)\b",
    re.IGNORECASE,
)


def test_off_topic_sentences_are_varied_and_stay_off_the_usual_domains():
    assert 180 <= len(OFF_TOPIC) <= 240 and len(set(OFF_TOPIC)) == len(OFF_TOPIC)
    assert [s for s in OFF_TOPIC if DOMAIN_WORDS.search(s)] == []
    assert all(0 < len(s) <= 80 for s in OFF_TOPIC)
    questions = sum(s.endswith("?") for s in OFF_TOPIC)
    assert 0.4 * len(OFF_TOPIC) < questions < 0.9 * len(OFF_TOPIC)  # questions, commands and statements
    assert "What's the weather in Paris tomorrow?" in OFF_TOPIC


def test_off_topic_halves_split_even_and_odd_indices():
    calibration, held_out = off_topic_halves()
    assert calibration == OFF_TOPIC[0::2] and held_out == OFF_TOPIC[1::2]
    assert not set(calibration) & set(held_out) and len(calibration) + len(held_out) == len(OFF_TOPIC)


def test_the_module_embeds_in_a_standalone_script(tmp_path):
    source = codegen.selection_source()
    assert not re.search(r"^\s*(from __future__|from bot|import bot)\b", source, re.MULTILINE)
    (tmp_path / "embedded.py").write_text(source + "\nprint(len(off_topic_halves()[1]))\n")
    run = subprocess.run([sys.executable, "-I", str(tmp_path / "embedded.py")], capture_output=True, text=True,
                         cwd=tmp_path, check=False)  # -I: without the bot on the path
    assert run.returncode == 0 and run.stdout.strip() == str(len(off_topic_halves()[1])), run.stderr
