"""Leak-free, stratified train/validation/test splits that keep near-duplicates together.

Dependency-light on purpose (pandas, numpy and scikit-learn only, no bot imports): codegen embeds this
module's source into the generated, standalone train.py, so the bot's research and the training script
split data identically. No `from __future__` import either: embedded mid-file it would be a SyntaxError.

Policy:
- Texts are compared after `normalize_text` (lower-case, whitespace collapsed, stripped), because
  "Cancel  order" and "cancel order" are the same example to a model; leaving both in would let one
  sit in train and the other in test.
- Duplicates keep one row. When copies of one text carry different labels, the majority label wins;
  a tie (no majority) drops the text, since any label we picked would be a guess.
- Near-duplicates are grouped, and a group never straddles two splits. Templated data (Bitext) holds
  many copies of one sentence with another order number or a typo; with one copy in train and one
  in test, the test score measures recall of the template rather than generalisation. Two texts are
  near-duplicates when their `template_key`s match (numbers and {{placeholders}} masked, punctuation
  dropped) or their character 3-5-gram TF-IDF cosine is at least NEAR_DUPLICATE_COSINE. Groups are
  connected components (single linkage), so no near-copy pair can end up on both sides.
- Groups are assigned whole, stratified per class, deterministic for a seed: in a seeded random order,
  a group is held out when every class in it still has room in its held-out quota. A group larger
  than its class's quota stays in train; a class whose groups cannot fill its quota gets fewer held-out
  rows, and the report says which (never a silent leak, never a silently missing class). Every class
  keeps at least one train row; a class too small to spare rows stays wholly in train.
- With an official test split, it is used as is (after de-duplication); rows of the remaining data
  whose normalised text occurs in test are removed, and validation is carved from the rest by group.
  Near-copies of test rows stay in train: the official split is the benchmark published results use,
  so the plan states how many test texts have one instead of changing the benchmark.
"""

import re
import time

import numpy as np
import pandas as pd

NEAR_DUPLICATE_COSINE = 0.9
NEAR_DUPLICATE_NGRAMS = (3, 5)  # character n-grams within word boundaries (sklearn's char_wb)
MAX_NEAR_DUPLICATE_TEXTS = 50_000  # the pairwise search is quadratic: seconds for Bitext's 23.6k keys
_DENSE_NGRAMS = 256  # the most common n-grams are multiplied densely (BLAS), the rare rest sparsely
_CELLS_PER_CHUNK = 8_000_000  # similarity cells held at once: 32 MB of float32
_SCREEN_MARGIN = 1e-3  # float32 screening error is ~1e-6; pairs this close are decided in float64
_PLACEHOLDER = re.compile(r"\{\{[^{}]*\}\}")


def normalize_text(s) -> str:
    """The key texts are compared by: lower-case, whitespace runs collapsed to one space, stripped."""
    return " ".join(str(s).lower().split())


def normalize_series(texts: pd.Series) -> pd.Series:
    """Vectorised `normalize_text` for a column (same result, much faster on 100k rows)."""
    return texts.astype(str).str.lower().str.split().str.join(" ")


def template_series(texts: pd.Series) -> pd.Series:
    """Template-normalised keys: lower-case, each {{placeholder}} and each digit run becomes "0",
    punctuation becomes a space, whitespace collapsed. "Cancel order #123" == "cancel order {{Order Number}}"."""
    keys = texts.astype(str).str.lower().str.replace(_PLACEHOLDER, " 0 ", regex=True)
    keys = keys.str.replace(r"\d+", "0", regex=True).str.replace(r"[^\w\s]|_", " ", regex=True)
    return keys.str.split().str.join(" ")


def template_key(s) -> str:
    """`template_series` for one text."""
    return str(template_series(pd.Series([s])).iloc[0])


