"""What a customer may reach on the platform: three flags, always written together.

Flags are never toggled one by one: every flow that switches access computes all three from the
arrears stage and the standby state (`policy.arrears.flags_for`, from the ladder's states) and
writes them together, so two flows cannot leave a half-switched platform.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Flags:
    admin_enabled: bool
    platform_enabled: bool
    operations_enabled: bool

    def as_dict(self) -> dict[str, bool]:
        return asdict(self)
