"""Splits must never put one (normalised) text in two splits, keep every class in train, and repeat."""

import ast
from pathlib import Path

import pandas as pd
import pytest

from bot.research.splits import dedupe, normalize_text, split_frames

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"


def _keys(df):
    return {normalize_text(t) for t in df["text"]}


def _assert_disjoint(parts):
    names = list(parts)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not _keys(parts[a]) & _keys(parts[b]), f"{a} and {b} share texts"


@pytest.fixture(scope="module")
def bitext():
    return pd.read_csv(DATA / "bitext" / "bitext.csv")


@pytest.fixture(scope="module")
def banking():
    return {s: pd.read_csv(DATA / "banking77" / f"{s}.csv") for s in ("train", "test")}


def test_normalize_text_lowercases_and_collapses_whitespace():
    assert normalize_text("  Cancel   my\tORDER \n") == "cancel my order"
    assert normalize_text(42) == "42"


def test_splits_module_imports_nothing_from_the_bot():
    # codegen embeds this file into train.py, so it may only need pandas/numpy/sklearn
    tree = ast.parse((ROOT / "bot" / "research" / "splits.py").read_text())
    modules = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert modules <= {"numpy", "pandas", "sklearn"}  # no __future__: it must stay legal mid-file
    compile("x = 1\n" + (ROOT / "bot" / "research" / "splits.py").read_text(), "train.py", "exec")


def test_dedupe_keeps_majority_label_and_drops_ties():
    df = pd.DataFrame(
        {
            "msg": ["Refund please", "refund  PLEASE", "refund please", "where is it", "Where is it", "hi"],
            "y": ["billing", "billing", "shipping", "shipping", "billing", "greeting"],
        }
    )
    out, stats = dedupe(df, "msg", "y")
    assert list(out.columns) == ["text", "label"]
    assert dict(zip(out["text"], out["label"])) == {"Refund please": "billing", "hi": "greeting"}
    assert stats["label_conflicts"] == 2 and stats["conflict_ties_dropped"] == 1
    assert stats["rows_in"] == 6 and stats["rows_out"] == 2


def test_dedupe_drops_missing_and_blank_rows():
    df = pd.DataFrame({"t": ["a", None, "  ", "b"], "l": ["x", "y", "y", None]})
    out, stats = dedupe(df, "t", "l")
    assert out.to_dict("records") == [{"text": "a", "label": "x"}]
    assert stats["empty_or_missing_dropped"] == 3


def test_bitext_random_split_is_leak_free_and_stratified(bitext):
    parts = split_frames({"train": bitext}, "instruction", "category", val_size=0.1, test_size=0.1, seed=7)
    _assert_disjoint(parts)
    sizes = {k: len(v) for k, v in parts.items()}
    assert sum(sizes.values()) == 24_274  # one row per normalised text (no label conflicts in Bitext)
    assert abs(sizes["test"] - 2427) <= 11 and abs(sizes["validation"] - 2427) <= 11
    assert set(parts["train"]["label"]) == set(bitext["category"])
    share = parts["test"]["label"].value_counts(normalize=True)
    overall = bitext.drop_duplicates("instruction")["category"].value_counts(normalize=True)
    assert (share - overall).abs().max() < 0.01  # stratified: class shares match the whole


def test_banking77_official_test_split_is_kept_and_train_cleaned(banking):
    parts = split_frames(banking, "text", "category", val_size=0.1, test_size=0.1, seed=1, test_split="test")
    _assert_disjoint(parts)
    assert len(parts["test"]) == 3079  # official 3,080 minus one normalised duplicate
    # 7 official test texts also occur in train; those train rows are removed, not the test rows
    assert len(parts["train"]) + len(parts["validation"]) == 10_003 - 4 - 7
    assert abs(len(parts["validation"]) - 999) <= 40
    assert set(parts["train"]["label"]) == set(banking["train"]["category"])


def test_same_seed_same_splits_other_seed_differs(bitext):
    sample = bitext.sample(2000, random_state=0)
    a = split_frames({"train": sample}, "instruction", "intent", val_size=0.1, test_size=0.2, seed=3)
    b = split_frames({"train": sample}, "instruction", "intent", val_size=0.1, test_size=0.2, seed=3)
    c = split_frames({"train": sample}, "instruction", "intent", val_size=0.1, test_size=0.2, seed=4)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    assert set(a["test"]["text"]) != set(c["test"]["text"])


def test_tiny_classes_stay_in_train():
    df = pd.DataFrame(
        {
            "t": [f"common text {i}" for i in range(40)] + ["only one", "pair one", "pair two"],
            "l": ["big"] * 40 + ["solo", "pair", "pair"],
        }
    )
    parts = split_frames({"train": df}, "t", "l", val_size=0.2, test_size=0.2, seed=0)
    _assert_disjoint(parts)
    assert {"big", "solo", "pair"} <= set(parts["train"]["label"])
    assert (parts["train"]["label"] == "solo").sum() == 1
    assert sum(len(p) for p in parts.values()) == 43
    assert 6 <= len(parts["test"]) <= 10


def test_crafted_official_split_removes_test_texts_from_train():
    train = pd.DataFrame(
        {
            "q": ["Hello there", "bye now", "HELLO  there", "thanks", "see you", "hey"] * 1,
            "c": ["greet", "bye", "greet", "thanks", "bye", "greet"],
        }
    )
    test = pd.DataFrame({"q": ["hello there", "ok thanks"], "c": ["greet", "thanks"]})
    parts = split_frames(
        {"train": train, "test": test}, "q", "c", val_size=0.2, test_size=0.1, seed=0, test_split="test"
    )
    _assert_disjoint(parts)
    assert parts["test"]["text"].tolist() == ["hello there", "ok thanks"]
    assert "hello there" not in _keys(parts["train"]) | _keys(parts["validation"])


def test_unknown_test_split_names_the_splits():
    with pytest.raises(KeyError, match="train"):
        split_frames(
            {"train": pd.DataFrame({"t": ["a", "b"], "l": ["x", "y"]})},
            "t",
            "l",
            val_size=0.1,
            test_size=0.1,
            seed=0,
            test_split="test",
        )
