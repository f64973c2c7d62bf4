"""What the model card says from the run's own files: each class with examples from the data, whether a
stress test could change anything for this tokenizer, and differences in percentage points.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bot.planner.schema import Plan
from bot.research.tfidf import COMPANION_DIR, VECTORIZER_SETTINGS
from bot.writing.artifacts import shipped_eval, shipped_key
from bot.writing.publish.run import PLACEHOLDER, is_unfit_example, pick_examples

# Base models whose tokenizer lower-cases every input, for cards rendered without the run's saved tokenizer
# (checked against the saved tokenizer.json: BertNormalizer with lowercase=true); "*-uncased" models too.
CASE_FOLDING_MODELS = frozenset({"sentence-transformers/all-MiniLM-L6-v2"})
CASE_TESTS = ("lowercase", "uppercase")  # evaluate.py's stress tests that only change the letters' case
EXAMPLES_PER_CLASS = 2
EXAMPLE_CHARS = 120


def signed_points(value: Any) -> str:
    """A difference of two rates in percentage points, signed: 0.032 -> '+3.2 pts', -0.032 -> '−3.2 pts'."""
    if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
        return "n/a"
    rounded = round(100.0 * value, 1)
    if rounded == 0:
        return "±0.0 pts"
    return f"{'+' if rounded > 0 else '−'}{abs(rounded):.1f} pts"


def _read_split(out_dir: Path | None, split: str):
    """OUT/splits/<split>.csv as text,label strings, or None when the run's splits are not at hand."""
    import pandas as pd

    path = Path(out_dir) / "splits" / f"{split}.csv" if out_dir is not None else None
    if path is None or not path.is_file():
        return None
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""]).dropna(subset=["text", "label"])


def class_examples(out_dir: Path | None, labels: list[str], per_class: int = EXAMPLES_PER_CLASS) -> dict[str, list]:
    """Up to `per_class` texts of each class from the run's splits, none with profanity or a slur.

    The first is the widget's (`pick_examples`); the others are typical of the class (the word count
    closest to its median in that split), test rows first, then validation, then training rows. A text
    with a template slot such as `{{Order Number}}` is shown only when its class has no other.
    """
    import pandas as pd

    picked: dict[str, list[str]] = {label: [] for label in labels}
    if out_dir is None:
        return picked
    for text, label in pick_examples(out_dir, labels, limit=len(labels)):
        picked[label].append(text)
    frames = [
        frame.assign(split=order, text=frame["text"].str.strip())
        for order, frame in enumerate(_read_split(out_dir, split) for split in ("test", "validation", "train"))
        if frame is not None
    ]
    if not frames:
        return picked
    rows = pd.concat(frames, ignore_index=True)
    rows = rows[(rows["text"].str.len() > 0) & ~rows["text"].map(is_unfit_example).astype(bool)]
    words = rows["text"].str.split().str.len()
    rows = rows.assign(
        slot=rows["text"].str.contains(PLACEHOLDER),
        off=(words - words.groupby([rows["split"], rows["label"]]).transform("median")).abs(),
        size=rows["text"].str.len(),
    ).sort_values(["slot", "split", "off", "size", "text"], kind="stable")
    for label, group in rows.groupby("label", sort=False):
        chosen = picked.get(label)
        if chosen is None:
            continue
        for text, slot in zip(group["text"], group["slot"]):
            if len(chosen) >= per_class or (slot and chosen):
                break  # full, or only slot texts are left and the class already has an example
            if " ".join(text.lower().split()) not in {" ".join(t.lower().split()) for t in chosen}:
                chosen.append(text)
    return picked


def classes_view(metrics: dict, out_dir: Path | None, labels: list[str]) -> dict:
    """A row per class: its test support, training rows and example texts, read from the run's splits."""
    per_class = (metrics.get("finetuned") or shipped_eval(metrics)).get("per_class") or {}
    train = _read_split(out_dir, "train")
    train_counts = train["label"].value_counts().to_dict() if train is not None else {}
    examples = class_examples(out_dir, labels)
    return {
        "classes": [
            {
                "label": label,
                "support": (per_class.get(label) or {}).get("support"),
                "train_rows": train_counts.get(label, 0) if train is not None else None,
                "examples": examples[label],
            }
            for label in labels
        ],
        "example_chars": EXAMPLE_CHARS,
    }


def _normalizer_lower_cases(node: Any) -> bool:
    """Whether a tokenizer.json normalizer lower-cases its input (BertNormalizer, Lowercase, in a Sequence)."""
    if not isinstance(node, dict):
        return False
    if node.get("type") == "Lowercase":
        return True
    if node.get("type") == "BertNormalizer":
        return bool(node.get("lowercase", True))
    return any(_normalizer_lower_cases(child) for child in node.get("normalizers") or [])


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def tokenizer_lower_cases(out_dir: Path | None, model_id: str) -> bool:
    """Whether the saved tokenizer lower-cases every input; for a card without the run, the base model's."""
    model_dir = Path(out_dir) / "model" if out_dir is not None else None
    if model_dir is not None:
        fast = _read_json(model_dir / "tokenizer.json")
        if fast is not None:
            return _normalizer_lower_cases(fast.get("normalizer"))
        slow = _read_json(model_dir / "tokenizer_config.json")
        if slow is not None:
            return bool(slow.get("do_lower_case"))
    return model_id in CASE_FOLDING_MODELS or "uncased" in model_id.lower()


def _tfidf_lower_cases(out_dir: Path | None) -> bool:
    """Whether the TF-IDF companion lower-cases its input (scikit-learn's TfidfVectorizer does by default)."""
    saved = _read_json(Path(out_dir) / "model" / COMPANION_DIR / "tfidf.json") if out_dir is not None else None
    settings = (saved or {}).get("vectorizer") or VECTORIZER_SETTINGS
    return bool(settings.get("lowercase", True))


def stress_view(plan: Plan, metrics: dict, out_dir: Path | None) -> dict:
    """Stress tests that can fail, as accuracy before and after in points; those that cannot, named apart.

    A lower- or upper-case copy is no test of a model whose every input is lower-cased first (MiniLM's
    tokenizer, and scikit-learn's TF-IDF): it reaches the model as the clean text does. Which lower-cases
    depends on what ships: the TF-IDF model alone, the transformer alone, or both (the ensemble).
    """
    stress = shipped_eval(metrics).get("stress") or {}
    kind = shipped_key(metrics)
    # A model that takes no part in the shipped predictor cannot make its case tests fail.
    transformer_folds = kind == "baseline" or tokenizer_lower_cases(out_dir, plan.model)
    tfidf_folds = kind == "finetuned" or _tfidf_lower_cases(out_dir)
    case_blind = transformer_folds and tfidf_folds
    rows, blind = [], []
    for name, row in stress.items():
        if not isinstance(row, dict) or "accuracy" not in row:
            continue
        if case_blind and name in CASE_TESTS:
            blind.append(name)
            continue
        drop = row.get("drop")  # clean minus perturbed accuracy, on the same rows
        clean, change = (
            (row["accuracy"] + drop, signed_points(-drop)) if isinstance(drop, int | float) else (None, "n/a")
        )
        rows.append({"name": name, "accuracy": row["accuracy"], "clean": clean, "change": change})
    return {"stress_rows": rows, "case_blind": blind}
