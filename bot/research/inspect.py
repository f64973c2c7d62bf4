"""Inspect a text-classification data set before anyone trains on it.

Finds the text and label columns (with reasons a person can check), then measures what silently
ruins evaluations: class imbalance, tiny classes, duplicates, conflicting labels, train/test leakage,
template artefacts and text lengths in model tokens. Fast enough to run inside a bot reply
(Bitext, 26,872 rows, well under 5 s including tokenization; benchmarks/bench_inspect.py).
Near-duplicates by character similarity are measured where they are acted on: splits.split_frames
groups them and reports what it found.
"""

from __future__ import annotations

import dataclasses
import re
import time

import numpy as np
import pandas as pd

from bot.errors import UserError
from bot.research.splits import normalize_series, template_series

MAX_CLASSES = 1000
MIN_ROWS_PER_CLASS = 5  # "classes << rows": a label column averages at least 5 rows per class
TINY_ROWS, TINY_SHARE = 10, 0.01
PLACEHOLDER = re.compile(r"\{\{[^{}]*\}\}")
LEAK_SEED, LEAK_TEST_SHARE = 42, 0.2

# Goal cues: when several columns could be the label, words in the goal pick one.
# Each row: (phrases looked for in the goal, column names they point to). Longer phrases first so
# the reason quotes "issue type" rather than "type".
GOAL_CUES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (
        (
            "issue type",
            "ticket type",
            "request type",
            "category",
            "categories",
            "topic",
            "topics",
            "department",
            "type",
            "types",
            "kind",
        ),
        ("category", "categories", "type", "topic", "class", "department", "issue_type"),
    ),
    (
        ("intent", "intents", "intention", "what the customer wants", "what the user wants"),
        ("intent", "intents", "intention"),
    ),
    (("sentiment", "polarity", "positive", "negative", "opinion"), ("sentiment", "polarity", "label")),
    (("emotion", "emotions", "feeling", "feelings"), ("emotion", "emotions", "label")),
    (("spam", "phishing"), ("spam", "is_spam", "label")),
    (("toxic", "toxicity", "abusive", "hate"), ("toxic", "toxicity", "hate", "label")),
    (("priority", "urgency", "urgent"), ("priority", "urgency")),
    (("language", "languages"), ("language", "lang")),
)
# Names that are labels by convention, used when the goal gives no cue.
GENERIC_LABEL_NAMES = ("label", "labels", "target", "class", "y", "category", "intent", "sentiment")


class InspectionError(UserError):
    """The data set cannot be used as is; the message says what the user can do."""


@dataclasses.dataclass
class Inspection:
    """What inspection found; to_dict() feeds the plan comment and the Plan."""

    text_column: str
    label_column: str
    reasons: list[str]
    label_candidates: dict[str, int]  # column -> number of classes
    class_counts: dict[str, int]
    imbalance_ratio: float
    tiny_classes: list[str]
    exact_duplicates: int  # rows repeating an earlier row's (text, label) exactly
    duplicate_texts: int  # rows repeating an earlier row's text exactly, whatever the label
    normalized_duplicates: int  # rows repeating an earlier normalised text
    template_duplicates: int  # rows repeating an earlier text once numbers and {{placeholders}} are masked
    label_conflicts: int  # normalised texts that carry more than one label
    leakage: int  # distinct normalised test texts also in train (cross-split, or a random-split estimate)
    leakage_rows: int
    leakage_kind: str
    token_lengths: dict
    placeholder_rows: int
    rows: int
    splits: dict[str, int]
    columns: list[str]
    unique_texts: int
    unique_normalized_texts: int
    findings: list[str]
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """Plain JSON-able dict."""
        return dataclasses.asdict(self)


# ---------------------------------------------------------------- column detection


