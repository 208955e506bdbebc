"""What a node knows of UAV failures, from /failures events and lost leases (no ROS inside)."""
from __future__ import annotations

import numpy as np

from uav_mec_nodes.model import failures


class FailureBook:
    """fail_slots as in model.failures: s_j(t) = 0 from the slot t of the earliest report on."""

    def __init__(self, num_uavs: int):
        self.fail_slots = np.full(num_uavs, failures.NEVER, dtype=np.int64)

    def fail_during(self, uav: int, slot: int) -> bool:
        """The UAV fails during `slot` (alive at its start). True if this is news."""
        if slot < self.fail_slots[uav]:
            self.fail_slots[uav] = slot
            return True
        return False

    def down_before(self, uav: int, slot: int) -> bool:
        """The UAV is already down at the start of `slot` (a lost lease, a UAV that never started)."""
        return self.fail_during(uav, slot - 1)

    def alive_start(self, slot: int) -> np.ndarray:
        return failures.alive_at_start(self.fail_slots, slot)

    def alive_end(self, slot: int) -> np.ndarray:
        return failures.alive_at_end(self.fail_slots, slot)
