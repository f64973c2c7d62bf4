"""What the model card claims about the run's models: each one's test numbers with their 95 % intervals,
the ship decision and why, every comparison with its interval and test, and how abstention did.

All of it is read from metrics.json (evaluate.py) and its `decision` (train.py); nothing is recomputed,
so the card, the report comment and the Space say the same thing the scripts measured. A comparison is
only ever stated with its interval and McNemar test (`bot/writing/artifacts.py::comparison_text`).
"""

from __future__ import annotations

from typing import Any

from bot.writing.artifacts import (
    comparison_text,
    comparisons,
    decision,
    model_rows,
    model_title,
    shipped_abstain,
    shipped_key,
    validation_text,
)


def interval_method(metrics: dict) -> str | None:
    """How the intervals were made ('percentile bootstrap over test rows, ...'), from the shipped block."""
    block = metrics.get(shipped_key(metrics)) or {}
    return (block.get("interval") or {}).get("method")


def decision_view(metrics: dict) -> dict[str, Any]:
    """The ship decision in words: candidates, validation accuracy, the tests behind it, the test-set checks."""
    chosen = decision(metrics)
    val = chosen.get("val_accuracy") or {}
    return {
        "kind": shipped_key(metrics),
        "reason": chosen.get("reason"),
        "alpha": chosen.get("alpha"),
        "candidates": [model_title(key) for key in chosen.get("candidates") or []],
        "val_accuracy": [(model_title(key), val[key]) for key in chosen.get("candidates") or val if key in val],
        "val_comparisons": [validation_text(row) for row in chosen.get("comparisons") or [] if isinstance(row, dict)],
        "test_comparisons": [comparison_text(row) for row in comparisons(metrics)],
        "vs_baseline": next((row for row in comparisons(metrics) if row.get("other") == "baseline"), None),
        # Validation chose it, yet the test set says another model is significantly more accurate: said plainly.
        "worse_on_test": [
            comparison_text(row) for row in comparisons(metrics)
            if row.get("significant") and isinstance(row.get("diff_points"), int | float) and row["diff_points"] < 0
        ],
        "models": model_rows(metrics),
        "interval_method": interval_method(metrics),
    }


def abstention_view(metrics: dict) -> dict[str, Any]:
    """The shipped block's abstention and the off-topic sentences it was chosen and checked on."""
    train = metrics.get("train") or {}
    return {
        "abstain": shipped_abstain(metrics),
        "ood_set": metrics.get("out_of_domain") or {},
        "temperature": train.get("finetune_temperature"),
    }
