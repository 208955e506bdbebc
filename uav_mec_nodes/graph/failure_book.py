"""What a node knows of UAV failures, from /failures events and lost leases (no ROS inside)."""
from __future__ import annotations

import numpy as np

from uav_mec_nodes.graph.contract import FAILURE_MODES, LOST_MODES
from uav_mec_nodes.model import failures


class FailureBook:
    """fail_slots and lost_slots as in model.failures, from the earliest word on each UAV.

    A failure reported for slot t (announced, silenced, killed, PX4's word) is s_j(t) = 0:
    its tasks of t migrate. A UAV the graph finds gone while slot t is awaited (its lease
    lapsed: frozen, cut off, crashed unannounced) is lost before t: slot t-1 was already
    accounted with it up and stands; it is down from the start of t on.
    """

    def __init__(self, num_uavs: int):
        self.fail_slots = np.full(num_uavs, failures.NEVER, dtype=np.int64)
        self.lost_slots = np.full(num_uavs, failures.NEVER, dtype=np.int64)

    def _down_from(self, uav: int) -> int:
        """The first slot the UAV is down at the start of, as far as the book knows."""
        return int(min(self.fail_slots[uav] + 1 if self.fail_slots[uav] < failures.NEVER else failures.NEVER,
                       self.lost_slots[uav]))

    def fail_during(self, uav: int, slot: int) -> bool:
        """The UAV fails during `slot` (alive at its start). True if this is news."""
        if slot + 1 < self._down_from(uav):
            self.fail_slots[uav], self.lost_slots[uav] = slot, failures.NEVER
            return True
        return False

    def lost_before(self, uav: int, slot: int) -> bool:
        """The UAV is down at the start of `slot`, having served slot-1 (a lost lease, a UAV that never
        started). True if this is news; a failure already known for slot-1 stays as it is."""
        if slot < self._down_from(uav):
            self.lost_slots[uav] = slot
            return True
        return False

    def record(self, uav: int, slot: int, mode: int) -> bool:
        """A FailureEvent's word (its mode says which of the two its slot is). True if this is news."""
        lost = 0 <= mode < len(FAILURE_MODES) and FAILURE_MODES[mode] in LOST_MODES
        return self.lost_before(uav, slot) if lost else self.fail_during(uav, slot)

    def alive_start(self, slot: int) -> np.ndarray:
        return failures.alive_at_start(self.fail_slots, slot, self.lost_slots)

    def alive_end(self, slot: int) -> np.ndarray:
        return failures.alive_at_end(self.fail_slots, slot, self.lost_slots)


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
