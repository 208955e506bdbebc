"""A PX4 v1.16 multicopter as its ROS 2 interface shows it, without ROS: the stand-in's whole behaviour.

Each rule follows PX4 v1.16.0's source (file and function named where the rule
is; docs/px4.md has the table and the test of each):
- commands: Commander::handle_command (target check, DO_SET_MODE, ARM_DISARM,
  DO_FLIGHTTERMINATION, NAV_LAND, acks by answer_command) and
  UserModeIntention::change (any mode while disarmed; armed, only a mode that
  can run; never out of termination); failure injection by FailureInjector::update
  (motor unit only, no target check, ESC status blanked);
- the offboard signal: OffboardChecks::checkAndReport (the newest
  OffboardControlMode is younger than COM_OF_LOSS_T, with a valid local
  position for position control); losing it while flying offboard is
  Failsafe::fromOffboardLossActParam (COM_OBL_RC_ACT);
- timestamps: Tools/msg/templates/ucdr/msg.h.em (0 becomes "now"; others
  min(t - offset, now), the offset 0 unless UXRCE_DDS_SYNCT);
- vehicle_status at 2 Hz or at once on a change (Commander::run), and
  auto-disarm (COM_DISARM_LAND, COM_DISARM_PRFLT);
- flight: PositionControl::_positionControl (velocity setpoint from the position
  error and the feed-forward, MPC_XY_VEL_MAX, MPC_Z_VEL_MAX_UP/DN), the velocity
  loop's gains (MPC_XY/Z_VEL_P_ACC) with the tilt limit MPC_TILTMAX_AIR, no thrust
  for COM_SPOOLUP_TIME after arming; land descends at MPC_Z_VEL_MAX_DN above
  MPC_LAND_ALT1, MPC_LAND_SPEED below MPC_LAND_ALT2, linear between
  (FlightTaskAuto::_prepareLandSetpoints); termination cuts the motors (it falls).
Simulation-specific and not PX4's logic: SIH publishes no ESC status, so an
injected motor failure changes nothing there (as observed with real SIH);
the estimator's alignment (`ekf_align_s`) before the local position is valid.
Modes other than offboard, position, hold and land are not simulated: they are
answered UNSUPPORTED (PX4 would switch).
"""
from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass
from typing import Optional

import numpy as np

from uav_mec_nodes.graph import contract as c
G = 9.81
ACCEPTED, TEMPORARILY_REJECTED, DENIED, UNSUPPORTED = 0, 1, 2, 3
DISARMED, ARMED = c.PX4_DISARMED, c.PX4_ARMED
NAV_POSCTL, NAV_LOITER, NAV_TERMINATION, NAV_OFFBOARD, NAV_LAND = (
    c.PX4_NAV_POSCTL, c.PX4_NAV_LOITER, c.PX4_NAV_TERMINATION, c.PX4_NAV_OFFBOARD, c.PX4_NAV_LAND)
STATUS_PERIOD_S = 0.5          # Commander::run: vehicle_status at 2 Hz, or at once when it changed
FORCE_DISARM_MAGIC = 21196     # ARM_DISARM param2 that skips the checks
PREVENTS_ARMING = (NAV_LAND, NAV_TERMINATION)   # mode_requirements.cpp: mode_req_prevent_arming
OFFBOARD_LOSS_ACTIONS = {0: NAV_POSCTL, 4: NAV_LAND, 5: NAV_LOITER, 6: NAV_TERMINATION}   # COM_OBL_RC_ACT
FALL_DRAG = G / 15.9           # termination: a quadrotor fell at 15.9 m/s in SIH (shared/px4/README.md)
TAKEN_OFF_M = 0.5              # above its home: in the air (for COM_DISARM_PRFLT)


# PX4 parameters by their PX4 names in lower case, with PX4 v1.16's defaults, declared once in the contract
Px4Params = make_dataclass('Px4Params', [(p.name, type(p.default), field(default=p.default))
                                         for p in c.PX4_VEHICLE_PARAMETERS], frozen=True)


@dataclass
class Ack:
    command: int
    result: int
    target_system: int
    target_component: int


def _constrain_xy(v_position: np.ndarray, v_feed_forward: np.ndarray, v_max: float) -> np.ndarray:
    """ControlMath::constrainXY: the position part first, then as much feed-forward as fits in v_max."""
    total = v_position + v_feed_forward
    if np.linalg.norm(total) <= v_max:
        return total
    if np.linalg.norm(v_position) >= v_max:
        return v_position * v_max / np.linalg.norm(v_position)
    # |v_position + s v_ff| = v_max for the s in (0, 1]
    a, b, cc = v_feed_forward @ v_feed_forward, 2 * v_position @ v_feed_forward, v_position @ v_position - v_max ** 2
    s = (-b + np.sqrt(max(b * b - 4 * a * cc, 0.0))) / (2 * a)
    return v_position + s * v_feed_forward