def _is_text(col: pd.Series) -> bool:
    """A column of strings (pandas str dtype or object holding only str)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        return False
    return pd.api.types.is_string_dtype(col.dtype) and pd.api.types.infer_dtype(col, skipna=True) == "string"


def _label_problem(col: pd.Series, rows: int) -> str | None:
    """Why a column cannot be the label, or None when it can (2..1000 classes, classes << rows)."""
    labelish = (
        _is_text(col)
        or pd.api.types.is_integer_dtype(col.dtype)
        or pd.api.types.is_bool_dtype(col.dtype)
        or isinstance(col.dtype, pd.CategoricalDtype)
    )
    if not labelish:
        return f"{col.dtype} values"
    return _class_problem(col, rows)


def _class_problem(col: pd.Series, rows: int) -> str | None:
    """Why a column's values cannot be the classes (2..1000 classes, classes << rows), or None."""
    classes = col.nunique(dropna=True)
    if classes < 2:
        return f"{classes} distinct value"
    if classes > MAX_CLASSES or classes * MIN_ROWS_PER_CLASS > rows:
        return f"{classes:,} distinct values in {rows:,} rows"
    return None


def _choose_text(df: pd.DataFrame, label_ok: set[str]) -> tuple[str, str]:
    """The string column with the longest mean length (label-like columns only as a last resort)."""
    texts = [c for c in df.columns if _is_text(df[c])]
    pool = [c for c in texts if c not in label_ok] or texts
    if not pool:
        raise InspectionError(
            f"no text column: none of the columns {list(df.columns)} holds strings. "
            "Name one with `/plan text=<column>`."
        )
    lengths = {c: df[c].dropna().str.len().mean() for c in pool}
    best = max(pool, key=lambda c: (lengths[c], -pool.index(c)))
    why = (
        f"text column '{best}': string column with the longest mean length "
        f"({lengths[best]:.0f} chars), {df[best].nunique():,} unique values"
    )
    return best, why


def _goal_has(goal: str, phrase: str) -> bool:
    """Whole-word, case-insensitive phrase match (so 'type' does not match 'prototype')."""
    return re.search(rf"\b{re.escape(phrase.lower())}\b", goal.lower()) is not None


def _label_score(column: str, goal: str) -> tuple[int, str]:
    """(score, reason) for one label candidate: goal names it 3, goal cue 2, conventional name 1."""
    name = column.lower()
    if _goal_has(goal, name.replace("_", " ")):
        return 3, f"matches the goal word '{name.replace('_', ' ')}'"
    for phrases, columns in GOAL_CUES:
        if name in columns:
            for phrase in sorted(phrases, key=len, reverse=True):
                if _goal_has(goal, phrase):
                    return 2, f"matches the goal word '{phrase}'"
    if name in GENERIC_LABEL_NAMES:
        return 1, "conventional label column name (the goal names no label)"
    return 0, "the only kind of column that can be a label (few distinct values)"


def _check_forced_label(df: pd.DataFrame, forced: str, text: str, candidates: dict[str, int]) -> None:
    """A label named with `/plan label=` must be a usable label and not the text column; say which columns are."""
    problem = _class_problem(df[forced], len(df))
    problem = f"it has {problem}" if problem else "it is also the text column" if forced == text else None
    if problem is None:
        return
    usable = ", ".join(f"'{c}' ({n:,} classes)" for c, n in candidates.items() if c != forced)
    hint = f"Columns that can be the label: {usable}." if usable else "No other column can be the label."
    raise InspectionError(
        f"column '{forced}' cannot be the label: {problem}. A label column needs 2-{MAX_CLASSES} distinct "
        f"values, far fewer than the rows. {hint} Name one with `/plan label=<column>`"
        + (" (and the text with `/plan text=<column>`)." if forced == text else ".")
    )


