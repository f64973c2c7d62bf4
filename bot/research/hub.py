"""Find candidate data sets for a goal: the Hub's search online, the offline catalog otherwise."""

from __future__ import annotations

from bot.research.data import catalog_lookup, hub_reachable

TASK_FILTER = "task_categories:text-classification"


def _catalog_ids(query: str) -> list[str]:
    """Hub IDs of catalog entries matching the query, best first."""
    return [entry["hub_id"] for entry in catalog_lookup(query)]


def search_datasets(query: str, limit: int = 10) -> list[str]:
    """Hub IDs of text-classification data sets matching `query`, most downloaded first.

    Offline (HF_HUB_OFFLINE, checked first so nothing waits on the network) or when the Hub cannot be
    reached, the answer comes from the offline catalog instead.
    """
    if not hub_reachable():
        return _catalog_ids(query)
    from huggingface_hub import HfApi

    try:
        found = HfApi().list_datasets(search=query, filter=TASK_FILTER, sort="downloads", limit=limit)
        ids = [info.id for info in found]
    except Exception:  # noqa: BLE001 - HTTP/timeout errors: fall back rather than fail the plan
        return _catalog_ids(query)
    return ids or _catalog_ids(query)
