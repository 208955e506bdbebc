"""A PX4 stand-in vehicle, without ROS: PX4 v1.16's offboard state machine and a simple multicopter.

What it follows (../shared/px4/README.md):
- offboard is accepted (DO_SET_MODE 176, param1 1, param2 6) only after the
  OffboardControlMode stream has run for `stream_before_offboard_s` at more than
  2 Hz, and arming (400) only while the stream runs (the stand-in flies offboard
  only); a command is taken only with its MAV_SYS_ID or 0 as target_system (and
  target_component 0 or 1): one for another vehicle is not answered; every
  command it takes is answered with an ack;
- the stream stopping for COM_OF_LOSS_T (`offboard_loss_s`) leaves offboard for
  the failsafe action `loss_action` (hold: loiter, or land);
- VEHICLE_CMD_INJECT_FAILURE (420) with unit motor (101), type off (1): the motors
  stop, the vehicle falls, failure_detector_status gets the motor bit (128) and
  failsafe is set; on the ground it disarms in termination. Other failure units
  are answered UNSUPPORTED (a simulator may not implement them);
- NED frame (origin at its home), microsecond timestamps since its boot.

Dynamics: a position controller towards the setpoint with the setpoint's
feed-forward velocity, speed and acceleration within v_max and a_max; free fall
(g) without motors; landing at 1 m/s.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from uav_mec_nodes import contract as c

G = 9.81
ACCEPTED, TEMPORARILY_REJECTED, DENIED, UNSUPPORTED = 0, 1, 2, 3
DISARMED, ARMED = 1, 2
NAV_LOITER, NAV_TERMINATION, NAV_OFFBOARD, NAV_LAND = 4, 13, 14, 18
MOTOR_FAILURE_BIT = 128


@dataclass
class VehicleParams:
    sys_id: int = 1                      # MAV_SYS_ID
    v_max_mps: float = 20.0
    a_max_mps2: float = 5.0
    position_gain: float = 1.5           # [1/s] of the position controller
    offboard_loss_s: float = 1.0         # COM_OF_LOSS_T
    loss_action: str = 'hold'            # COM_OBL_RC_ACT: hold | land
    stream_before_offboard_s: float = 1.0
    failure_injection: bool = True       # SYS_FAILURE_EN
    land_speed_mps: float = 1.0


@dataclass
class Ack:
    command: int
    result: int
    target_system: int
    target_component: int


@dataclass
class Px4Vehicle:
    params: VehicleParams = field(default_factory=VehicleParams)
    position: np.ndarray = field(default_factory=lambda: np.zeros(3))   # NED [m], origin at home
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(3))   # NED [m/s]
    arming_state: int = DISARMED
    nav_state: int = NAV_LOITER
    failsafe: bool = False
    failure_detector_status: int = 0
    setpoint_position: Optional[np.ndarray] = None
    setpoint_velocity: Optional[np.ndarray] = None
    hold_position: Optional[np.ndarray] = None
    stream_since: Optional[float] = None     # start of the current unbroken OffboardControlMode stream [s]
    last_stream: Optional[float] = None      # its last message [s]
    motors_off: bool = False

    # --- inputs ---------------------------------------------------------------------------
    def on_offboard_control_mode(self, now: float) -> None:
        if self.last_stream is None or now - self.last_stream > 0.5:   # below 2 Hz: a new stream
            self.stream_since = now
        self.last_stream = now

    def on_setpoint(self, position, velocity) -> None:
        """A TrajectorySetpoint: NaN components are not controlled (kept from the hold point / zero)."""
        self.setpoint_position = np.asarray(position, float)
        self.setpoint_velocity = np.nan_to_num(np.asarray(velocity, float))

    def streaming(self, now: float) -> bool:
        return self.last_stream is not None and now - self.last_stream <= self.params.offboard_loss_s

    def on_command(self, now: float, command: int, param1: float, param2: float, target_system: int,
                   target_component: int, source_system: int = 255, source_component: int = 0) -> Optional[Ack]:
        """The ack to send, or None for a command addressed to another vehicle."""
        if target_system not in (0, self.params.sys_id) or target_component not in (0, 1):
            return None
        result = UNSUPPORTED
        if command == c.PX4_CMD_DO_SET_MODE:
            result = self._set_mode(now, int(round(param1)), int(round(param2)))
        elif command == c.PX4_CMD_ARM_DISARM:
            result = self._arm(now, param1 >= 0.5)
        elif command == c.PX4_CMD_NAV_LAND:
            result = self._enter(NAV_LAND) if self.arming_state == ARMED else DENIED
        elif command == c.PX4_CMD_INJECT_FAILURE:
            result = self._inject(int(round(param1)), int(round(param2)))
        return Ack(command, result, source_system, source_component)

    def _set_mode(self, now: float, base: int, custom: int) -> int:
        if base != 1 or custom != c.PX4_MODE_OFFBOARD:
            return UNSUPPORTED
        if self.motors_off or self.nav_state == NAV_TERMINATION:
            return DENIED
        stream_ok = self.streaming(now) and self.stream_since is not None and \
            now - self.stream_since >= self.params.stream_before_offboard_s and self.setpoint_position is not None
        if not stream_ok:
            return TEMPORARILY_REJECTED   # PX4 wants the stream running before it switches
        return self._enter(NAV_OFFBOARD)

    def _arm(self, now: float, arm: bool) -> int:
        if arm:
            if self.motors_off or self.nav_state == NAV_TERMINATION or not self.streaming(now):
                return DENIED   # the stand-in flies offboard only: no stream, nothing to fly
            self.arming_state = ARMED
            return ACCEPTED
        if self.on_ground():
            self.arming_state = DISARMED
            return ACCEPTED
        return DENIED   # PX4 refuses to disarm in flight without force

    def _inject(self, unit: int, kind: int) -> int:
        if not self.params.failure_injection:
            return DENIED
        if unit != c.PX4_FAILURE_UNIT_MOTOR or kind != c.PX4_FAILURE_TYPE_OFF:
            return UNSUPPORTED
        self.motors_off = True
        self.failure_detector_status |= MOTOR_FAILURE_BIT
        self.failsafe = True
        return ACCEPTED

    def _enter(self, nav_state: int) -> int:
        self.nav_state = nav_state
        self.hold_position = self.position.copy()
        return ACCEPTED

    # --- physics -------------------------------------------------------------------------------
    def on_ground(self) -> bool:
        return self.position[2] >= -1e-6

    def step(self, now: float, dt: float) -> None:
        p = self.params
        if self.nav_state == NAV_OFFBOARD and not self.streaming(now):
            self.failsafe = True   # offboard lost: the failsafe action
            self._enter(NAV_LAND if p.loss_action == 'land' else NAV_LOITER)
        if self.motors_off:
            accel = np.array([0.0, 0.0, G]) - 0.2 * self.velocity   # falling, a little drag
        elif self.arming_state != ARMED:
            accel = -self.velocity / dt if not self.on_ground() else np.zeros(3)
        elif self.nav_state == NAV_LAND:
            accel = self._track(self.hold_position * [1, 1, 0], np.array([0.0, 0.0, p.land_speed_mps]), dt,
                                vertical_speed=p.land_speed_mps)
        elif self.nav_state == NAV_OFFBOARD and self.setpoint_position is not None:
            target = np.where(np.isnan(self.setpoint_position), self.position, self.setpoint_position)
            accel = self._track(target, self.setpoint_velocity, dt)
        else:   # loiter: hold where it entered the mode (on the ground: stay there)
            target = self.hold_position if self.hold_position is not None else self.position
            accel = self._track(target, np.zeros(3), dt)
        self.velocity = self.velocity + accel * dt
        if not self.motors_off:
            speed = np.linalg.norm(self.velocity)
            if speed > p.v_max_mps:
                self.velocity *= p.v_max_mps / speed
        self.position = self.position + self.velocity * dt
        if self.on_ground() and self.position[2] > 0.0:   # the ground
            self.position[2] = 0.0
            self.velocity[:] = 0.0
            if self.motors_off:
                self.arming_state, self.nav_state = DISARMED, NAV_TERMINATION
            elif self.nav_state == NAV_LAND:
                self.arming_state = DISARMED

    def _track(self, target, feed_forward, dt: float, vertical_speed: Optional[float] = None) -> np.ndarray:
        """Acceleration of a P position controller with velocity feed-forward, within v_max and a_max."""
        p = self.params
        desired = np.asarray(feed_forward, float) + p.position_gain * (np.asarray(target, float) - self.position)
        if vertical_speed is not None:
            desired[2] = vertical_speed
        speed = np.linalg.norm(desired)
        if speed > p.v_max_mps:
            desired *= p.v_max_mps / speed
        accel = (desired - self.velocity) / max(dt, 1e-3)
        norm = np.linalg.norm(accel)
        return accel * min(1.0, p.a_max_mps2 / max(norm, 1e-12))