def _choose_label(df: pd.DataFrame, text: str, goal: str, forced: str | None) -> tuple[str, str, dict]:
    """Pick the label column: the goal's cue decides; ties go to the coarser (fewer classes) column."""
    rows = len(df)
    problems = {c: _label_problem(df[c], rows) for c in df.columns if c != text}
    candidates = {c: int(df[c].nunique()) for c, p in problems.items() if p is None}
    if forced is not None:
        _check_forced_label(df, forced, text, candidates)
        return (
            forced,
            f"label column '{forced}': {df[forced].nunique():,} classes, chosen with /plan label={forced}",
            candidates,
        )
    if not candidates:
        rejected = "; ".join(f"'{c}' ({p})" for c, p in problems.items()) or "none besides the text"
        raise InspectionError(
            f"no label column found. Columns: {list(df.columns)} (text: '{text}'; rejected: {rejected}). "
            f"A label column needs 2-{MAX_CLASSES} distinct values, far fewer than the rows. "
            "Name it with `/plan label=<column>`."
        )
    scored = {c: _label_score(c, goal) for c in candidates}
    best = min(candidates, key=lambda c: (-scored[c][0], candidates[c], list(df.columns).index(c)))
    cue = scored[best][1] if len(candidates) > 1 or scored[best][0] >= 2 else "the only label candidate"
    why = f"label column '{best}': {candidates[best]:,} classes, {cue}"
    others = [f"'{c}' ({n:,} classes)" for c, n in candidates.items() if c != best]
    if others:
        why += f"; other candidates: {', '.join(others)} (switch with `/plan label=<column>`)"
    return best, why, candidates


# ---------------------------------------------------------------- measurements


def _tokenizer_name(tokenizer) -> str:
    """Short name of a tokenizer for reports (a local folder shows as its last parts)."""
    name = str(getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__)
    return name if not name.startswith("/") else "/".join(name.rstrip("/").split("/")[-2:])


def _lengths(texts: pd.Series, tokenizer) -> dict:
    """p50/p95/p99/max length per row: model tokens (incl. special tokens) or whitespace words."""
    unique, inverse = np.unique(texts.to_numpy(dtype=object).astype(str), return_inverse=True)
    if tokenizer is not None:
        ids = tokenizer(
            list(unique),
            add_special_tokens=True,
            truncation=False,
            verbose=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )["input_ids"]
        per_unique = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        unit = f"model tokens ({_tokenizer_name(tokenizer)}, incl. special tokens)"
    else:
        per_unique = np.fromiter((len(t.split()) for t in unique), dtype=np.int64, count=len(unique))
        unit = "whitespace words (no tokenizer given)"
    per_row = per_unique[inverse.reshape(-1)]
    if per_row.size == 0:
        return {"p50": 0, "p95": 0, "p99": 0, "max": 0, "unit": unit}
    pct = {f"p{q}": int(np.percentile(per_row, q, method="higher")) for q in (50, 95, 99)}
    return {**pct, "max": int(per_row.max()), "unit": unit}


def _eval_split(splits: list[str]) -> str | None:
    """The split that plays 'test' in a leakage check: 'test' if present, else any non-train split."""
    if "test" in splits:
        return "test"
    others = [s for s in splits if s != "train"]
    return others[0] if others and len(splits) > 1 else None


def _leakage(keys: pd.Series, split_of: pd.Series, seed: int) -> tuple[int, int, str]:
    """(distinct test texts seen in train, test rows affected, how measured) by normalised text."""
    held = _eval_split(list(dict.fromkeys(split_of)))
    if held is not None:
        in_test = (split_of == held).to_numpy()
        kind = f"cross-split: '{held}' texts also in the other splits"
    else:
        rng = np.random.default_rng(seed)
        in_test = np.zeros(len(keys), dtype=bool)
        in_test[rng.permutation(len(keys))[: round(len(keys) * LEAK_TEST_SHARE)]] = True
        kind = f"estimate: a random 80/20 split (seed {seed}) of the rows as given"
    seen = set(keys[~in_test])
    test_keys = keys[in_test]
    hit = test_keys.isin(seen)
    return int(test_keys[hit].nunique()), int(hit.sum()), kind


