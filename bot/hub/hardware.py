"""The offline answer to `list_jobs_hardware()`: HF Jobs flavors with their prices.

The table is `runners.prices.FLAVORS` (where its prices come from is written there), one table for the
bot's offline cost estimates and this Hub; its hourly prices are turned into the API's micro-dollars per
minute. Online, the Hub's own /api/jobs/hardware is the truth. Flavors the table does not know (for
example `rtx-pro-6000`) are refused by the local Hub like an unknown flavor, so a caller that estimates
costs fails closed. Put a JSON list in ROOT/hardware.json to use another table.
"""

from __future__ import annotations

from pathlib import Path

from bot.hub.store import read_json
from runners.prices import FLAVORS


def _entry(name: str, pretty: str, cpu: int, ram: int, disk: int, gpu, per_hour: float) -> dict:
    """One row as GET /api/jobs/hardware writes it (parsed by `JobHardwareInfo`)."""
    micro = round(per_hour * 1_000_000 / 60)
    accelerator = None
    if gpu:
        model, count, vram = gpu
        accelerator = {"type": "gpu", "model": model, "quantity": str(count), "vram": f"{vram * count} GB",
                       "manufacturer": "Nvidia"}
    return {"name": name, "prettyName": pretty, "cpu": f"{cpu} vCPU", "ram": f"{ram} GB",
            "ephemeralStorage": f"{disk} GB", "accelerator": accelerator, "unitCostMicroUSD": micro,
            "unitCostUSD": micro / 1_000_000, "unitLabel": "minute"}


def hardware(root: Path) -> list[dict]:
    override = read_json(Path(root) / "hardware.json")
    return override if isinstance(override, list) else [_entry(*row) for row in FLAVORS]
