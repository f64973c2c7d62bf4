"""Load a data set as pandas frames, from the Hugging Face Hub or a local CSV/Parquet/JSONL file.

Hub IDs go through `datasets.load_dataset` (the real path users take). These machines are offline,
so a small catalog (catalog.json) maps known Hub IDs to local copies under a data dir
(../shared/data by default); the same catalog ranks data sets for an issue's goal when the Hub
search is unavailable. Every failure is a `DatasetError` whose message tells the user what to do.

Which references may be read at all, and by whom, is decided first in sources.py; the functions
here read what they are given, so untrusted references reach them only after `sources.admit`.
"""

from __future__ import annotations

import functools
import json
import os
import re
import socket
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd

# DatasetError lives in sources.py, the lowest layer, and is re-exported here where callers expect it.
from bot.research.sources import EXTENSIONS, DatasetError, classify

CATALOG = Path(__file__).with_name("catalog.json")
REPO_ROOT = Path(__file__).resolve().parents[2]
SPLIT_FILE = re.compile(r"^(train|test|validation|valid|dev|eval)([-_.].*)?$", re.IGNORECASE)
SPLIT_ALIASES = {"valid": "validation", "dev": "validation", "eval": "validation"}
NOT_FOUND = "dataset file not found: {} — pass a Hub ID or a path to a CSV/Parquet/JSONL file"
ASK = "check the ID, or comment `/plan dataset=<id>`"
OFFLINE = "the Hub is unreachable (offline) and {} is not in the offline catalog or the Hub cache — " + ASK
NOT_ON_HUB = "the Hugging Face Hub has no dataset {} (or it is private) — " + ASK
HUB_PREFIX = "hf://datasets/"  # makes load_dataset go to the Hub even when a local folder has the same name


# ---------------------------------------------------------------- offline catalog


@functools.lru_cache(maxsize=1)
def load_catalog() -> tuple[dict, ...]:
    """Entries of catalog.json (hub_id, path, license, description, keywords, columns)."""
    return tuple(json.loads(CATALOG.read_text(encoding="utf-8"))["datasets"])


def catalog_entry(source: str) -> dict | None:
    """The catalog entry whose Hub ID, alias or short name is `source` (case-insensitive), if any.

    A match on names only: asking never touches the disk, so it is safe for untrusted text."""
    wanted = source.strip().lower()
    for entry in load_catalog():
        names = [entry["hub_id"], entry["name"], *entry.get("aliases", [])]
        if wanted in (n.lower() for n in names):
            return entry
    return None


def catalog_entry_for_path(path: Path, data_dirs=None) -> dict | None:
    """The entry whose offline copy is the (admitted) local `path`, so it keeps its Hub attribution."""
    dirs = [Path(d) for d in data_dirs] if data_dirs is not None else default_data_dirs()
    for entry in load_catalog():
        local = _local_copy(entry, dirs)
        if local is not None and local.resolve() == Path(path).resolve():
            return entry
    return None


def _words(text: str) -> set[str]:
    """Lower-case word set, with a crude plural strip so 'tickets' meets 'ticket'."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return set(words) | {w[:-1] for w in words if len(w) > 3 and w.endswith("s")}


def catalog_lookup(goal_text: str) -> list[dict]:
    """Catalog entries ranked by keyword overlap with the goal (phrases count per word); no overlap, no entry."""
    goal = " ".join(re.findall(r"[a-z0-9]+", goal_text.lower()))
    goal_words = _words(goal_text)
    scored = []
    for position, entry in enumerate(load_catalog()):
        score = 0
        for keyword in entry["keywords"]:
            phrase = " ".join(re.findall(r"[a-z0-9]+", keyword.lower()))
            if " " in phrase and re.search(rf"\b{re.escape(phrase)}\b", goal):
                score += 2 * len(phrase.split())  # a whole phrase is a stronger cue than its words
            elif " " not in phrase and _words(phrase) & goal_words:
                score += 1
        if entry["name"] in goal_words or entry["hub_id"].lower() in goal_text.lower():
            score += 10
        if score:
            scored.append((-score, position, entry))
    return [entry for *_, entry in sorted(scored, key=lambda t: t[:2])]


# ---------------------------------------------------------------- where the data lives


def default_data_dirs() -> list[Path]:
    """Where local copies live, and the only server folders a maintainer may name: the folders in
    $ML_INTERN_DATA_DIR (several, separated by os.pathsep), then ../shared/data from the cwd and the repo root."""
    listed = os.environ.get("ML_INTERN_DATA_DIR", "").split(os.pathsep)
    dirs = [Path(d).expanduser() for d in listed if d.strip()]
    dirs += [Path.cwd().parent / "shared" / "data", REPO_ROOT.parent / "shared" / "data"]
    unique: list[Path] = []
    for d in dirs:
        if d.resolve() not in unique:
            unique.append(d.resolve())
    return unique


def hub_offline() -> bool:
    """True when HF_HUB_OFFLINE is set; read from the environment so that asking does not import
    huggingface_hub (which freezes its constants at import, before a caller could go offline)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


@functools.lru_cache(maxsize=4)
def _can_connect(host: str, port: int, timeout: float) -> bool:
    """One TCP connect, remembered for the process (a bot run should not probe repeatedly)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def hub_reachable(timeout: float = 3.0) -> bool:
    """False when offline mode is on (no network touched) or the Hub endpoint refuses a TCP connect."""
    if hub_offline():
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    return _can_connect(url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80), timeout)


def looks_local(source: str) -> bool:
    """A path rather than a Hub ID, told from the text alone (sources.classify), never by a lookup on disk."""
    return classify(source) != "hub"


def _hub_cached(hub_id: str) -> bool:
    """True when the Hub cache already holds this data set, so load_dataset can work offline."""
    from huggingface_hub import constants

    return (Path(constants.HF_HUB_CACHE) / ("datasets--" + hub_id.replace("/", "--"))).is_dir()


def _local_copy(entry: dict, data_dirs) -> Path | None:
    """First data dir holding the catalog entry's local copy."""
    for directory in data_dirs:
        candidate = Path(directory) / entry["path"]
        if candidate.exists():
            return candidate
    return None


