"""The offline answer to `list_jobs_hardware()`: HF Jobs flavors with their prices.

Prices are the public hourly prices of https://huggingface.co/docs/hub/jobs-pricing as known when this
table was written (CPU rows read from that page; GPU rows from the same list), turned into the API's
micro-dollars per minute. They are an offline stand-in for cost estimates in tests and the playground,
not a quote: online, the Hub's own /api/jobs/hardware is the truth. Flavors the table does not know
(for example `rtx-pro-6000`) are refused by the local Hub like an unknown flavor, so a caller that
estimates costs fails closed. Put a JSON list in ROOT/hardware.json to use another table.
"""

from __future__ import annotations

from pathlib import Path

from bot.hub.store import read_json

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
