"""What the emulated Mithril sells: instance types, regions and their spot market. Plain data, no state."""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class InstanceType:
    fid: str
    name: str
    gpu_type: str
    num_gpus: int
    gpu_memory_gb: int

    def to_api(self) -> dict[str, Any]:
        return {
            "fid": self.fid,
            "name": self.name,
            "num_cpus": 26 * self.num_gpus,
            "cpu_type": "Intel",
            "ram_gb": 225 * self.num_gpus,
            "num_gpus": self.num_gpus,
            "gpu_type": self.gpu_type,
            "gpu_memory_gb": self.gpu_memory_gb,
            "gpu_socket": "SXM4" if self.gpu_type == "A100" else "SXM5",
            "local_storage_gb": 1000 * self.num_gpus,
            "network_type": "InfiniBand" if self.num_gpus == 8 else None,
            "ib_count": 8 if self.num_gpus == 8 else 0,
            "bridge_count": 4 if self.num_gpus == 8 else 0,
            "hourly_price": 0.0,
        }


# Mithril's own fids and names (as seeded in the Flow SDK), so the SDK's built-in
# probes of H100/H200 ids meet types it knows.
CATALOG: tuple[InstanceType, ...] = (
    InstanceType("it_RrgkIZz6c9BZu5gi", "a100-80gb.sxm.1x", "A100", 1, 80),
    InstanceType("it_TiAPxzKNi4xO0IAr", "a100-80gb.sxm.2x", "A100", 2, 80),
    InstanceType("it_4TugeYWOov5FllEf", "a100-80gb.sxm.4x", "A100", 4, 80),
    InstanceType("it_Sg1nDx1I8NFep60J", "a100-80gb.sxm.8x", "A100", 8, 80),
    InstanceType("it_5ECSoHQjLBzrp5YM", "h100-80gb.sxm.8x", "H100", 8, 80),
    InstanceType("it_7RHoQUztab9lU9Ne", "h200.8x", "H200", 8, 141),
)

# Spot market per GPU-hour in cents, per region. The other regions the Flow SDK knows sell no GPUs,
# like the regions a volume can land in when nobody names one (the SDK's default region among them).
GPU_REGIONS: dict[str, dict[str, int]] = {
    "us-central1-a": {"A100": 200, "H100": 300, "H200": 400},
    "eu-central1-a": {"A100": 220, "H100": 320, "H200": 420},
}


def _sdk_regions() -> list[str]:
    """Mithril's regions as the Flow SDK ships them (resources/data/regions.json): one list, not two."""
    from flow.resources.loader import get_valid_regions

    return list(get_valid_regions("mithril"))


STORAGE_ONLY_REGIONS: tuple[str, ...] = tuple(r for r in _sdk_regions() if r not in GPU_REGIONS)
REGIONS: tuple[str, ...] = (*GPU_REGIONS, *STORAGE_ONLY_REGIONS)
RESERVED_MARKUP = 2  # reserved price = spot price x this


def opening_market() -> dict[tuple[str, str], int]:
    """The spot market per (instance type id, region) in cents per instance-hour, before anyone moves it."""
    return {(it.fid, region): per_gpu[it.gpu_type] * it.num_gpus
            for region, per_gpu in GPU_REGIONS.items() for it in CATALOG}
