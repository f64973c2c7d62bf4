"""Leak-free, stratified train/validation/test splits.

Dependency-light on purpose (pandas and numpy only, no bot imports): codegen embeds this module's
source into the generated, standalone train.py, so the bot's research and the training script split
data identically. No `from __future__` import either: embedded mid-file it would be a SyntaxError.

Policy:
- Texts are compared after `normalize_text` (lower-case, whitespace collapsed, stripped), because
  "Cancel  order" and "cancel order" are the same example to a model; leaving both in would let one
  sit in train and the other in test.
- Duplicates keep one row. When copies of one text carry different labels, the majority label wins;
  a tie (no majority) drops the text, since any label we picked would be a guess.
- Stratified per class, deterministic for a seed. Every class keeps at least one train row; a class
  too small to spare rows for validation/test stays wholly in train.
- With an official test split, it is used as is (after de-duplication); validation is carved from
  the remaining rows, and rows whose normalised text occurs in test are removed from them.
"""

import numpy as np
import pandas as pd


def normalize_text(s) -> str:
    """The key texts are compared by: lower-case, whitespace runs collapsed to one space, stripped."""
    return " ".join(str(s).lower().split())


def normalize_series(texts: pd.Series) -> pd.Series:
    """Vectorised `normalize_text` for a column (same result, much faster on 100k rows)."""
    return texts.astype(str).str.lower().str.split().str.join(" ")


def dedupe(df: pd.DataFrame, text: str, label: str) -> tuple[pd.DataFrame, dict]:
    """One row per normalised text with columns `text`,`label`; majority label on conflicts, ties dropped."""
    missing = [c for c in (text, label) if c not in df.columns]
    if missing:
        raise KeyError(f"column(s) {missing} not in data; columns are {list(df.columns)}")
    frame = pd.DataFrame({"text": df[text], "label": df[label]})
    rows_in = len(frame)
    frame = frame.dropna()
    frame = frame.assign(text=frame["text"].astype(str), label=frame["label"].astype(str))
    frame = frame[frame["text"].str.strip() != ""]
    dropped_empty = rows_in - len(frame)
    frame = frame.assign(_key=normalize_series(frame["text"]), _order=np.arange(len(frame)))

    votes = frame.groupby(["_key", "label"], sort=False).size().rename("votes").reset_index()
    votes = votes.sort_values(["_key", "votes"], ascending=[True, False], kind="stable")
    labels_per_key = votes.groupby("_key", sort=False)["label"].transform("size")
    runner_up = votes.groupby("_key", sort=False)["votes"].shift(-1)
    top = votes.drop_duplicates("_key", keep="first")
    tie = top["votes"].to_numpy() == runner_up.loc[top.index].fillna(-1).to_numpy()
    conflicts = int((labels_per_key.loc[top.index] > 1).sum())
    keep = top.loc[~tie, ["_key", "label"]]

    kept = frame.merge(keep, on=["_key", "label"], how="inner")
    kept = kept.sort_values("_order", kind="stable").drop_duplicates("_key", keep="first")
    out = kept[["text", "label"]].reset_index(drop=True)
    stats = {
        "rows_in": rows_in,
        "rows_out": len(out),
        "empty_or_missing_dropped": dropped_empty,
        "duplicates_removed": len(frame) - frame["_key"].nunique(),
        "label_conflicts": conflicts,
        "conflict_ties_dropped": int(tie.sum()),
    }
    return out, stats


def _take_per_class(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask choosing ~fraction of each class (largest-remainder rounding), never a class's last row."""
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    exact = counts * fraction
    quota = np.floor(exact).astype(int)
    spare = round(len(labels) * fraction) - int(quota.sum())
    if spare > 0:
        order = np.lexsort((rng.random(len(classes)), -(exact - quota)))
        quota[order[:spare]] += 1
    quota = np.minimum(quota, counts - 1)  # keep at least one row of every class behind
    mask = np.zeros(len(labels), dtype=bool)
    for k in range(len(classes)):
        members = np.flatnonzero(inverse == k)
        if quota[k] > 0:
            mask[rng.choice(members, size=quota[k], replace=False)] = True
    return mask


def _carve(df: pd.DataFrame, fraction: float, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split df into (rest, held-out) stratified by label."""
    if fraction <= 0 or df.empty:
        return df.reset_index(drop=True), df.iloc[0:0].reset_index(drop=True)
    mask = _take_per_class(df["label"].to_numpy(), fraction, rng)
    return df[~mask].reset_index(drop=True), df[mask].reset_index(drop=True)


def split_frames(
    frames: dict[str, pd.DataFrame],
    text: str,
    label: str,
    *,
    val_size: float,
    test_size: float,
    seed: int,
    test_split: str | None = None,
) -> dict[str, pd.DataFrame]:
    """{train, validation, test} frames (columns text,label), disjoint by normalised text.

    Without `test_split`, all given splits are pooled and val_size/test_size are fractions of the
    de-duplicated pool. With it, that split is the test set and val_size is a fraction of the rest.
    """
    rng = np.random.default_rng(seed)
    if test_split is not None:
        if test_split not in frames:
            raise KeyError(f"test split {test_split!r} not found; splits are {sorted(frames)}")
        test, _ = dedupe(frames[test_split], text, label)
        rest = [f for name, f in frames.items() if name != test_split]
        if not rest:
            raise ValueError(f"only the test split {test_split!r} was given; there is nothing to train on")
        pool, _ = dedupe(pd.concat(rest, ignore_index=True), text, label)
        pool = pool[~normalize_series(pool["text"]).isin(set(normalize_series(test["text"])))]
        train, validation = _carve(pool.reset_index(drop=True), val_size, rng)
    else:
        pool, _ = dedupe(pd.concat(list(frames.values()), ignore_index=True), text, label)
        rest, test = _carve(pool, test_size, rng)
        train, validation = _carve(rest, val_size / (1.0 - test_size), rng)
    return {"train": train, "validation": validation, "test": test}
