"""The cheap baseline every fine-tune must beat, measured while planning, in seconds.

It is the TF-IDF model of bot/research/tfidf.py (word 1-2 grams, sublinear tf, LinearSVC): the same
model evaluate.py reports as the baseline and train.py may ship beside the fine-tune, so the floor the
plan promises is the one the report measures against. It reaches 0.89 accuracy on BANKING77 and
~0.999 macro-F1 on Bitext's `category`, which tells an issue author honestly whether a transformer
is worth its cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from bot.research.tfidf import TfidfClassifier

MODEL_NAME = "tfidf+linearsvc"


@dataclass
class Baseline:
    """The fitted TF-IDF model with its label names: texts in, label names out."""

    model: TfidfClassifier
    labels: list[str]

    def predict(self, texts) -> list[str]:
        return [self.labels[i] for i in self.model.predict_proba([str(t) for t in texts]).argmax(axis=1)]


def fit_baseline(train_df: pd.DataFrame) -> Baseline:
    """Fit the baseline on a frame with columns `text`,`label` (the output of splits.split_frames)."""
    labels = sorted(train_df["label"].astype(str).unique())
    if len(labels) < 2:
        raise ValueError("the baseline needs at least two classes in the training split")
    y = train_df["label"].astype(str).map({name: i for i, name in enumerate(labels)})
    return Baseline(TfidfClassifier(len(labels)).fit(train_df["text"].astype(str).tolist(), y), labels)


def score(y_true, y_pred) -> dict:
    """Accuracy and macro-F1 over the classes present in the test set (absent classes would score 0)."""
    labels = sorted(set(y_true))
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
    }


def run_baseline(splits: dict[str, pd.DataFrame]) -> dict:
    """Train on splits["train"], score on splits["test"]: {"accuracy","macro_f1","seconds","model"}."""
    started = time.perf_counter()
    baseline = fit_baseline(splits["train"])
    test = splits["test"]
    y_true = test["label"].astype(str).tolist()
    y_pred = baseline.predict(test["text"])
    result = score(y_true, y_pred)
    result.update(
        seconds=round(time.perf_counter() - started, 3),
        model=MODEL_NAME,
        train_rows=len(splits["train"]),
        test_rows=len(test),
    )
    return result
