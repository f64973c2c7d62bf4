"""Reading a run's metrics.json (docs/ARTIFACTS.md): which evaluation describes the model we ship, and why.

evaluate.py reports the fine-tuned transformer alone (`finetuned`), the TF-IDF + LinearSVC baseline
(`baseline`) and, when train.py chose an ensemble weight, their average (`ensemble`). `shipped` names the
block that describes what the Space serves and `app.py`'s `predict` returns: train.py chose it on
validation (`decision`: the cheapest candidate unless a costlier one is significantly better), and every
headline number and threshold comes from that block. The model card's model-index is the exception: it
describes the repository's files as `pipeline()` loads them, the fine-tuned transformer alone.

The report comment and the model card list the models through `model_rows` and say comparisons through
`comparison_text` and `validation_text`, so each difference carries its interval and test in the same
words everywhere.
"""

from __future__ import annotations

import math
from typing import Any

SHIPPED_TITLES = {
    "baseline": "TF-IDF + LinearSVC baseline",
    "finetuned": "fine-tuned transformer",
    "ensemble": "fine-tuned transformer + TF-IDF ensemble",
}


def shipped_key(metrics: dict) -> str:
    """`baseline`, `finetuned` or `ensemble`; older runs without `shipped` shipped the fine-tune alone."""
    key = metrics.get("shipped") or "finetuned"
    return key if key in SHIPPED_TITLES and isinstance(metrics.get(key), dict) else "finetuned"


def shipped_eval(metrics: dict) -> dict:
    """The EVAL block of the shipped predictor (empty when evaluation did not run)."""
    return metrics.get(shipped_key(metrics)) or {}


def shipped_title(metrics: dict) -> str:
    return SHIPPED_TITLES[shipped_key(metrics)]


def model_title(key: Any) -> str:
    """A model block's name in words (`baseline` -> 'TF-IDF + LinearSVC baseline')."""
    return SHIPPED_TITLES.get(str(key), str(key))


def shipped_abstain(metrics: dict) -> dict:
    """The shipped block's abstention: threshold, test coverage and selective accuracy, off-topic refusals."""
    return shipped_eval(metrics).get("abstain") or {}


def decision(metrics: dict) -> dict:
    """train.py's ship decision (copied into metrics.json by evaluate.py); {} for runs from before it."""
    return metrics.get("decision") or (metrics.get("train") or {}).get("decision") or {}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)


def signed(points: Any) -> str:
    """A difference already in percentage points, signed: 3.24 -> '+3.2', -0.04 -> '−0.0' ('±0.0' at zero)."""
    if not _number(points):
        return "n/a"
    rounded = round(float(points), 1)
    return "±0.0" if rounded == 0 else f"{'+' if rounded > 0 else '−'}{abs(rounded):.1f}"


def p_text(p: Any) -> str:
    """An exact McNemar p-value as a reader wants it: 'p < 0.001', 'p = 0.042'."""
    if not _number(p):
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _significance(row: dict) -> str:
    return "significant" if row.get("significant") else "not significant"


def comparison_text(row: dict) -> str:
    """A test-set comparison of the shipped model with another, with its interval, test and significance.

    'TF-IDF + LinearSVC baseline − fine-tuned transformer: +25.3 pts of accuracy (95 % CI +20.1 to +30.2),
    McNemar p < 0.001: significant'
    """
    low, high = (list(row.get("interval") or []) + [None, None])[:2]
    interval = f"95 % CI {signed(low)} to {signed(high)}" if _number(low) and _number(high) else "no interval"
    return (
        f"{model_title(row.get('shipped'))} − {model_title(row.get('other'))}: {signed(row.get('diff_points'))} pts "
        f"of accuracy ({interval}), McNemar {p_text(row.get('p_value'))}: {_significance(row)}"
    )


def validation_text(row: dict) -> str:
    """One of train.py's validation comparisons: the costlier candidate's gain over the cheaper one, and its test."""
    return (
        f"{model_title(row.get('costlier'))} vs {model_title(row.get('cheaper'))}: "
        f"{signed(row.get('val_gain_points'))} pts of validation accuracy, McNemar {p_text(row.get('p_value'))}: "
        f"{_significance(row)}"
    )


def comparisons(metrics: dict) -> list[dict]:
    """The test-set comparisons of the shipped model with each other model (evaluate.py), as rows."""
    return [row for row in metrics.get("comparisons") or [] if isinstance(row, dict)]


MODEL_ORDER = ("baseline", "finetuned", "ensemble")  # cheapest first, as train.py considers them
MODEL_NOTES = {"finetuned": "what `pipeline()` loads", "baseline": "`tfidf/` alone", "ensemble": "weight {weight}"}


def _interval(block: dict, key: str) -> list | None:
    """The [low, high] 95 % interval of one of a block's metrics, or None when evaluate.py gave none."""
    pair = (block.get("interval") or {}).get(key)
    return list(pair) if isinstance(pair, list | tuple) and len(pair) == 2 and all(map(_number, pair)) else None


def model_rows(metrics: dict) -> list[dict]:
    """One row per evaluated model, the shipped one first: its test numbers, their intervals, what it is."""
    shipped = shipped_key(metrics)
    rows = []
    for key in [shipped, *(key for key in MODEL_ORDER if key != shipped)]:
        block = metrics.get(key)
        if not isinstance(block, dict) or "accuracy" not in block:
            continue
        weight = block.get("finetuned_weight")
        rows.append({
            "key": key, "title": SHIPPED_TITLES[key], "shipped": key == shipped,
            "note": MODEL_NOTES[key].format(weight=f"{weight:.2f}" if _number(weight) else "n/a"),
            "accuracy": block.get("accuracy"), "accuracy_ci": _interval(block, "accuracy"),
            "macro_f1": block.get("macro_f1"), "macro_f1_ci": _interval(block, "macro_f1"),
            "ece": block.get("ece"),
        })
    return rows
