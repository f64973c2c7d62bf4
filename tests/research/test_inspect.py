"""Inspection finds the right columns with reasons and measures the traps of the real data sets."""

import time
from pathlib import Path

import pandas as pd
import pytest

from bot.research.data import load_frames
from bot.research.inspect import InspectionError, inspect_frames
from bot.research.models import MODEL_ID, load_tokenizer

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
ISSUE_GOAL = "labels customer support tickets by issue type"


@pytest.fixture(scope="module")
def bitext():
    return load_frames(str(DATA / "bitext" / "bitext.csv"))


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(MODEL_ID)


@pytest.fixture(scope="module")
def bitext_inspection(bitext, tokenizer):
    started = time.perf_counter()
    result = inspect_frames(bitext, ISSUE_GOAL, tokenizer)
    # timing is asserted in benchmarks/bench_inspect.py (project rule: no wall-clock asserts in tests)
    print(f"\ninspect_frames on Bitext (26,872 rows, with tokenization): {time.perf_counter() - started:.2f} s")
    return result


def test_bitext_columns_and_reasons(bitext_inspection):
    ins = bitext_inspection
    assert ins.text_column == "instruction" and ins.label_column == "category"
    assert ins.reasons[0].startswith("text column 'instruction': string column with the longest mean length (47 chars)")
    assert "24,635 unique values" in ins.reasons[0]
    assert ins.reasons[1].startswith("label column 'category': 11 classes, matches the goal word 'issue type'")
    assert "'intent' (27 classes)" in ins.reasons[1]
    assert ins.label_candidates == {"category": 11, "intent": 27}


def test_bitext_traps_match_the_measured_figures(bitext_inspection):
    ins = bitext_inspection
    assert ins.rows == 26_872 and ins.splits == {"train": 26_872}
    # README: "2,237 exact duplicate rows (24,635 unique texts ...)": both definitions give 2,237
    # here, because no text repeats with a different label.
    assert ins.exact_duplicates == 2_237 and ins.duplicate_texts == 2_237
    assert ins.unique_texts == 24_635 and ins.unique_normalized_texts == 24_274
    assert ins.normalized_duplicates == 26_872 - 24_274
    # templated copies: 23,619 distinct texts once numbers and {{placeholders}} are masked
    assert ins.template_duplicates == 26_872 - 23_619
    assert any(f.startswith("3,253 rows repeat another text once numbers") for f in ins.findings)
    assert ins.label_conflicts == 0
    assert ins.placeholder_rows == 6_670
    assert len(ins.class_counts) == 11 and sum(ins.class_counts.values()) == 26_872
    assert ins.imbalance_ratio == pytest.approx(
        max(ins.class_counts.values()) / min(ins.class_counts.values()), abs=0.01
    )
    assert ins.tiny_classes == []
    assert ins.leakage_kind.startswith("estimate: a random 80/20 split")
    assert 400 <= ins.leakage <= 700  # README measured 539 with another seed; this seed gives 561
    assert any("placeholders" in f for f in ins.findings)
    assert any("de-duplicate" in f for f in ins.findings)


def test_bitext_lengths_in_model_tokens(bitext_inspection):
    lengths = bitext_inspection.token_lengths
    assert lengths["unit"].startswith("model tokens")
    assert 5 <= lengths["p50"] <= lengths["p95"] <= lengths["p99"] <= lengths["max"] <= 64
    assert bitext_inspection.to_dict()["token_lengths"] == lengths


def test_intent_goal_picks_intent(bitext):
    ins = inspect_frames(bitext, "route support messages by customer intent")
    assert ins.label_column == "intent"
    assert "matches the goal word 'intent'" in ins.reasons[1]
    assert ins.token_lengths["unit"] == "whitespace words (no tokenizer given)"


def test_banking77_cross_split_leakage(tokenizer):
    ins = inspect_frames(load_frames(str(DATA / "banking77")), "banking intent classifier", tokenizer)
    assert (ins.text_column, ins.label_column) == ("text", "category")
    assert ins.splits == {"train": 10_003, "test": 3_080}
    assert ins.leakage == 7 and ins.leakage_kind.startswith("cross-split: 'test'")
    assert len(ins.class_counts) == 77 and ins.exact_duplicates == 0


def test_no_label_column_says_how_to_name_one():
    df = pd.DataFrame(
        {"id": range(50), "body": [f"message number {i}" for i in range(50)], "score": [i / 7 for i in range(50)]}
    )
    with pytest.raises(InspectionError) as err:
        inspect_frames({"train": df}, "classify messages")
    message = str(err.value)
    assert "['id', 'body', 'score']" in message and "`/plan label=<column>`" in message


def test_crafted_conflicts_tiny_classes_and_int_labels():
    texts = [f"ticket about thing {i}" for i in range(200)] + ["Help me", "help  ME", "rare case"]
    labels = [i % 2 for i in range(200)] + [0, 1, 2]
    ins = inspect_frames({"train": pd.DataFrame({"text": texts, "label": labels})}, "triage")
    assert ins.label_column == "label" and ins.class_counts == {"0": 101, "1": 101, "2": 1}
    assert ins.tiny_classes == ["2"] and ins.imbalance_ratio == 101.0
    assert ins.label_conflicts == 1 and ins.normalized_duplicates == 1 and ins.exact_duplicates == 0
    # the 200 "ticket about thing {i}" are one text once numbers are masked (199 copies); "help  ME" is one more
    assert ins.template_duplicates == 199 + 1


def test_overrides_and_unknown_columns(bitext):
    ins = inspect_frames(bitext, ISSUE_GOAL, label_column="intent")
    assert ins.label_column == "intent" and "/plan label=intent" in ins.reasons[1]
    with pytest.raises(InspectionError, match="column 'topic' not found"):
        inspect_frames(bitext, ISSUE_GOAL, label_column="topic")


def test_placeholders_counted_per_row():
    df = pd.DataFrame(
        {"t": ["where is {{Order Number}}", "{{A}} and {{B}}", "plain { braces }", "x"] * 5, "l": ["a", "b"] * 10}
    )
    assert inspect_frames({"train": df}, "classify").placeholder_rows == 10
