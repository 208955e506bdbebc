"""The PX4 bridge's logic per vehicle, without ROS: take off, fly each slot, tell when it is down.

`VehicleLink` follows PX4's offboard sequence (../shared/px4/README.md): stream
setpoints (hold under the start position) for `stream_before_offboard_s`, ask for
offboard (DO_SET_MODE 176, 1, 6), then arm (400), each until PX4 acks ACCEPTED
(retried on a rejection); climb to the scenario's start position; then it is
ready. Each slot's MOVE becomes a trajectory streamed as position + feed-forward
velocity (the kinematic path of the slot's acceleration, in the vehicle's NED
frame). The vehicle is down when its vehicle_status stops for longer than the
lease, or, once it flies, it reports disarmed, termination, failsafe or a
failure-detector bit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from uav_mec_nodes import contract as c
from uav_mec_nodes.px4 import frames

ACCEPTED = 0
RETRY_S = 0.5            # a command without an accepting ack is sent again after this long
READY_TOLERANCE_M = 1.0  # the climb to the start position is done within this distance


@dataclass
class Status:
    """What the bridge keeps of a VehicleStatus."""
    received: float            # when (monotonic) [s]
    arming_state: int
    nav_state: int
    failsafe: bool
    failure_detector_status: int


class VehicleLink:
    """One vehicle: uav_id j of the graph, PX4 instance with MAV_SYS_ID sys_id, home in the world frame."""

    def __init__(self, uav_id: int, sys_id: int, home_world, start_world, lease_s: float,
                 stream_before_offboard_s: float = 1.0):
        self.uav_id, self.sys_id = uav_id, sys_id
        self.home = np.asarray(home_world, float)
        self.start = np.asarray(start_world, float)
        self.lease_s = lease_s
        self.stream_before_offboard_s = stream_before_offboard_s
        self.phase = 'stream'          # stream -> offboard -> arm -> climb -> ready
        self.phase_since: Optional[float] = None
        self.sent_at: Optional[float] = None
        self.position_ned = np.zeros(3)
        self.velocity_ned = np.zeros(3)
        self.have_position = False
        self.status: Optional[Status] = None
        self.down_reason: Optional[str] = None
        self.trajectory: Optional[Tuple[float, np.ndarray, np.ndarray, np.ndarray, float]] = None
        self.holding = False
        self.hold_ned = np.zeros(3)   # its home, until PX4 says where it stands

    # --- what PX4 says ---------------------------------------------------------------------
    def on_local_position(self, position_ned, velocity_ned) -> None:
        self.position_ned = np.asarray(position_ned, float)
        self.velocity_ned = np.asarray(velocity_ned, float)
        if not self.have_position:
            self.hold_ned = self.position_ned.copy()   # until it climbs: hold where it stands
            self.have_position = True

    def on_status(self, status: Status) -> None:
        self.status = status

    def on_ack(self, now: float, command: int, result: int) -> None:
        expected = {'offboard': c.PX4_CMD_DO_SET_MODE, 'arm': c.PX4_CMD_ARM_DISARM}.get(self.phase)
        if command != expected:
            return
        if result == ACCEPTED:
            self._advance(now, 'arm' if self.phase == 'offboard' else 'climb')
        else:
            self.sent_at = None        # rejected: ask again at the next tick

    def _advance(self, now: float, phase: str) -> None:
        self.phase, self.phase_since, self.sent_at = phase, now, None

    # --- what to send ------------------------------------------------------------------------
    def tick(self, now: float) -> List[Tuple[int, float, float]]:
        """VehicleCommands (command, param1, param2) to send now for the take-off sequence."""
        if self.phase_since is None:
            self.phase_since = now
        if self.phase == 'stream' and now - self.phase_since >= self.stream_before_offboard_s:
            self._advance(now, 'offboard')
        if self.phase == 'climb':
            if np.linalg.norm(self.position_ned - self.start_ned) <= READY_TOLERANCE_M:
                self._advance(now, 'ready')
            return []
        command = {'offboard': (c.PX4_CMD_DO_SET_MODE, 1.0, float(c.PX4_MODE_OFFBOARD)),
                   'arm': (c.PX4_CMD_ARM_DISARM, 1.0, 0.0)}.get(self.phase)
        if command is None or (self.sent_at is not None and now - self.sent_at < RETRY_S):
            return []
        self.sent_at = now
        return [command]

    @property
    def start_ned(self) -> np.ndarray:
        return frames.world_to_local_ned(self.start, self.home)

    @property
    def ready(self) -> bool:
        return self.phase == 'ready'

    def fly(self, now: float, slot_s_wall: float, accel_world, start_world, start_velocity_world) -> None:
        """Fly one slot: the kinematic path of this acceleration from the slot's start state."""
        self.trajectory = (now, frames.world_to_local_ned(start_world, self.home),
                           frames.enu_to_ned(start_velocity_world), frames.enu_to_ned(accel_world), slot_s_wall)

    def hold(self) -> None:
        """Hover where it is (a UAV the graph counts as down while the vehicle is fine)."""
        self.trajectory = None
        self.holding = True
        self.hold_ned = self.position_ned.copy()

    def setpoint(self, now: float) -> Tuple[np.ndarray, np.ndarray]:
        """(position, feed-forward velocity) in NED to stream now."""
        if self.trajectory is not None:   # the slot's path, then its end point until the next slot
            t0, p0, v0, a, duration = self.trajectory
            tau = min(max(now - t0, 0.0), duration)
            return p0 + v0 * tau + 0.5 * a * tau ** 2, v0 + a * tau
        if self.phase in ('climb', 'ready') and not self.holding:
            return self.start_ned, np.zeros(3)   # up to the start position, and wait there for slot 0
        return self.hold_ned, np.zeros(3)        # before take-off: where it stands

    # --- is it down? ----------------------------------------------------------------------
    def check(self, now: float, should_fly: bool) -> Optional[str]:
        """The reason the vehicle is down (first found, then kept), or None."""
        if self.down_reason is None:
            self.down_reason = self._why_down(now, should_fly)
        return self.down_reason

    def _why_down(self, now: float, should_fly: bool) -> Optional[str]:
        s = self.status
        if s is None:
            return None if not should_fly else f'no vehicle_status from MAV_SYS_ID {self.sys_id}'
        if now - s.received > self.lease_s:
            return f'vehicle_status silent for {now - s.received:.1f} s (lease {self.lease_s} s)'
        if not should_fly:
            return None
        if s.failure_detector_status:
            return f'failure detector bits {s.failure_detector_status:#x}'
        if s.nav_state in c.PX4_NAV_STATES_DOWN:
            return f'nav_state {s.nav_state} (termination)'
        if s.failsafe:
            return 'failsafe'
        if s.arming_state != c.PX4_ARMED:
            return f'disarmed (arming_state {s.arming_state})'
        return None

    def state_world(self) -> Tuple[np.ndarray, np.ndarray]:
        """(position, velocity) in the graph's world frame (ENU)."""
        return frames.local_ned_to_world(self.position_ned, self.home), frames.ned_to_enu(self.velocity_ned)