def _findings(ins: Inspection) -> list[str]:
    """One-line, plain-language warnings for the plan comment."""
    out = []
    if ins.normalized_duplicates:
        exact = f"{ins.exact_duplicates:,} exact duplicate rows; " if ins.exact_duplicates else ""
        out.append(
            f"{exact}{ins.unique_texts:,} unique texts, {ins.unique_normalized_texts:,} after "
            "lower-casing and collapsing spaces: de-duplicate before splitting"
        )
    if ins.template_duplicates > ins.normalized_duplicates:
        out.append(
            f"{ins.template_duplicates:,} rows repeat another text once numbers and {{{{placeholders}}}} are masked "
            "(templated copies): the split keeps such near-duplicates together"
        )
    if ins.label_conflicts:
        out.append(f"{ins.label_conflicts:,} texts appear with different labels (majority label kept, ties dropped)")
    if ins.leakage:
        out.append(f"leakage: {ins.leakage:,} test texts also occur in train ({ins.leakage_kind})")
    if ins.imbalance_ratio >= 10:
        out.append(f"imbalanced: the largest class has {ins.imbalance_ratio:.1f}x the rows of the smallest")
    if ins.tiny_classes:
        out.append(f"{len(ins.tiny_classes)} tiny classes (< {TINY_ROWS} rows or < 1%): {ins.tiny_classes[:5]}")
    if ins.placeholder_rows:
        out.append(f"{ins.placeholder_rows:,} rows contain template placeholders like {{{{Order Number}}}}")
    return out


def inspect_frames(
    frames: dict[str, pd.DataFrame],
    goal: str,
    tokenizer=None,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    seed: int = LEAK_SEED,
) -> Inspection:
    """Inspect {split: frame}; text/label columns are detected unless given (`/plan text=`, `label=`)."""
    started = time.perf_counter()
    if not frames:
        raise InspectionError("the data set has no splits/rows")
    df = pd.concat(list(frames.values()), ignore_index=True, join="inner")
    split_of = pd.Series(np.repeat(list(frames), [len(f) for f in frames.values()]))
    for forced in (text_column, label_column):
        if forced is not None and forced not in df.columns:
            raise InspectionError(f"column '{forced}' not found; columns are {list(df.columns)}")
    reasons = []
    if text_column is None:
        label_ok = {c for c in df.columns if _label_problem(df[c], len(df)) is None}
        text_column, why = _choose_text(df, label_ok)
    else:
        why = f"text column '{text_column}': chosen with /plan text={text_column}"
    reasons.append(why)
    label_column, why, candidates = _choose_label(df, text_column, goal, label_column)
    reasons.append(why)

    ok = df[text_column].notna() & df[label_column].notna()
    text = df.loc[ok, text_column].astype(str).reset_index(drop=True)
    label = df.loc[ok, label_column].astype(str).reset_index(drop=True)
    split_of = split_of[ok.to_numpy()].reset_index(drop=True)
    keys = normalize_series(text)
    counts = label.value_counts()
    class_counts = {str(k): int(v) for k, v in counts.items()}
    tiny = [k for k, v in class_counts.items() if v < TINY_ROWS or v < TINY_SHARE * len(label)]
    leak, leak_rows, leak_kind = _leakage(keys, split_of, seed)
    labels_per_key = pd.DataFrame({"k": keys, "l": label}).groupby("k")["l"].nunique()

    ins = Inspection(
        text_column=text_column,
        label_column=label_column,
        reasons=reasons,
        label_candidates=candidates,
        class_counts=class_counts,
        imbalance_ratio=round(float(counts.max() / counts.min()), 2) if len(counts) else 0.0,
        tiny_classes=tiny,
        exact_duplicates=int(pd.DataFrame({"t": text, "l": label}).duplicated().sum()),
        duplicate_texts=int(text.duplicated().sum()),
        normalized_duplicates=int(keys.duplicated().sum()),
        template_duplicates=int(template_series(text).duplicated().sum()),
        label_conflicts=int((labels_per_key > 1).sum()),
        leakage=leak,
        leakage_rows=leak_rows,
        leakage_kind=leak_kind,
        token_lengths=_lengths(text, tokenizer),
        placeholder_rows=int(text.str.contains(PLACEHOLDER).sum()),
        rows=int(sum(len(f) for f in frames.values())),
        splits={name: len(f) for name, f in frames.items()},
        columns=[str(c) for c in df.columns],
        unique_texts=int(text.nunique()),
        unique_normalized_texts=int(keys.nunique()),
        findings=[],
    )
    ins.findings = _findings(ins)
    ins.seconds = round(time.perf_counter() - started, 3)
    return ins
