"""What a customer may reach, as a function of the facts (DESIGN "Platform flags").

Flags are never toggled one by one: every flow that switches access computes all three from the
arrears stage and the standby state and writes them together, so two flows cannot leave a
half-switched platform.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum


class Stage(str, Enum):
    CURRENT = "current"
    ADMIN_DISABLED = "admin_disabled"
    PLATFORM_DISABLED = "platform_disabled"
    DATA_DELETED = "data_deleted"


@dataclass(frozen=True)
class Flags:
    admin_enabled: bool
    platform_enabled: bool
    operations_enabled: bool

    def as_dict(self) -> dict[str, bool]:
        return asdict(self)


def flags_for(stage: Stage | str, on_standby: bool) -> Flags:
    stage = Stage(stage)
    if stage is Stage.CURRENT:
        return Flags(True, True, not on_standby)
    if stage is Stage.ADMIN_DISABLED:
        return Flags(False, True, not on_standby)
    return Flags(False, False, False)
