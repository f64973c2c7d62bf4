"""Reading a run's metrics.json (docs/ARTIFACTS.md): which evaluation describes the model we ship.

evaluate.py reports the fine-tuned transformer alone (`finetuned`), the TF-IDF baseline (`baseline`)
and, when train.py saved the TF-IDF companion because averaging the two won on validation, the
ensemble (`ensemble`). `shipped` names the block that describes what a user downloads or the Space
serves; every headline number and threshold comes from that block. The model card's model-index is the
exception: it describes the repository's files as `pipeline()` loads them, the transformer alone.
"""

from __future__ import annotations

SHIPPED_TITLES = {
    "finetuned": "fine-tuned transformer",
    "ensemble": "fine-tuned transformer + TF-IDF ensemble",
}


def shipped_key(metrics: dict) -> str:
    """`finetuned` or `ensemble`; older runs without `shipped` shipped the fine-tune alone."""
    key = metrics.get("shipped") or "finetuned"
    return key if key in SHIPPED_TITLES and isinstance(metrics.get(key), dict) else "finetuned"


def shipped_eval(metrics: dict) -> dict:
    """The EVAL block of the shipped predictor (empty when evaluation did not run)."""
    return metrics.get(shipped_key(metrics)) or {}


def shipped_title(metrics: dict) -> str:
    return SHIPPED_TITLES[shipped_key(metrics)]


def ensemble_outcome(metrics: dict) -> str | None:
    """Whether the TF-IDF average shipped and why not; None for runs from before the choice existed.

    A weight below 1 means the average won on validation (train.py), so only the plan kept it out.
    """
    choice = (metrics.get("train") or {}).get("ensemble")
    if not choice:
        return None
    if shipped_key(metrics) == "ensemble":
        return "shipped"
    if choice.get("finetuned_weight", 1.0) < 1.0:
        return "not shipped, turned off in the plan"
    return "not shipped, the average did not beat the transformer"
