"""What HF Jobs hardware costs, in USD per hour: the Hub's own price list when it answers, else a table.

Online, `HfApi.list_jobs_hardware()` (GET /api/jobs/hardware) is the truth: each flavor has a
`unit_cost_usd` per `unit_label` (a minute today). Offline (tests, the playground, a Hub that cannot be
reached), `FLAVORS` stands in. Its prices are the public hourly prices of
https://huggingface.co/docs/hub/jobs-pricing as known when this table was written (CPU rows read from
that page; GPU rows from the same list): an estimate, not a quote. The local Hub (bot/hub/hardware.py)
serves this same table, so a flavor it does not know (for example `rtx-pro-6000`) is refused there like
an unknown flavor and has no price here either: a caller that estimates costs fails closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runners.base import BackendError

if TYPE_CHECKING:
    from huggingface_hub import HfApi

# name, pretty name, vCPU, RAM GB, disk GB, (GPU model, count, VRAM GB per GPU) or None, USD per hour
FLAVORS: tuple[tuple[str, str, int, int, int, tuple[str, int, int] | None, float], ...] = (
    ("cpu-basic", "CPU Basic", 2, 16, 50, None, 0.01),
    ("cpu-upgrade", "CPU Upgrade", 8, 32, 50, None, 0.03),
    ("cpu-performance", "CPU Performance", 32, 256, 1024, None, 1.90),
    ("cpu-xl", "CPU XL", 16, 124, 1000, None, 1.00),
    ("t4-small", "Nvidia T4 - small", 4, 15, 50, ("T4", 1, 16), 0.40),
    ("t4-medium", "Nvidia T4 - medium", 8, 30, 100, ("T4", 1, 16), 0.60),
    ("l4x1", "1x Nvidia L4", 8, 30, 400, ("L4", 1, 24), 0.80),
    ("l4x4", "4x Nvidia L4", 48, 186, 3200, ("L4", 4, 24), 3.80),
    ("l40sx1", "1x Nvidia L40S", 8, 62, 380, ("L40S", 1, 48), 1.80),
    ("l40sx4", "4x Nvidia L40S", 48, 382, 3200, ("L40S", 4, 48), 8.30),
    ("l40sx8", "8x Nvidia L40S", 192, 1534, 6500, ("L40S", 8, 48), 23.50),
    ("a10g-small", "Nvidia A10G - small", 4, 15, 110, ("A10G", 1, 24), 1.00),
    ("a10g-large", "Nvidia A10G - large", 12, 46, 200, ("A10G", 1, 24), 1.50),
    ("a10g-largex2", "2x Nvidia A10G - large", 24, 92, 1000, ("A10G", 2, 24), 3.00),
    ("a10g-largex4", "4x Nvidia A10G - large", 48, 184, 2000, ("A10G", 4, 24), 5.00),
    ("a100-large", "Nvidia A100 - large", 12, 142, 1000, ("A100", 1, 80), 2.50),
    ("a100x4", "4x Nvidia A100", 48, 568, 4000, ("A100", 4, 80), 10.00),
    ("a100x8", "8x Nvidia A100", 96, 1136, 8000, ("A100", 8, 80), 20.00),
    ("h200", "Nvidia H200", 23, 256, 2000, ("H200", 1, 141), 5.00),
    ("h200x2", "2x Nvidia H200", 46, 512, 4000, ("H200", 2, 141), 10.00),
    ("h200x4", "4x Nvidia H200", 92, 1024, 8000, ("H200", 4, 141), 20.00),
    ("h200x8", "8x Nvidia H200", 184, 2048, 16000, ("H200", 8, 141), 40.00),
)
OFFLINE_PRICES: dict[str, float] = {row[0]: row[-1] for row in FLAVORS}
_PER_HOUR = {"second": 3600.0, "minute": 60.0, "hour": 1.0}


def hourly_price(flavor: str, api: HfApi | None = None) -> float:
    """USD per hour of `flavor`: the Hub's price list when `api` answers, else the offline table.

    A Hub that answers is the truth even when it does not list the flavor (it would refuse the job too);
    a Hub that cannot be reached falls back to the table, so offline estimates keep working.
    """
    listed = _listed_prices(api) if api is not None else None
    prices = OFFLINE_PRICES if listed is None else listed
    if flavor not in prices:
        known = ", ".join(sorted(prices))
        raise BackendError(f"no price known for flavor {flavor}; choose one of: {known}")
    return prices[flavor]


def worst_case_cost(flavor: str, seconds: float, api: HfApi | None = None) -> float:
    """What `seconds` of `flavor` costs at most, in USD (a job is billed for the time it runs)."""
    return max(0.0, seconds) * hourly_price(flavor, api) / 3600


def _listed_prices(api: HfApi) -> dict[str, float] | None:
    """The Hub's flavors and hourly prices, or None when the Hub cannot be asked (offline, down)."""
    try:
        rows = api.list_jobs_hardware()
    except Exception:  # noqa: BLE001 - any failure to ask means: use the offline table
        return None
    prices = {}
    for row in rows:
        factor = _PER_HOUR.get(str(row.unit_label).lower())
        if factor is not None:
            prices[row.name] = float(row.unit_cost_usd) * factor
    return prices