@dataclass
class Px4Vehicle:
    """One vehicle; `now` is seconds since it booted (PX4's hrt clock), `time_offset_us` the agent's clock
    minus PX4's (UXRCE_DDS_SYNCT), used only when the parameter is on."""
    params: Px4Params = field(default_factory=Px4Params)
    time_offset_us: int = 0
    position: np.ndarray = field(default_factory=lambda: np.zeros(3))   # NED [m], origin at home
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(3))   # NED [m/s]
    arming_state: int = DISARMED
    intended_nav_state: int = NAV_LOITER     # what the user asked for (UserModeIntention)
    nav_state_after_disarm: int = NAV_LOITER
    nav_state: int = NAV_LOITER              # what it flies (a failsafe may differ from the intention)
    failsafe: bool = False
    failure_detector_status: int = 0
    esc_blocked: int = 0                     # FailureInjector's bit per motor (no effect in SIH)
    offboard_stamp_us: Optional[int] = None  # PX4's time of the newest OffboardControlMode
    offboard_flags: tuple = (False,) * 3     # position, velocity, acceleration
    setpoint_position: Optional[np.ndarray] = None
    setpoint_velocity: np.ndarray = field(default_factory=lambda: np.zeros(3))
    hold_position: Optional[np.ndarray] = None
    armed_at: Optional[float] = None
    landed_since: Optional[float] = None
    taken_off: bool = False
    failsafe_terminated: bool = False

    # --- time -------------------------------------------------------------------------------------
    @staticmethod
    def hrt_us(now: float) -> int:
        return int(now * 1e6)

    def _offset_us(self) -> int:
        return self.time_offset_us if self.params.uxrce_dds_synct else 0

    def received_stamp_us(self, stamp_us: int, now: float) -> int:
        """A timestamp from ROS as PX4 stores it (ucdr msg.h.em: 0 is now, else min(t - offset, now), uint64)."""
        hrt = self.hrt_us(now)
        if stamp_us == 0:
            return hrt
        return min((int(stamp_us) - self._offset_us()) % 2 ** 64, hrt)

    def sent_stamp_us(self, now: float) -> int:
        """A timestamp PX4 sends to ROS (its clock plus the offset)."""
        return (self.hrt_us(now) + self._offset_us()) % 2 ** 64

    # --- inputs -------------------------------------------------------------------------------------
    def position_valid(self, now: float) -> bool:
        return now >= self.params.ekf_align_s

    def on_offboard_control_mode(self, now: float, stamp_us: int, position: bool, velocity: bool = False,
                                 acceleration: bool = False) -> None:
        self.offboard_stamp_us = self.received_stamp_us(stamp_us, now)
        self.offboard_flags = (bool(position), bool(velocity), bool(acceleration))

    def offboard_signal(self, now: float) -> bool:
        """OffboardChecks::checkAndReport: a recent OffboardControlMode with a flag, and what it needs valid."""
        if self.offboard_stamp_us is None or not any(self.offboard_flags):
            return False
        recent = self.hrt_us(now) < self.offboard_stamp_us + int(self.params.com_of_loss_t * 1e6)
        return recent and not (self.offboard_flags[0] and not self.position_valid(now))

    def on_setpoint(self, position, velocity) -> None:
        """A TrajectorySetpoint: NaN components are not controlled."""
        self.setpoint_position = np.asarray(position, float)
        self.setpoint_velocity = np.nan_to_num(np.asarray(velocity, float))

    def on_command(self, now: float, command: int, param1: float, param2: float, target_system: int,
                   target_component: int, source_system: int = 255, source_component: int = 0,
                   param3: float = 0.0) -> Optional[Ack]:
        """The ack PX4 sends, or None where PX4 sends none (another vehicle's command, an unhandled one)."""
        if command == c.PX4_CMD_INJECT_FAILURE:
            return self._inject(param1, param2, param3)
        if target_system not in (0, self.params.mav_sys_id) or target_component not in (0, 1):
            return None                         # Commander::handle_command: not for this system
        if command == c.PX4_CMD_DO_SET_MODE:
            result = self._set_mode(now, int(param1), int(param2), int(param3))
        elif command == c.PX4_CMD_ARM_DISARM:
            action = int(round(param1))
            if action not in (0, 1):
                return None                     # "Unsupported ARM_DISARM param": no ack
            result = self._arm(now) if action == 1 else self._disarm(now, int(round(param2)) == FORCE_DISARM_MAGIC)
        elif command == c.PX4_CMD_DO_FLIGHTTERMINATION:
            if param1 <= 0.5 or self.arming_state != ARMED:
                result = DENIED
            else:
                result = ACCEPTED if self._change_mode(now, NAV_TERMINATION) else TEMPORARILY_REJECTED
        elif command == c.PX4_CMD_NAV_LAND:
            result = ACCEPTED if self._change_mode(now, NAV_LAND, force=True) else TEMPORARILY_REJECTED
        else:
            result = UNSUPPORTED
        return Ack(command, result, source_system, source_component)   # answer_command: back to the sender

    def _set_mode(self, now: float, base_mode: int, main_mode: int, sub_mode: int) -> int:
        if not base_mode & 1:                   # VEHICLE_MODE_FLAG_CUSTOM_MODE_ENABLED
            return UNSUPPORTED
        wanted = {(c.PX4_MODE_OFFBOARD, None): NAV_OFFBOARD, (c.PX4_MODE_POSCTL, None): NAV_POSCTL,
                  (c.PX4_MODE_AUTO, c.PX4_SUBMODE_AUTO_LOITER): NAV_LOITER,
                  (c.PX4_MODE_AUTO, c.PX4_SUBMODE_AUTO_LAND): NAV_LAND}
        nav = wanted.get((main_mode, None), wanted.get((main_mode, sub_mode)))
        if nav is None:
            return UNSUPPORTED                  # a mode the stand-in does not fly
        return ACCEPTED if self._change_mode(now, nav, force=nav == NAV_LAND) else TEMPORARILY_REJECTED

    def _can_run(self, now: float, nav: int) -> bool:
        """mode_requirements.cpp: offboard needs its signal; the position modes a valid local position."""
        if nav == NAV_OFFBOARD:
            return self.offboard_signal(now)
        return self.position_valid(now)

    def _change_mode(self, now: float, nav: int, force: bool = False) -> bool:
        """UserModeIntention::change."""
        allowed = force or self.arming_state != ARMED or self._can_run(now, nav)
        allowed = allowed and self.nav_state != NAV_TERMINATION
        if allowed:
            self.intended_nav_state = nav
            if nav not in PREVENTS_ARMING or nav == NAV_TERMINATION:
                self.nav_state_after_disarm = nav
            self._resolve_nav_state(now)
        return allowed

    def _arm(self, now: float) -> int:
        """Commander::arm: the intended mode must be able to run (preflight checks), else rejected."""
        if self.arming_state == ARMED:
            return ACCEPTED                     # TRANSITION_NOT_CHANGED
        if self.intended_nav_state in PREVENTS_ARMING or not self._can_run(now, self.intended_nav_state):
            return TEMPORARILY_REJECTED
        self.arming_state, self.armed_at, self.taken_off = ARMED, now, False
        self._resolve_nav_state(now)
        return ACCEPTED

    def _disarm(self, now: float, forced: bool) -> int:
        """Commander::disarm: only landed, unless forced."""
        if self.arming_state != ARMED:
            return ACCEPTED
        if not forced and not self.landed():
            return TEMPORARILY_REJECTED         # "Disarming denied: not landed"
        self._disarmed(now)
        return ACCEPTED

    def _disarmed(self, now: float) -> None:
        self.arming_state, self.armed_at, self.landed_since = DISARMED, None, None
        self.intended_nav_state = self.nav_state_after_disarm   # UserModeIntention::onDisarm
        self._resolve_nav_state(now)

    def _inject(self, unit: float, kind: float, instance: float) -> Optional[Ack]:
        """FailureInjector::update: only the motor unit is handled (ack with no target); motors 1.., 0 = all."""
        if int(unit + 0.5) != c.PX4_FAILURE_UNIT_MOTOR:
            return None                         # SIH simulates no other unit: nobody answers
        kind, instance = int(kind + 0.5), int(instance + 0.5)
        motors = ~0 if instance == 0 else (1 << (instance - 1) if 1 <= instance <= 8 else 0)
        if kind == 0:                           # ok
            self.esc_blocked &= ~motors
            supported = instance == 0 or 1 <= instance <= 8
        elif kind in (1, 4):                    # off, wrong
            self.esc_blocked |= motors
            supported = True
        else:
            supported = False
        return Ack(c.PX4_CMD_INJECT_FAILURE, ACCEPTED if supported else UNSUPPORTED, 0, 0)

    # --- state -------------------------------------------------------------------------------------
    def _resolve_nav_state(self, now: float) -> None:
        """What it flies: the intended mode, or the offboard-loss failsafe's while armed without the signal."""
        nav, failsafe = self.intended_nav_state, self.failsafe_terminated
        if self.arming_state == ARMED and nav == NAV_OFFBOARD and not self.offboard_signal(now):
            nav, failsafe = OFFBOARD_LOSS_ACTIONS[self.params.com_obl_rc_act], True
            if nav == NAV_TERMINATION:   # for good (never out of termination)
                self.intended_nav_state = self.nav_state_after_disarm = NAV_TERMINATION
                self.failsafe_terminated = True
        if nav != self.nav_state and nav in (NAV_POSCTL, NAV_LOITER, NAV_LAND):
            self.hold_position = self.position.copy()
        self.nav_state, self.failsafe = nav, failsafe

    def status_key(self) -> tuple:
        """What vehicle_status says; a change is published at once."""
        return self.arming_state, self.nav_state, self.failsafe, self.failure_detector_status

    def on_ground(self) -> bool:
        return self.position[2] >= -1e-6

    def landed(self) -> bool:
        return self.on_ground() and np.linalg.norm(self.velocity) < 0.5

    # --- flight --------------------------------------------------------------------------------------
    def step(self, now: float, dt: float) -> None:
        p = self.params
        self._resolve_nav_state(now)
        if self.arming_state == ARMED and self.nav_state == NAV_TERMINATION:
            accel = np.array([0.0, 0.0, G]) - FALL_DRAG * self.velocity    # motors off: it falls
        elif self.arming_state != ARMED or now - self.armed_at < p.com_spoolup_time:   # no thrust
            accel = np.array([0.0, 0.0, G]) if not self.on_ground() else np.zeros(3)
        else:
            accel = self._velocity_loop(self._velocity_setpoint(now))
        self.velocity = self.velocity + accel * dt
        self.position = self.position + self.velocity * dt
        if self.position[2] > 0.0:             # the ground
            self.position[2] = 0.0
            self.velocity[:] = 0.0
        self.taken_off = self.taken_off or -self.position[2] > TAKEN_OFF_M
        self._auto_disarm(now)

    def _velocity_setpoint(self, now: float) -> np.ndarray:
        p = self.params
        gains = np.array([p.mpc_xy_p, p.mpc_xy_p, p.mpc_z_p])
        if self.nav_state == NAV_OFFBOARD and self.setpoint_position is not None:
            target, feed_forward = self.setpoint_position, self.setpoint_velocity
        else:                                  # hold (position, hold, land: where it entered the mode)
            target = self.hold_position if self.hold_position is not None else self.position
            feed_forward = np.zeros(3)
        v_position = np.nan_to_num((target - self.position) * gains)   # NaN: not controlled
        v_sp = np.empty(3)
        v_sp[:2] = _constrain_xy(v_position[:2], feed_forward[:2], p.mpc_xy_vel_max)
        v_sp[2] = v_position[2] + feed_forward[2]
        if self.nav_state == NAV_LAND:
            v_sp[2] = self._land_speed()
        v_sp[2] = np.clip(v_sp[2], -p.mpc_z_vel_max_up, p.mpc_z_vel_max_dn)
        return v_sp

    def _land_speed(self) -> float:
        """FlightTaskAuto::_prepareLandSetpoints: from MPC_LAND_SPEED at MPC_LAND_ALT2 to MPC_Z_VEL_MAX_DN at
        MPC_LAND_ALT1, linear in the height and held beyond both."""
        p, height = self.params, -self.position[2]
        return float(np.interp(height, [p.mpc_land_alt2, p.mpc_land_alt1], [p.mpc_land_speed, p.mpc_z_vel_max_dn]))

    def _velocity_loop(self, v_sp: np.ndarray) -> np.ndarray:
        """P velocity loop; horizontal acceleration within the tilt limit, vertical within 1 g either way."""
        p = self.params
        accel = np.array([p.mpc_xy_vel_p_acc, p.mpc_xy_vel_p_acc, p.mpc_z_vel_p_acc]) * (v_sp - self.velocity)
        horizontal = np.linalg.norm(accel[:2])
        limit = G * np.tan(np.radians(p.mpc_tiltmax_air))
        if horizontal > limit:
            accel[:2] *= limit / horizontal
        accel[2] = np.clip(accel[2], -G, G)
        return accel

    def _auto_disarm(self, now: float) -> None:
        """Commander::handleAutoDisarm: COM_DISARM_LAND after landing; COM_SPOOLUP_TIME + COM_DISARM_PRFLT when it
        never took off after arming."""
        p = self.params
        if self.arming_state != ARMED:
            return
        if self.landed() and self.taken_off:
            self.landed_since = now if self.landed_since is None else self.landed_since
            if now - self.landed_since >= p.com_disarm_land:
                self._disarmed(now)
        else:
            self.landed_since = None
        if not self.taken_off and self.armed_at is not None and p.com_disarm_prflt > 0 \
                and now - self.armed_at >= p.com_spoolup_time + p.com_disarm_prflt:
            self._disarmed(now)