def offline_copy(hub_id: str, data_dirs=None) -> Path | None:
    """The local copy of a catalogued Hub data set (ID, alias or short name), resolved; None when the
    catalog has no such entry or no data dir holds its copy. A name match first: nothing untrusted
    reaches the disk."""
    entry = catalog_entry(hub_id)
    if entry is None:
        return None
    local = _local_copy(entry, [Path(d) for d in data_dirs] if data_dirs is not None else default_data_dirs())
    return local.resolve() if local is not None else None


def resolve_dataset(source: str, data_dirs=None) -> str:
    """Return what to load: a local path as is, a Hub ID when the Hub (or its cache) can serve it,
    else the catalog's local copy; DatasetError when none of these exists.

    Local paths are looked up as given and under the data dirs: pass only admitted references."""
    dirs = [Path(d) for d in data_dirs] if data_dirs is not None else default_data_dirs()
    source = source.strip()
    if looks_local(source):
        for candidate in [Path(source).expanduser(), *(d / source for d in dirs)]:
            if candidate.exists():
                return str(candidate)
        raise DatasetError(NOT_FOUND.format(source))
    entry = catalog_entry(source)
    if hub_reachable():
        return source
    local = _local_copy(entry, dirs) if entry else None
    if local is not None:
        return str(local)
    if _hub_cached(source):
        return source
    if entry:
        looked = ", ".join(str(d) for d in dirs) or "(no data dirs)"
        raise DatasetError(
            f"the Hub is unreachable (offline) and the local copy of {source} ({entry['path']}) "
            f"is not in any data dir: {looked} — set ML_INTERN_DATA_DIR"
        )
    raise DatasetError(OFFLINE.format(source))


# ---------------------------------------------------------------- reading


def _read_file(path: Path) -> pd.DataFrame:
    """One CSV/Parquet/JSONL/JSON file as a frame; DatasetError when unreadable or empty."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path)
        elif suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix == ".jsonl":
            frame = pd.read_json(path, lines=True)
        elif suffix == ".json":
            try:
                frame = pd.read_json(path)
            except ValueError:
                frame = pd.read_json(path, lines=True)
        else:
            raise DatasetError(f"unsupported file type {suffix!r}: {path} — use CSV, Parquet or JSONL")
    except DatasetError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types for malformed input
        raise DatasetError(f"could not read {path}: {type(exc).__name__}: {exc}") from exc
    if frame.empty or len(frame.columns) == 0:
        raise DatasetError(f"{path} has no rows")
    return frame


def _read_dir(path: Path) -> dict[str, pd.DataFrame]:
    """A folder of split files (train.csv, test.csv, validation-*.parquet ...) as {split: frame}."""
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS)
    by_split: dict[str, list[Path]] = {}
    for file in files:
        match = SPLIT_FILE.match(file.stem)
        if match:
            split = match.group(1).lower()
            by_split.setdefault(SPLIT_ALIASES.get(split, split), []).append(file)
    if not by_split:
        if len(files) == 1:
            return {"train": _read_file(files[0])}
        names = ", ".join(p.name for p in files) or "no CSV/Parquet/JSONL files"
        raise DatasetError(f"{path} has no train/test split files (found: {names})")
    order = sorted(by_split, key=lambda s: (["train", "validation", "test"] + [s]).index(s))
    return {split: pd.concat([_read_file(f) for f in by_split[split]], ignore_index=True) for split in order}


def _hub_frames(source: str, config, revision) -> dict[str, pd.DataFrame]:
    """Hub data set via datasets.load_dataset; ClassLabel ints become their names."""
    import datasets

    dataset_dict = datasets.load_dataset(source, config, revision=revision)
    frames = {}
    for split, ds in dataset_dict.items():
        frame = ds.to_pandas()
        for column, feature in ds.features.items():
            if isinstance(feature, datasets.ClassLabel):
                frame[column] = [feature.int2str(int(v)) if v is not None and v >= 0 else None for v in frame[column]]
        frames[split] = frame
    return frames


def load_frames(source: str, *, config=None, revision=None) -> dict[str, pd.DataFrame]:
    """Split name -> frame. A local file gives {"train": df}; a folder gives its split files.

    Hub IDs are loaded with datasets.load_dataset; when that fails offline, the catalog's local copy
    is used if one exists.
    """
    source = str(source).strip()
    if looks_local(source):
        path = Path(source).expanduser()
        if not path.exists():
            raise DatasetError(NOT_FOUND.format(source))
        return _read_dir(path) if path.is_dir() else {"train": _read_file(path)}
    try:
        return _hub_frames(HUB_PREFIX + source, config, revision)
    except Exception as exc:  # datasets raises DatasetNotFoundError, ConnectionError, OfflineModeIsEnabled...
        if hub_reachable():
            if isinstance(exc, FileNotFoundError):  # DatasetNotFoundError is one
                raise DatasetError(NOT_ON_HUB.format(source)) from exc
            raise DatasetError(f"could not load {source} from the Hub: {type(exc).__name__}: {exc}") from exc
        entry = catalog_entry(source)
        local = _local_copy(entry, default_data_dirs()) if entry else None
        if local is None:
            raise DatasetError(OFFLINE.format(source)) from exc
        return load_frames(str(local))
