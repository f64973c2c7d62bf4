"""Licence and attribution policy: under which licence a published repo is offered, and whom it credits.

Both repos ship verbatim rows of the training data (widget examples, misclassified test rows in
`metrics.json`) and weights derived from it, so they follow the data's licence, not the base model's.
A share-alike data licence therefore binds the repo too; an unrecorded one is published as `other` /
`unknown` with a warning, never silently as something permissive. This is a conservative reading,
not legal advice, and the card says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bot.core.render import cell
from bot.planner.schema import HUB_ID, Plan

# fmt: off
# Licence ids the Hub accepts in `license:` (https://huggingface.co/docs/hub/repositories-licenses), subset.
HUB_LICENSES = {
    "apache-2.0", "mit", "bsd-3-clause", "cc0-1.0", "cc-by-4.0", "cc-by-sa-4.0", "cc-by-sa-3.0", "cc-by-nc-4.0",
    "cc-by-nc-sa-4.0", "cdla-sharing-1.0", "cdla-permissive-1.0", "cdla-permissive-2.0", "odc-by", "odbl",
    "gpl-3.0", "openrail",
}
# fmt: on
SHARE_ALIKE = {"cdla-sharing-1.0", "cc-by-sa-4.0", "cc-by-sa-3.0", "cc-by-nc-sa-4.0", "odbl", "gpl-3.0"}
LICENSE_LINKS = {
    "cdla-sharing-1.0": "https://cdla.dev/sharing-1-0/",
    "cc-by-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "cc-by-sa-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "apache-2.0": "https://www.apache.org/licenses/LICENSE-2.0",
}
BASE_MODEL_LICENSES = {"sentence-transformers/all-MiniLM-L6-v2": "apache-2.0"}
DATASET_ATTRIBUTION = {
    "bitext/Bitext-customer-support-llm-chatbot-training-dataset": (
        "Bitext customer-support LLM chatbot training dataset, (c) Bitext Innovations International, Inc., "
        "licensed under CDLA-Sharing-1.0"
    ),
    "PolyAI/banking77": (
        "BANKING77, (c) PolyAI, licensed under CC-BY-4.0; Casanueva et al. (2020), "
        '"Efficient Intent Detection with Dual Sentence Encoders"'
    ),
}
DATA_SUFFIXES = {".csv", ".parquet", ".jsonl", ".json", ".tsv", ".txt"}
CAVEAT = "This is a conservative reading, not legal advice."


@dataclass(frozen=True)
class License:
    id: str  # the Hub's `license:` value; "other" with `name` and `link` when the Hub has no id for it
    name: str | None
    link: str | None
    note: str  # why this licence, in words for the card


UNRECORDED = License(
    "other",
    "unknown",
    None,
    "The plan did not record the training data's licence: "
    "nobody has checked whether it allows redistribution. Do not reuse this model until you have.",
)


def hub_dataset(plan: Plan) -> str | None:
    """The dataset's Hub id to credit (`dataset_name` for a local copy), or None for a local file."""
    if plan.dataset_name and HUB_ID.match(plan.dataset_name):
        return plan.dataset_name
    local = plan.dataset.startswith((".", "/", "~")) or Path(plan.dataset).suffix in DATA_SUFFIXES
    return None if local or not HUB_ID.match(plan.dataset) else plan.dataset


def attribution(plan: Plan) -> str:
    """The credit line for the data: a known data set's own notice, else its id and recorded licence."""
    dataset = hub_dataset(plan)
    known = DATASET_ATTRIBUTION.get(dataset or "")
    return known or f"`{dataset or plan.dataset}`, licence {cell(plan.dataset_license or 'not recorded')}"


def license_for(plan: Plan) -> License:
    """The repo licence follows the data's licence, because the repo ships rows of that data."""
    raw = cell(plan.dataset_license or "")  # free text from the plan: shown, never trusted
    if not raw:
        return UNRECORDED
    key = (plan.dataset_license or "").strip().lower()
    note = _follows_the_data(plan, raw) + _share_alike(key, raw) + CAVEAT
    if key in HUB_LICENSES:
        return License(key, None, LICENSE_LINKS.get(key), note)
    slug = re.sub(r"[^a-z0-9.-]+", "-", key).strip("-")
    return License("other", slug, LICENSE_LINKS.get(key), note)


def _follows_the_data(plan: Plan, raw: str) -> str:
    """Why the data's licence (`raw`, already cell-safe) wins over the base model's."""
    base = BASE_MODEL_LICENSES.get(plan.model, "see the base model's card")
    return (
        f"This repository ships verbatim rows of the training data (widget examples, misclassified test "
        f"rows in `metrics.json`) and weights derived from it, so it is offered under the data's licence, "
        f"{raw}, rather than the base model's ({base}). "
    )


def _share_alike(key: str, raw: str) -> str:
    """The consequence of a share-alike licence, spelt out: it rules out relabelling the repo."""
    if key not in SHARE_ALIKE:
        return ""
    return (
        f"{raw} is share-alike: anyone who redistributes these rows, or changes to them, must do so "
        f"under {raw} too, which rules out relabelling this repository as Apache-2.0. "
    )
