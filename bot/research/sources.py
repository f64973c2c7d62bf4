"""Where a dataset reference may be read from, and who may name which kind (ARCHITECTURE.md principle 5).

Three kinds of reference, told apart from the text alone, never by looking at the disk:
- a **Hub ID** (`owner/name`), loaded through the Hub (or its offline copy);
- a **repository path** (`data/tickets.csv`, `./data/tickets/`), read from the repository, never from
  this machine's disk;
- a **server path** (absolute, `~`, any `..` part, a backslash or a drive letter): a file on this machine.

Anyone may name a Hub ID or a repository path. Only a maintainer (`/plan dataset=…`,
`.github/ml-intern.yml`) may name a server path, and only inside an allow-listed data directory.
An issue's server path is refused before anything touches the filesystem, in words that are the
same whether the file exists or not and that repeat no part of the path, so the refusal is not an
oracle for the server's files.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from bot.errors import UserError
from bot.planner.schema import DEFAULT_MODEL, HUB_ID, is_repo_path

Kind = Literal["hub", "repo", "server"]
EXTENSIONS = (".csv", ".parquet", ".jsonl", ".json")
TEXT_EXTENSIONS = (".csv", ".parquet", ".jsonl")  # what makes a bare word in prose a data file
ISSUE_SERVER_PATH = (
    "The issue names a file outside this repository. From an issue I only read Hugging Face Hub datasets and "
    "files inside the repository; a maintainer can name a server data folder with `/plan dataset=…` (inside "
    "the data directories this bot is allowed to read)."
)
OUTSIDE_DATA_DIRS = (
    "The dataset path is outside the data directories this bot is allowed to read. Name a Hugging Face Hub "
    "dataset or a file inside the repository, or ask whoever runs the bot to add the folder to "
    "`ML_INTERN_DATA_DIR`."
)
BAD_REFERENCE = (
    "The dataset is neither a Hugging Face Hub ID nor a path inside this repository. Name a Hub dataset "
    "(e.g. `PolyAI/banking77`) or a CSV/Parquet/JSONL file in the repository (e.g. `data/tickets.csv`)."
)

_DRIVE = re.compile(r"^[A-Za-z]:")
_URL = re.compile(r"huggingface\.co/datasets/([A-Za-z0-9][\w.-]*/[\w.-]+)")
_TOKEN = re.compile(r"`([^`\s]+)`|(\S+)")
_PUNCTUATION = re.compile(r"[()\[\]<>{}\"'=,;]")
_BARE_ID = re.compile(r"^([A-Za-z0-9][\w-]*[A-Za-z0-9])/([A-Za-z0-9][\w.-]*[A-Za-z0-9])$")
_ID_MARK = re.compile(r"[0-9A-Z_.-]")


class DatasetError(UserError):
    """A data set could not be found, read or admitted; str(error) is a message for the issue author."""


class RepoFiles(Protocol):
    """The repository's files, as the caller can fetch them (e.g. from the default branch)."""

    def fetch(self, path: str) -> Path | None:
        """A local copy of the repository's file or folder `path` (relative to the repository root),
        in a scratch folder; None when the repository has no such path."""


@dataclass(frozen=True)
class Source:
    """An admitted reference: a Hub ID, a normalised repository path, or a real server path."""

    kind: Kind
    value: str


def classify(reference: str) -> Kind:
    """'server', 'repo' or 'hub', from the text alone: deciding must never touch the filesystem."""
    ref = reference.strip()
    parts = ref.replace("\\", "/").split("/")
    if ref.startswith(("/", "~")) or "\\" in ref or ".." in parts or _DRIVE.match(ref):
        return "server"
    if ref.lower().endswith(EXTENSIONS) or not HUB_ID.match(ref):
        return "repo"
    return "hub"


def repo_path(reference: str) -> str:
    """The repository-relative form of a repository path (`./a//b/` -> `a/b`); DatasetError otherwise."""
    path = posixpath.normpath(reference.strip()) if reference.strip() else ""
    if classify(reference) != "repo" or not is_repo_path(path):
        raise DatasetError(BAD_REFERENCE)
    return path


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _lexical(path: str) -> str:
    return os.path.normpath(os.path.abspath(os.path.expanduser(path)))