def vehicle_ids(num_uavs: int, namespaces: str = '', sys_ids: str = '') -> List[Tuple[str, int]]:
    """(PX4 namespace, MAV_SYS_ID) of each UAV: the given comma lists, or px4_<j+1> and j+2 (PX4's SITL)."""
    from uav_mec_nodes.errors import UserInputError
    names = [s.strip().strip('/') for s in namespaces.split(',') if s.strip()] or \
        [c.px4_namespace(j) for j in range(num_uavs)]
    try:
        ids = [int(s) for s in sys_ids.split(',') if s.strip()] or [c.px4_sys_id(j) for j in range(num_uavs)]
    except ValueError:
        raise UserInputError(f'px4_sys_ids: expected integers separated by commas, got {sys_ids!r}') from None
    if len(names) != num_uavs or len(ids) != num_uavs:
        raise UserInputError(f'px4_namespaces, px4_sys_ids: one per UAV ({num_uavs}), got {len(names)} and {len(ids)}')
    if len(set(names)) != num_uavs or len(set(ids)) != num_uavs or not all(1 <= i <= 255 for i in ids):
        raise UserInputError(f'px4_namespaces, px4_sys_ids: distinct, MAV_SYS_ID in [1, 255]; got {names}, {ids}')
    return list(zip(names, ids))


def parse_homes(text: str, start_world) -> np.ndarray:
    """Each vehicle's home in the world frame: "x,y,z;..." [m, ENU], or on the ground under its start."""
    from uav_mec_nodes.errors import UserInputError
    start = np.asarray(start_world, float)
    if not text.strip():
        return start * [1.0, 1.0, 0.0]
    try:
        homes = np.array([[float(v) for v in item.split(',')] for item in text.split(';') if item.strip()])
    except ValueError:
        homes = np.zeros((0, 0))
    if homes.shape != start.shape or not np.all(np.isfinite(homes)):
        raise UserInputError(f'home_positions: expected {len(start)} points "x,y,z;..." in metres, got {text!r}')
    return homes
