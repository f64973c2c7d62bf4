"""What publishing reads from a finished run's OUT folder (docs/ARTIFACTS.md).

train.py and evaluate.py leave `model/`, `splits/*.csv`, `metrics.json` and `confusion_matrix.png`.
Both repos are built from these files only, so what is published is what was evaluated; anything
missing stops the publish with a message that says which step to run.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from bot.errors import UserError
from bot.writing.artifacts import decision, model_title, shipped_key, shipped_title

Files = dict[str, "Path | bytes"]  # path in the repo -> a file to copy, or the bytes to write
PLACEHOLDER = re.compile(r"\{\{[^{}]+\}\}")  # Bitext-style template slots such as {{Order Number}}
WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")  # a word: letters, inner apostrophes ("can't")
# Never shown as an example (the Space, the card's widget): common English profanity and slurs, as whole
# words in any case. Bitext's "colloquial" rows swear ("contact a fucking live agent").
PROFANITY = frozenset({
    "arse", "arsehole", "ass", "asses", "asshole", "assholes", "bastard", "bastards", "bitch", "bitches",
    "bitching", "bloody", "bollocks", "bugger", "bullshit", "crap", "crappy", "cock", "cocks", "cunt", "cunts",
    "damn", "damned", "damnit", "dammit", "dick", "dicks", "dickhead", "douche", "douchebag", "fag", "fags",
    "faggot", "faggots", "fuck", "fucked", "fucker", "fuckers", "fuckin", "fucking", "fucks", "goddamn",
    "goddamned", "goddamnit", "jackass", "motherfucker", "motherfuckers", "motherfucking", "nigga", "niggas",
    "nigger", "niggers", "piss", "pissed", "prick", "pussy", "retard", "retarded", "shit", "shits", "shitty",
    "shite", "slut", "sluts", "tranny", "twat", "wank", "wanker", "whore", "whores", "wtf"
})
EXAMPLE_WORDS = (3, 12)  # an example reads best at 3 to 12 words ...
EXAMPLE_MAX_CHARS = 80  # ... and whole in the Space's example buttons (they show 80 characters)
RARE_WORD_MIN_TEXTS = 3  # a word in fewer texts of the run than this is rare (likely a typo)
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


def is_unfit_example(text: str) -> bool:
    """True when a text must never be shown as an example: profanity or a slur (whole words, any case)."""
    return any(word in PROFANITY for word in WORD.findall(text.lower()))


def pick_examples(out_dir: Path, labels: list[str], limit: int = 12) -> list[tuple[str, str]]:
    """One short, readable test text per class, for the model card's widget and the Space.

    Never a text with profanity or a slur (PROFANITY); a text with a template slot such as
    `{{Order Number}}` only when its class has no other. Among the rest: test rows first (what the
    card's numbers describe, never trained on), then validation, then train; then texts of
    EXAMPLE_WORDS words and at most EXAMPLE_MAX_CHARS characters, then the fewest rare words (a word
    in fewer than `common` texts of the run, mostly typos such as "accont"), no digits, the shortest.
    A class whose every text is unfit gets no example.
    """
    import pandas as pd

    frames = [
        pd.read_csv(path, dtype=str).dropna(subset=["text", "label"])
        for path in (Path(out_dir) / "splits" / f"{split}.csv" for split in ("test", "validation", "train"))
        if path.is_file()
    ]
    if not frames:
        return []
    counts = Counter(word for frame in frames for text in frame["text"] for word in set(WORD.findall(text.lower())))
    common = max(RARE_WORD_MIN_TEXTS, sum(len(frame) for frame in frames) // 2000)

    def rank(split: int, text: str) -> tuple:
        words = WORD.findall(text.lower())
        fits = EXAMPLE_WORDS[0] <= len(text.split()) <= EXAMPLE_WORDS[1] and len(text) <= EXAMPLE_MAX_CHARS
        rare = sum(counts[word] < common for word in words)
        return bool(PLACEHOLDER.search(text)), split, not fits, rare, any(c.isdigit() for c in text), len(text)

    best: dict[str, tuple[tuple, str]] = {}
    for split, frame in enumerate(frames):
        for text, label in zip(frame["text"], frame["label"]):
            if text.strip() and not is_unfit_example(text):
                key = rank(split, text)
                if label not in best or key < best[label][0]:
                    best[label] = (key, text)
    return [(best[label][1], label) for label in labels if label in best][:limit]


def split_texts(out_dir: Path | None) -> list[str]:
    """All split texts of the run (for counting template slots when no inspection is at hand), or none."""
    import pandas as pd

    if out_dir is None:
        return []
    paths = [Path(out_dir) / "splits" / f"{s}.csv" for s in SPLITS]
    return [t for p in paths if p.is_file() for t in pd.read_csv(p, dtype=str)["text"].dropna()]


def ensemble_weight(metrics: dict) -> float | None:
    """The fine-tune's weight in the shipped predictor's averaged probabilities, as `model/tfidf/tfidf.json`
    records it: w (0 < w < 1) for the ensemble, 0.0 for the TF-IDF baseline alone, None for the fine-tune alone
    (no `model/tfidf/`)."""
    key = shipped_key(metrics)
    if key == "baseline":
        return 0.0
    if key != "ensemble":
        return None
    weight = metrics["ensemble"].get("finetuned_weight")
    return weight if weight is not None else (metrics.get("decision") or {}).get("finetuned_weight")


def saved_weight(out_dir: Path) -> float | None:
    """`finetuned_weight` of the TF-IDF model train.py saved in OUT/model/tfidf/ (None: no such model).

    A TF-IDF model saved without a weight is the TF-IDF model on its own, as app.py reads it: 0.0.
    """
    path = Path(out_dir) / "model" / "tfidf" / "tfidf.json"
    if not path.is_file():
        return None
    try:
        weight = json.loads(path.read_text(encoding="utf-8")).get("finetuned_weight")
    except (OSError, ValueError, AttributeError) as exc:
        raise PublishError(f"{path} is not the TF-IDF model train.py writes ({exc}): re-run training") from None
    return float(weight or 0.0)


def saved_kind(out_dir: Path) -> str:
    """What app.py would serve from OUT/model: `baseline` (weight 0), `ensemble` (0 < w < 1) or `finetuned`."""
    weight = saved_weight(out_dir)
    if weight is None or weight >= 1.0:
        return "finetuned"
    return "baseline" if weight == 0.0 else "ensemble"


def check_shipped(out_dir: Path, metrics: dict) -> None:
    """Refuse to publish when metrics.json, train.py's decision and the saved model disagree on what ships.

    The card's numbers, the Space's answers and the report's verdict must all be about one predictor; a
    run whose files say otherwise (evaluate.py run on another model folder, a hand-edited metrics.json)
    is stopped here rather than published with a card that describes a model nobody gets.
    """
    key, served = shipped_key(metrics), saved_kind(out_dir)
    decided = decision(metrics).get("shipped")
    if decided and decided != key:
        raise PublishError(f"metrics.json ships the {shipped_title(metrics)} but train.py's decision chose "
                           f"`{decided}`: re-run evaluate.py on this run's model folder before publishing")
    if served != key:
        raise PublishError(f"metrics.json ships the {shipped_title(metrics)} but {Path(out_dir) / 'model'} holds the "
                           f"{model_title(served)}: re-run training and evaluation")
    weight = ensemble_weight(metrics)
    if key == "ensemble" and weight is not None and abs(weight - (saved_weight(out_dir) or 0.0)) > 1e-6:
        raise PublishError(f"the ensemble in metrics.json has weight {weight} but model/tfidf/tfidf.json "
                           f"{saved_weight(out_dir)}: re-run evaluate.py on this run's model folder")
