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


class LeaseWatch:
    """What the UAVs' heartbeats say, and how long to wait for a UAV's message of a slot.

    A UAV holds its lease while a heartbeat of its own (one the node's guard believed)
    is at most `lease_s` old. Holding it, it is late, not down: it is waited for (up to
    `hung_s`, a node whose heartbeat thread runs while its callbacks hang). One without a
    lease gets one more lease to come back (a starved process), and at slot 0 one never
    heard of gets the start-up wait. So a UAV is either waited for or declared down by its
    lease; what it said in an earlier slot is never used for this one.
    """

    def __init__(self, num_uavs: int, lease_s: float, startup_wait_s: float):
        self.last_heard = np.full(num_uavs, -np.inf)   # [s] monotonic time of the latest heartbeat
        self.lease_s = lease_s
        self.startup_wait_s = startup_wait_s
        self.hung_s = max(10.0, 20.0 * lease_s)

    def heard(self, uav: int, now: float) -> None:
        self.last_heard[uav] = max(self.last_heard[uav], now)

    def held(self, uav: int, now: float) -> bool:
        return now - self.last_heard[uav] <= self.lease_s

    def patience_s(self, uav: int, slot: int, now: float) -> float:
        if self.held(uav, now):
            return self.hung_s
        if slot == 0 and self.last_heard[uav] == -np.inf:
            return max(self.startup_wait_s, self.lease_s)
        return self.lease_s