def near_duplicate_pairs(keys: list, threshold: float = NEAR_DUPLICATE_COSINE) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) with i < j: the pairs of `keys` whose char 3-5-gram TF-IDF cosine is >= threshold.

    Exact, not approximate: every pair's cosine is computed, in row chunks of the upper triangle.
    X @ X.T is nearly dense because common n-grams ("the", "my ") join almost every pair, so the
    common n-grams go through a dense float32 product (BLAS) and the rare rest through a sparse one.
    Pairs within _SCREEN_MARGIN of the threshold are then decided in float64 by sparse arithmetic,
    which does not depend on the BLAS build: the bot and train.py on another machine find the same pairs.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    none = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    if len(keys) < 2:
        return none
    try:
        exact = TfidfVectorizer(analyzer="char_wb", ngram_range=NEAR_DUPLICATE_NGRAMS).fit_transform(keys).tocsr()
    except ValueError:  # no text long enough for one n-gram
        return none
    X = exact.astype(np.float32)
    n = X.shape[0]
    by_frequency = np.argsort(-np.bincount(X.indices, minlength=X.shape[1]), kind="stable")
    common = np.zeros(X.shape[1], dtype=bool)
    common[by_frequency[:_DENSE_NGRAMS]] = True
    dense = np.ascontiguousarray(X[:, np.flatnonzero(common)].toarray())
    rare_t = X[:, np.flatnonzero(~common)].T.tocsr()
    rare = rare_t.T.tocsr()
    chunk = max(1, _CELLS_PER_CHUNK // n)
    rows, cols = [], []
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        cosine = dense[start:stop] @ dense[start:].T
        sparse = (rare[start:stop] @ rare_t[:, start:]).tocoo()
        cosine[sparse.row, sparse.col] += sparse.data
        r, c = np.nonzero(cosine >= threshold - _SCREEN_MARGIN)
        upper = c > r
        rows.append(r[upper] + start)
        cols.append(c[upper] + start)
    left, right = np.concatenate(rows).astype(np.int64), np.concatenate(cols).astype(np.int64)
    keep = np.asarray(exact[left].multiply(exact[right]).sum(axis=1)).ravel() >= threshold
    return left[keep], right[keep]


def _components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Union-find over n nodes and the given edges; each node's label is the smallest node of its component."""
    parent = list(range(n))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving
            x = parent[x]
        return x

    for a, b in zip(left.tolist(), right.tolist()):
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([root(x) for x in range(n)], dtype=np.int64)


def _near_links(texts: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """(key id per row, linked key-id pairs, searched?): rows with one key id share a template key; the
    pairs link keys whose cosine is over the threshold. Above MAX_NEAR_DUPLICATE_TEXTS keys only keys link."""
    codes, keys = pd.factorize(template_series(texts.reset_index(drop=True)))
    if len(keys) > MAX_NEAR_DUPLICATE_TEXTS:
        empty = np.zeros(0, dtype=np.int64)
        return codes, empty, empty, False
    left, right = near_duplicate_pairs(list(keys))
    return codes, left, right, True


def _near_copy_rows(codes: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Per row: does some other row share its key or a linked key?"""
    per_key = np.bincount(codes, minlength=int(codes.max(initial=-1)) + 1)
    linked = np.zeros(len(per_key), dtype=bool)
    linked[left] = linked[right] = True
    return (per_key[codes] > 1) | linked[codes]


def _quotas(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(class index per row, held-out rows per class): ~fraction of each class by largest-remainder
    rounding, never a class's last row."""
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    exact = counts * fraction
    quota = np.floor(exact).astype(int)
    spare = round(len(labels) * fraction) - int(quota.sum())
    if spare > 0:
        order = np.lexsort((rng.random(len(classes)), -(exact - quota)))
        quota[order[:spare]] += 1
    return inverse.reshape(-1), np.minimum(quota, counts - 1)  # keep one row of every class behind


def _carve(df: pd.DataFrame, groups: np.ndarray, fraction: float, rng: np.random.Generator, name: str,
           report: dict) -> np.ndarray:
    """Held-out mask: whole groups, in a seeded order, each taken while every class in it has room in its
    quota. Records in report the groups too big for a quota and the classes left short of theirs.

    A random order (not largest-first) keeps the held-out groups a sample of all groups; a big group fits
    only while its quota is still open, so held-out rows lean slightly to small groups (Bitext: 58.8 % of
    test rows have a near-copy, against 59.9 % of all rows)."""
    if fraction <= 0 or df.empty:
        return np.zeros(len(df), dtype=bool)
    klass, quota = _quotas(df["label"].to_numpy(), fraction, rng)
    group_of = np.unique(groups, return_inverse=True)[1].reshape(-1)
    sizes = pd.DataFrame({"g": group_of, "k": klass}).value_counts().sort_index()
    g_of, k_of, n_of = sizes.index.get_level_values(0).to_numpy(), sizes.index.get_level_values(1).to_numpy(), sizes.to_numpy()
    bounds = np.searchsorted(g_of, np.arange(group_of.max() + 2))
    taken = np.zeros(len(quota), dtype=np.int64)
    held = np.zeros(len(bounds) - 1, dtype=bool)
    for g in rng.permutation(len(held)).tolist():
        ks, n = k_of[bounds[g]:bounds[g + 1]], n_of[bounds[g]:bounds[g + 1]]
        if np.all(taken[ks] + n <= quota[ks]):
            taken[ks] += n
            held[g] = True
    classes = np.unique(df["label"].to_numpy())
    report.setdefault("oversized_groups", {})[name] = len(np.unique(g_of[n_of > quota[k_of]]))
    report.setdefault("held_out_short", {})[name] = {
        str(classes[k]): [int(taken[k]), int(quota[k])] for k in np.flatnonzero(taken < quota)}
    return held[group_of]


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


def _link_stats(codes: np.ndarray, left: np.ndarray, right: np.ndarray, searched: bool) -> dict:
    """What the near-duplicate search found among the rows it was given."""
    copied = _near_copy_rows(codes, left, right)
    return {
        "method": f"same template key, or character {NEAR_DUPLICATE_NGRAMS[0]}-{NEAR_DUPLICATE_NGRAMS[1]}-gram "
                  f"TF-IDF cosine >= {NEAR_DUPLICATE_COSINE}; groups are connected components",
        "cosine_threshold": NEAR_DUPLICATE_COSINE,
        "cosine_searched": searched,  # False: too many distinct texts, template keys only
        "rows_compared": len(codes),
        "template_duplicates": int(len(codes) - len(np.unique(codes))),
        "cosine_pairs": len(left),
        "rows_with_near_copy": int(copied.sum()),
        "near_copy_share": round(float(copied.mean()), 4) if len(codes) else 0.0,
    }


def _reach(codes: np.ndarray, left: np.ndarray, right: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Per key: is it the key of one of the marked `rows`, or linked to such a key?"""
    own = np.zeros(int(codes.max(initial=-1)) + 1, dtype=bool)
    own[codes[rows]] = True
    reached = own.copy()
    reached[left[own[right]]] = True
    reached[right[own[left]]] = True
    return reached


def _crossing_rows(codes: np.ndarray, left: np.ndarray, right: np.ndarray, test: np.ndarray, other: np.ndarray) -> int:
    """Rows marked `test` that share a key, or a linked key, with a row marked `other`."""
    return int((test & _reach(codes, left, right, other)[codes]).sum())


def _group_stats(groups: np.ndarray) -> dict:
    sizes = np.unique(groups, return_counts=True)[1]
    return {"groups": len(sizes), "largest_group": int(sizes.max(initial=0)),
            "rows_in_shared_groups": int(sizes[sizes > 1].sum())}


def _split_official(frames, text, label, test_split, val_size, rng, report) -> dict[str, pd.DataFrame]:
    """The official test split as given; the rest without test texts, validation carved by group.

    Training rows that are near-copies of test rows stay: the official split is the yardstick published
    results use, and dropping a tenth of BANKING77's training rows would change the benchmark rather
    than measure it. The report counts them, so the plan can say how many test texts have one."""
    test, _ = dedupe(frames[test_split], text, label)
    rest = [f for name, f in frames.items() if name != test_split]
    if not rest:
        raise ValueError(f"only the test split {test_split!r} was given; there is nothing to train on")
    pool, _ = dedupe(pd.concat(rest, ignore_index=True), text, label)
    exact = normalize_series(pool["text"]).isin(set(normalize_series(test["text"]))).to_numpy()
    pool = pool[~exact].reset_index(drop=True)
    codes, left, right, searched = _near_links(pd.concat([pool["text"], test["text"]], ignore_index=True))
    is_test = np.arange(len(codes)) >= len(pool)
    report.update(_link_stats(codes, left, right, searched))
    copied = _crossing_rows(codes, left, right, is_test, ~is_test)
    report.update({"test_rows": len(test), "test_rows_with_near_copy": copied,
                   "test_near_copy_share": round(copied / len(test), 4) if len(test) else 0.0,
                   "removed_rows": {"exact": int(exact.sum())}, "test_rows_with_near_copy_after": copied})
    groups = _components(int(codes.max(initial=-1)) + 1, left, right)[codes[~is_test]]
    report.update(_group_stats(groups))
    held = _carve(pool, groups, val_size, rng, "validation", report)
    return {"train": pool[~held].reset_index(drop=True), "validation": pool[held].reset_index(drop=True), "test": test}


def _split_pooled(frames, text, label, val_size, test_size, rng, report) -> dict[str, pd.DataFrame]:
    """All splits pooled, de-duplicated, grouped; test then validation carved by group."""
    pool, _ = dedupe(pd.concat(list(frames.values()), ignore_index=True), text, label)
    codes, left, right, searched = _near_links(pool["text"])
    report.update(_link_stats(codes, left, right, searched))
    groups = _components(int(codes.max(initial=-1)) + 1, left, right)[codes]
    report.update(_group_stats(groups))
    in_test = _carve(pool, groups, test_size, rng, "test", report)
    rest = np.flatnonzero(~in_test)
    in_val = np.zeros(len(pool), dtype=bool)
    in_val[rest[_carve(pool.iloc[rest], groups[rest], val_size / (1.0 - test_size), rng, "validation", report)]] = True
    report["test_rows"] = int(in_test.sum())
    report["test_rows_with_near_copy"] = int((in_test & _near_copy_rows(codes, left, right)).sum())
    report["test_rows_with_near_copy_after"] = _crossing_rows(codes, left, right, in_test, ~in_test)
    parts = {"train": ~in_test & ~in_val, "validation": in_val, "test": in_test}
    return {name: pool[mask].reset_index(drop=True) for name, mask in parts.items()}


def split_frames(
    frames: dict[str, pd.DataFrame],
    text: str,
    label: str,
    *,
    val_size: float,
    test_size: float,
    seed: int,
    test_split: str | None = None,
    report: dict | None = None,
) -> dict[str, pd.DataFrame]:
    """{train, validation, test} frames (columns text,label), disjoint by normalised text and by
    near-duplicate group.

    Without `test_split`, all given splits are pooled and val_size/test_size are fractions of the
    de-duplicated pool. With it, that split is the test set and val_size is a fraction of the rest.
    `report`, when given, is filled with what the near-duplicate grouping found and did.
    """
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    stats: dict = {}
    if test_split is not None:
        if test_split not in frames:
            raise KeyError(f"test split {test_split!r} not found; splits are {sorted(frames)}")
        parts = _split_official(frames, text, label, test_split, val_size, rng, stats)
    else:
        parts = _split_pooled(frames, text, label, val_size, test_size, rng, stats)
    stats["split_rows"] = {name: len(frame) for name, frame in parts.items()}
    stats["seconds"] = round(time.perf_counter() - started, 2)
    if report is not None:
        report.update(stats)
    return parts