def allowed_server_path(reference: str, data_dirs: Iterable[str | os.PathLike]) -> Path:
    """The real path of a maintainer's server path inside an allow-listed data dir; DatasetError otherwise.

    The first check is lexical, so a path outside every data dir is refused without touching it (the
    answer cannot reveal whether it exists). Only a path inside is resolved, and its real path must
    still be inside: a symlink in a data dir that points elsewhere is refused the same way.
    """
    roots = [_lexical(os.fspath(d)) for d in data_dirs]
    path = _lexical(reference.strip())
    if not any(_inside(path, root) for root in roots):
        raise DatasetError(OUTSIDE_DATA_DIRS)
    real = os.path.realpath(path)
    if not any(_inside(real, os.path.realpath(root)) for root in roots):
        raise DatasetError(OUTSIDE_DATA_DIRS)
    return Path(real)


def admit(reference: str, *, by_maintainer: bool, data_dirs: Iterable[str | os.PathLike]) -> Source:
    """Check a reference against who named it; DatasetError with a user-facing message when refused."""
    kind = classify(reference)
    if kind == "server":
        if not by_maintainer:
            raise DatasetError(ISSUE_SERVER_PATH)  # before any filesystem access, and naming nothing
        return Source("server", str(allowed_server_path(reference, data_dirs)))
    if kind == "repo":
        return Source("repo", repo_path(reference))
    return Source("hub", reference.strip())


def looks_like_hub_id(token: str, known: Iterable[str] = ()) -> bool:
    """True when a bare `owner/name` word reads as a Hub ID rather than prose ("and/or", "80/20", "TCP/IP").

    A catalog ID always counts; otherwise both parts need two letters, the owner no dot (a domain or a
    version), not both parts in capitals (an acronym pair), and somewhere a digit, capital, `-`, `_` or `.`.
    """
    if "/" in token and token.lower() in {k.lower() for k in known}:
        return True
    match = _BARE_ID.match(token)
    if not match or classify(token) != "hub":
        return False
    owner, name = match.groups()
    letters = all(sum(c.isalpha() for c in part) >= 2 for part in (owner, name))
    return letters and not (owner.isupper() and name.isupper()) and bool(_ID_MARK.search(token))


def _path_token(token: str, quoted: bool) -> bool:
    """A data file anywhere, or (in backticks) a path with a folder part, such as `data/tickets/`."""
    if "://" in token:
        return False
    return token.lower().endswith(TEXT_EXTENSIONS) or (quoted and "/" in token[1:] and classify(token) != "hub")


def references_in_text(text: str, known: Iterable[str] = ()) -> list[str]:
    """The dataset references an issue names, most explicit first: Hub IDs in backticks or Hub dataset
    URLs, then file paths, then bare Hub-ID-shaped words. A Hub ID right after the word "model", and the
    default model's ID, name a model, not a dataset."""
    explicit: list[str] = []
    paths: list[str] = []
    bare: list[str] = []
    previous = ""
    for match in _TOKEN.finditer(text):
        quoted, raw = match.group(1) is not None, match.group(1) or match.group(2)
        # the last piece of `dataset=x/y`, `[a](x/y.csv)` or `"x/y",`, without sentence punctuation
        pieces = _PUNCTUATION.split(raw.rstrip(".:!?*`"))
        token = next((p for p in reversed(pieces) if p), "").rstrip(".:!?*`").lstrip("*`")
        after_model, previous = previous in ("model", "models"), token.lower()
        url = _URL.search(raw)
        if url:
            explicit.append(url.group(1))
        elif _path_token(token, quoted):
            paths.append(token)
        elif after_model or token == DEFAULT_MODEL:
            continue
        elif quoted and "/" in token and classify(token) == "hub":
            explicit.append(token)
        elif not quoted and looks_like_hub_id(token, known):
            bare.append(token)
    return explicit + paths + bare
