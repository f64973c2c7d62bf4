"""The TF-IDF + LinearSVC baseline reproduces its measured scores on the real data sets in seconds."""

from pathlib import Path

import pandas as pd
import pytest

from bot.research.baseline import fit_baseline, run_baseline, score
from bot.research.splits import split_frames

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"


def test_banking77_official_test_accuracy():
    frames = {s: pd.read_csv(DATA / "banking77" / f"{s}.csv") for s in ("train", "test")}
    parts = split_frames(frames, "text", "category", val_size=0.1, test_size=0.1, seed=42, test_split="test")
    result = run_baseline(parts)
    print("banking77 baseline:", result)
    assert result["model"] == "tfidf+linearsvc"
    assert result["accuracy"] >= 0.88  # measured 0.892 on the de-duplicated official test (evaluate.py: 0.8915)
    assert 0.85 <= result["macro_f1"] <= 1.0
    assert result["test_rows"] == 3079 and result["seconds"] > 0


def test_bitext_category_after_dedup():
    df = pd.read_csv(DATA / "bitext" / "bitext.csv")
    parts = split_frames({"train": df}, "instruction", "category", val_size=0.1, test_size=0.1, seed=42)
    result = run_baseline(parts)
    print("bitext category baseline:", result)
    assert result["macro_f1"] >= 0.99  # README: 0.9998
    assert result["accuracy"] >= 0.99


def test_fit_baseline_returns_a_usable_pipeline():
    train = pd.DataFrame(
        {
            "text": [
                "refund my money",
                "I want a refund",
                "money back please",
                "where is my parcel",
                "parcel not arrived",
                "track my parcel",
            ],
            "label": ["refund", "refund", "refund", "delivery", "delivery", "delivery"],
        }
    )
    pipeline = fit_baseline(train)
    assert list(pipeline.predict(["refund the money", "my parcel is late"])) == ["refund", "delivery"]


def test_single_class_training_data_is_refused():
    with pytest.raises(ValueError, match="two classes"):
        fit_baseline(pd.DataFrame({"text": ["a", "b"], "label": ["x", "x"]}))


def test_macro_f1_ignores_classes_absent_from_test():
    # a class the test set lacks must not drag macro-F1 down with an undefined 0
    assert score(["a", "b"], ["a", "b"]) == {"accuracy": 1.0, "macro_f1": 1.0}
    assert score(["a", "a"], ["a", "c"])["macro_f1"] == pytest.approx(2 / 3)
