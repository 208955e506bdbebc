"""The PX4 bridge's logic per vehicle, without ROS: take off, fly each slot, tell when it is down, land.

`VehicleLink` follows PX4 v1.16's offboard sequence (docs/px4.md): wait for the
vehicle's status and a valid local position; stream setpoints (hold where it
stands) for `stream_before_offboard_s`; ask for offboard (DO_SET_MODE 176, 1, 6),
then arm (400), each until PX4 acks ACCEPTED (asked again every RETRY_S, each
answer logged with PX4's result name); confirm armed in offboard (nav_state 14);
climb to the scenario's start position and hold it for SETTLE_S; then it is
ready. Each take-off state says what it waits for (`waiting_for`), and the
take-off fails, naming the vehicle and that, after `takeoff_timeout_s`.
Each slot's MOVE becomes a trajectory streamed as position + feed-forward
velocity (the kinematic path of the slot's acceleration, in the vehicle's NED
frame). A vehicle is down when nothing of it (vehicle_status, 2 Hz, nor
vehicle_local_position) arrives for `lease_s`, or, once it flies, it reports
disarmed, termination, failsafe or a failure-detector bit. At the end of the
episode every vehicle still armed and not terminated lands (NAV_LAND, until it
disarms) or holds (PX4's Hold mode), and the link says when it has.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from uav_mec_nodes.graph import contract as c
from uav_mec_nodes.errors import PlantError, UserInputError
from uav_mec_nodes.px4 import frames

ACCEPTED = 0
RETRY_S = 1.0            # a command not (yet) accepted is sent again after this long
READY_TOLERANCE_M = 1.0  # the climb is done within this distance of the start point ...
READY_SPEED_MPS = 0.5    # ... and below this speed ...
SETTLE_S = 1.0           # ... held for this long: slot 0 starts from the start point, not on the way
CONFIRM_S = 3.0          # after an accepted arm, PX4 must say armed in offboard within this long
CLIMB_MPS = 1.0          # the automatic take-off time-out allows a climb this slow
LAND_MPS = 0.7           # the automatic end time-out allows a descent this slow (MPC_LAND_SPEED)
END_MARGIN_S = 30.0
TAKEOFF_MARGIN_S = 60.0
END_COMMANDS = {'land': (c.PX4_CMD_NAV_LAND, 0.0, 0.0, 0.0),
                'hold': (c.PX4_CMD_DO_SET_MODE, 1.0, float(c.PX4_MODE_AUTO), float(c.PX4_SUBMODE_AUTO_LOITER))}
COMMAND_NAMES = {c.PX4_CMD_DO_SET_MODE: 'DO_SET_MODE', c.PX4_CMD_ARM_DISARM: 'ARM_DISARM',
                 c.PX4_CMD_NAV_LAND: 'NAV_LAND', c.PX4_CMD_DO_FLIGHTTERMINATION: 'DO_FLIGHTTERMINATION',
                 c.PX4_CMD_INJECT_FAILURE: 'INJECT_FAILURE'}
Command = Tuple[int, float, float, float]   # VehicleCommand: command, param1, param2, param3


class TakeoffTimeout(PlantError):
    """A vehicle did not get to its start point in time: what it waited for, and whom."""


@dataclass
class Status:
    """What the bridge keeps of a VehicleStatus."""
    received: float            # when (monotonic) [s]
    arming_state: int
    nav_state: int
    failsafe: bool
    failure_detector_status: int


class CommandExchange:
    """One VehicleCommand until PX4 accepts it: sent, sent again every RETRY_S, each answer kept."""

    def __init__(self, name: str, command: Command):
        self.name, self.command = name, command
        self.sent_at: Optional[float] = None
        self.result: Optional[int] = None     # PX4's last answer
        self.accepted = False

    def due(self, now: float) -> bool:
        return not self.accepted and (self.sent_at is None or now - self.sent_at >= RETRY_S)

    def on_ack(self, result: int) -> None:
        self.result, self.accepted = result, result == ACCEPTED

    @property
    def waiting_for(self) -> str:
        what = f'PX4 to accept {self.name} ({COMMAND_NAMES.get(self.command[0], self.command[0])})'
        if self.sent_at is None:
            return what
        if self.result is None:
            return f'{what}: no ack yet'
        return f'{what}: answered {c.px4_result_name(self.result)}, asking again every {RETRY_S:g} s'


class VehicleLink:
    """One vehicle: uav_id j of the graph, PX4 instance with MAV_SYS_ID sys_id, home in the world frame."""

    def __init__(self, uav_id: int, sys_id: int, home_world, start_world, lease_s: float,
                 stream_before_offboard_s: float = 1.0, takeoff_timeout_s: float = 0.0):
        self.uav_id, self.sys_id = uav_id, sys_id
        self.home = np.asarray(home_world, float)
        self.start = np.asarray(start_world, float)
        self.lease_s = lease_s
        self.stream_before_offboard_s = stream_before_offboard_s
        climb_m = float(np.linalg.norm(self.start - self.home))
        self.takeoff_timeout_s = takeoff_timeout_s or climb_m / CLIMB_MPS + TAKEOFF_MARGIN_S
        self.phase = 'wait'        # wait -> stream -> offboard -> arm -> confirm -> climb -> ready -> end -> ended
        self.phase_since: Optional[float] = None
        self.created: Optional[float] = None
        self.exchange: Optional[CommandExchange] = None
        self.position_ned = np.zeros(3)
        self.velocity_ned = np.zeros(3)
        self.have_position = False
        self.position_valid = False
        self.last_heard: Optional[float] = None
        self.status: Optional[Status] = None
        self.down_reason: Optional[str] = None
        self.down_silent = False   # down because it went quiet (it may still fly: it is held, then landed)
        self.trajectory: Optional[Tuple[float, np.ndarray, np.ndarray, np.ndarray, float]] = None
        self.holding = False
        self.hold_ned = np.zeros(3)   # where it stands, until PX4 says so
        self.settled_since: Optional[float] = None
        self.end_action: Optional[str] = None
        self.end_deadline: Optional[float] = None
        self.end_note = ''            # how its end went, once it has

    # --- what PX4 says ---------------------------------------------------------------------
    def on_local_position(self, now: float, position_ned, velocity_ned, valid: bool = True) -> None:
        """A VehicleLocalPosition; an invalid one (xy/z/v flags false) proves life but moves nothing."""
        self.last_heard = now
        self.position_valid = bool(valid)
        if not valid:
            return
        self.position_ned = np.asarray(position_ned, float)
        self.velocity_ned = np.asarray(velocity_ned, float)
        if not self.have_position:
            self.hold_ned = self.position_ned.copy()   # until it climbs: hold where it stands
            self.have_position = True

    def on_status(self, status: Status) -> None:
        self.status = status
        self.last_heard = status.received

    def on_ack(self, now: float, command: int, result: int) -> Optional[str]:
        """Take PX4's answer to the command in flight; a line to log if it was not ACCEPTED."""
        x = self.exchange
        if x is None or command != x.command[0]:
            return None
        first_answer = x.result != result
        x.on_ack(result)
        if x.accepted:
            return None
        return (f'{x.name}: PX4 answered {c.px4_result_name(result)}; asking again every {RETRY_S:g} s'
                if first_answer else None)

    # --- take-off ------------------------------------------------------------------------------
    def _advance(self, now: float, phase: str) -> None:
        self.phase, self.phase_since = phase, now
        self.exchange = {'offboard': CommandExchange('offboard', (c.PX4_CMD_DO_SET_MODE, 1.0,
                                                                  float(c.PX4_MODE_OFFBOARD), 0.0)),
                         'arm': CommandExchange('arming', (c.PX4_CMD_ARM_DISARM, 1.0, 0.0, 0.0)),
                         'end': (CommandExchange(self.end_action, END_COMMANDS[self.end_action])
                                 if self.end_action else None)}.get(phase)

    def tick(self, now: float) -> List[Command]:
        """VehicleCommands to send now; moves the take-off (or the end) on. Raises TakeoffTimeout."""
        if self.phase_since is None:
            self.created = self.phase_since = now
        s = self.status
        if self.phase == 'wait' and s is not None and self.have_position and self.position_valid:
            self._advance(now, 'stream')
        if self.phase == 'stream' and now - self.phase_since >= self.stream_before_offboard_s:
            self._advance(now, 'offboard')
        if self.phase in ('offboard', 'arm', 'end') and self.exchange.accepted:
            self._advance(now, {'offboard': 'arm', 'arm': 'confirm', 'end': 'ending'}[self.phase])
        if self.phase == 'confirm':
            if s is not None and s.arming_state == c.PX4_ARMED and s.nav_state == c.PX4_NAV_OFFBOARD:
                self._advance(now, 'climb')
            elif now - self.phase_since > CONFIRM_S:   # accepted, then not so (auto-disarmed): again
                self._advance(now, 'offboard')
        if self.phase == 'climb':
            near = np.linalg.norm(self.position_ned - self.start_ned) <= READY_TOLERANCE_M and \
                np.linalg.norm(self.velocity_ned) <= READY_SPEED_MPS
            self.settled_since = (self.settled_since or now) if near else None
            if near and now - self.settled_since >= SETTLE_S:
                self._advance(now, 'ready')
        if self.phase == 'ending':
            self._check_end(now)
        if self.phase in ('wait', 'stream', 'offboard', 'arm', 'confirm', 'climb') and self.down_reason is None \
                and now - self.created > self.takeoff_timeout_s:
            raise TakeoffTimeout(f'UAV {self.uav_id} (MAV_SYS_ID {self.sys_id}): take-off timed out after '
                                 f'{self.takeoff_timeout_s:.0f} s waiting for {self.waiting_for}')
        x = self.exchange
        if self.phase in ('offboard', 'arm', 'end') and x.due(now):
            x.sent_at = now
            return [x.command]
        return []

    @property
    def waiting_for(self) -> str:
        """What the vehicle's take-off (or end) waits for now, in words."""
        if self.phase == 'wait':
            if self.status is None:
                return 'its first vehicle_status (is the agent running, and PX4 on this run\'s domain?)'
            return 'a valid local position (xy_valid, z_valid, v_xy_valid, v_z_valid)'
        if self.phase == 'stream':
            return f'the setpoint stream to run {self.stream_before_offboard_s:g} s before asking for offboard'
        if self.phase in ('offboard', 'arm', 'end'):
            return self.exchange.waiting_for
        if self.phase == 'confirm':
            return 'vehicle_status to say armed (arming_state 2) in offboard (nav_state 14)'
        if self.phase == 'climb':
            away = np.linalg.norm(self.position_ned - self.start_ned)
            return f'the climb to its start point ({away:.1f} m away, to hold within {READY_TOLERANCE_M:g} m)'
        if self.phase == 'ending':
            if self.end_action == 'land':
                return f'vehicle_status to say disarmed (landing: {-self.position_ned[2]:.0f} m above its home)'
            return 'vehicle_status to say Hold (nav_state 4)'
        return ''

    @property
    def start_ned(self) -> np.ndarray:
        return frames.world_to_local_ned(self.start, self.home)

    @property
    def ready(self) -> bool:
        return self.phase == 'ready'

    # --- flying ----------------------------------------------------------------------------------
    def fly(self, now: float, slot_s_wall: float, accel_world, start_world, start_velocity_world) -> None:
        """Fly one slot: the kinematic path of this acceleration from the slot's start state."""
        self.trajectory = (now, frames.world_to_local_ned(start_world, self.home),
                           frames.enu_to_ned(start_velocity_world), frames.enu_to_ned(accel_world), slot_s_wall)

    def hold(self) -> None:
        """Hover where it is (a UAV the graph counts as down while the vehicle may be fine)."""
        if not self.holding:
            self.trajectory = None
            self.holding = True
            self.hold_ned = self.position_ned.copy()

    @property
    def streaming(self) -> bool:
        """Whether the offboard stream goes to it: from take-off until PX4 took the end command, and not
        to a vehicle PX4 itself reported down (one gone quiet is held, in case it only lost its link)."""
        if self.phase in ('ending', 'ended') or (self.down_reason is not None and not self.down_silent):
            return False
        return self.phase != 'wait'

    def setpoint(self, now: float) -> Tuple[np.ndarray, np.ndarray]:
        """(position, feed-forward velocity) in NED to stream now."""
        if self.trajectory is not None and not self.holding:   # the slot's path, then its end point
            t0, p0, v0, a, duration = self.trajectory
            tau = min(max(now - t0, 0.0), duration)
            return p0 + v0 * tau + 0.5 * a * tau ** 2, v0 + a * tau
        if self.phase in ('climb', 'ready') and not self.holding:
            return self.start_ned, np.zeros(3)   # up to the start position, and wait there for slot 0
        return self.hold_ned, np.zeros(3)        # before take-off: where it stands

    # --- is it down? ----------------------------------------------------------------------
    def check(self, now: float) -> Optional[str]:
        """The reason the vehicle is down (first found, then kept), or None."""
        if self.down_reason is None and self.phase not in ('end', 'ending', 'ended'):
            self.down_reason = self._why_down(now)
        return self.down_reason

    def _why_down(self, now: float) -> Optional[str]:
        if self.last_heard is not None and now - self.last_heard > self.lease_s:
            self.down_silent = True
            return f'nothing from it (vehicle_status, vehicle_local_position) for {now - self.last_heard:.1f} s ' \
                   f'(lease {self.lease_s:g} s)'
        s = self.status
        if s is None or self.phase not in ('climb', 'ready'):   # only a flying vehicle can fail in flight
            return None
        if s.failure_detector_status:
            return f'failure detector bits {s.failure_detector_status:#x}'
        if s.nav_state in c.PX4_NAV_STATES_DOWN:
            return f'nav_state {s.nav_state} (termination)'
        if s.failsafe:
            return f'failsafe (nav_state {s.nav_state})'
        if s.arming_state != c.PX4_ARMED:
            return f'disarmed (arming_state {s.arming_state})'
        return None

    def state_world(self) -> Tuple[np.ndarray, np.ndarray]:
        """(position, velocity) in the graph's world frame (ENU)."""
        return frames.local_ned_to_world(self.position_ned, self.home), frames.ned_to_enu(self.velocity_ned)

    # --- the end --------------------------------------------------------------------------------
    def finish(self, now: float, action: str, timeout_s: float = 0.0) -> None:
        """The episode is over: land or hold it, if it still flies (armed, not terminated)."""
        s = self.status
        flying = s is not None and s.arming_state == c.PX4_ARMED and s.nav_state != c.PX4_NAV_TERMINATION
        if not flying or self.phase == 'wait':
            self.phase = 'ended'
            self.end_note = 'not flying: nothing to do' if s is not None else 'never heard of: nothing to do'
            return
        height = max(float(-(self.position_ned[2])), 0.0)
        self.end_deadline = now + (timeout_s or height / LAND_MPS + END_MARGIN_S)
        self.end_action = action
        self._advance(now, 'end')

    def _check_end(self, now: float) -> None:
        s = self.status
        if self.end_action == 'land' and s.arming_state != c.PX4_ARMED:
            self.phase, self.end_note = 'ended', 'landed and disarmed'
        elif self.end_action == 'hold' and s.nav_state == c.PX4_NAV_LOITER:
            self.phase, self.end_note = 'ended', 'holding in PX4\'s Hold mode'

    def end_overdue(self, now: float) -> Optional[str]:
        """A line naming the vehicle and what it still waits for, once its end takes too long."""
        if self.phase in ('end', 'ending') and now > self.end_deadline:
            self.end_note = f'not confirmed: waited for {self.waiting_for}'
            self.phase = 'ended'
            return f'UAV {self.uav_id} (MAV_SYS_ID {self.sys_id}): {self.end_action} {self.end_note}'
        return None

    @property
    def ended(self) -> bool:
        return self.phase == 'ended'


def vehicle_ids(num_uavs: int, namespaces: str = '', sys_ids: str = '') -> List[Tuple[str, int]]:
    """(PX4 namespace, MAV_SYS_ID) of each UAV: the given comma lists, or px4_<j+1> and j+2 (PX4's SITL)."""
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
    start = np.asarray(start_world, float)
    if not text.strip():
        return start * [1.0, 1.0, 0.0]
    try:
        homes = np.array([[float(v) for v in item.split(',')] for item in text.split(';') if item.strip()])
    except ValueError:
        homes = np.zeros((0, 0))
    if homes.shape != start.shape or not np.all(np.isfinite(homes)):
        raise UserInputError(f'px4_homes: expected {len(start)} points "x,y,z;..." in metres, got {text!r}')
    return homes
