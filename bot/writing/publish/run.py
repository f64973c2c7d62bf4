"""What publishing reads from a finished run's OUT folder (docs/ARTIFACTS.md).

train.py and evaluate.py leave `model/`, `splits/*.csv`, `metrics.json` and `confusion_matrix.png`.
Both repos are built from these files only, so what is published is what was evaluated; anything
missing stops the publish with a message that says which step to run.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.errors import UserError
from bot.writing.artifacts import shipped_key

Files = dict[str, "Path | bytes"]  # path in the repo -> a file to copy, or the bytes to write
PLACEHOLDER = re.compile(r"\{\{[^{}]+\}\}")  # Bitext-style template slots such as {{Order Number}}
SKIP_MODEL_FILES = {"training_args.bin", "optimizer.pt", "scheduler.pt", "trainer_state.json"}
SPLITS = ("train", "validation", "test")


class PublishError(UserError):
    """Publishing failed; the message says what to fix (never contains a token)."""


def model_files(out_dir: Path) -> Files:
    """Everything save_pretrained wrote to OUT/model, minus trainer state (useless to a reader, and large)."""
    model_dir = Path(out_dir) / "model"
    if not (model_dir / "config.json").is_file():
        raise PublishError(f"no trained model in {model_dir}: run training (and `/approve-train`) before publishing")
    return {
        p.relative_to(model_dir).as_posix(): p
        for p in sorted(model_dir.rglob("*"))
        if p.is_file()
        and p.name not in SKIP_MODEL_FILES
        and not p.relative_to(model_dir).parts[0].startswith("checkpoint-")
    }


def pick_examples(out_dir: Path, labels: list[str], limit: int = 12) -> list[tuple[str, str]]:
    """One short test text per class (placeholder-free when possible), for the widget and the Space.

    Test rows first: they are what the card's numbers describe, and the model never trained on them.
    """
    import pandas as pd

    for split in ("test", "validation", "train"):
        path = Path(out_dir) / "splits" / f"{split}.csv"
        if path.is_file():
            frame = pd.read_csv(path, dtype=str).dropna()
            break
    else:
        return []
    frame = frame.assign(has_slot=frame["text"].str.contains(PLACEHOLDER), size=frame["text"].str.len())
    frame = frame.sort_values(["has_slot", "size"], kind="stable")
    firsts = frame.drop_duplicates("label").set_index("label")["text"]
    return [(firsts[label], label) for label in labels if label in firsts][:limit]


def split_texts(out_dir: Path | None) -> list[str]:
    """All split texts of the run (for counting template slots when no inspection is at hand), or none."""
    import pandas as pd

    if out_dir is None:
        return []
    paths = [Path(out_dir) / "splits" / f"{s}.csv" for s in SPLITS]
    return [t for p in paths if p.is_file() for t in pd.read_csv(p, dtype=str)["text"].dropna()]


def ensemble_weight(metrics: dict) -> float | None:
    """The fine-tune's weight in the shipped ensemble's averaged probabilities; None when it ships alone."""
    if shipped_key(metrics) != "ensemble":
        return None
    return metrics["ensemble"].get("finetuned_weight")
