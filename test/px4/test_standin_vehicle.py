"""The PX4 stand-in on its own, rule by rule as PX4 v1.16's source has it (docs/px4.md names each source)."""
import numpy as np
import pytest

from uav_mec_nodes.graph import contract as c
from uav_mec_nodes.px4.vehicle import (ACCEPTED, ARMED, DENIED, DISARMED, NAV_LAND, NAV_LOITER, NAV_OFFBOARD,
                                       NAV_POSCTL, NAV_TERMINATION, TEMPORARILY_REJECTED, UNSUPPORTED, Px4Params,
                                       Px4Vehicle)

DT = 0.01
AGENT_OFFSET_US = 1_765_000_000_000_000     # the agent's clock (Unix time) minus PX4's, as time sync finds it


def _vehicle(**params):
    return Px4Vehicle(Px4Params(**params), time_offset_us=AGENT_OFFSET_US)


def _run(v: Px4Vehicle, t0: float, seconds: float, stream=True, target=(0.0, 0.0, -10.0), ff=(0.0, 0.0, 0.0),
         stamp=lambda t: 0):
    t = t0
    while t < t0 + seconds - 1e-9:
        if stream and round(t / DT) % 5 == 0:   # 20 Hz
            v.on_offboard_control_mode(t, stamp(t), position=True)
            v.on_setpoint(target, ff)
        v.step(t, DT)
        t += DT
    return t


def _cmd(v, t, command, p1=0.0, p2=0.0, p3=0.0, target_system=1, target_component=1):
    return v.on_command(t, command, p1, p2, target_system, target_component, source_system=255, source_component=7,
                        param3=p3)


def _offboard(v, t):
    return _cmd(v, t, c.PX4_CMD_DO_SET_MODE, 1, c.PX4_MODE_OFFBOARD)


def _arm(v, t):
    return _cmd(v, t, c.PX4_CMD_ARM_DISARM, 1)


def test_any_mode_change_is_taken_while_disarmed_but_arming_needs_the_offboard_signal():
    v = _vehicle(ekf_align_s=0.5)
    ack = _offboard(v, 0.0)                                  # UserModeIntention::change: disarmed, always
    assert (ack.command, ack.result, ack.target_system, ack.target_component) == (176, ACCEPTED, 255, 7)
    assert _arm(v, 0.0).result == TEMPORARILY_REJECTED and v.arming_state == DISARMED   # no signal
    t = _run(v, 0.0, 0.3)                                    # streaming, but no valid local position yet
    assert not v.offboard_signal(t) and _arm(v, t).result == TEMPORARILY_REJECTED
    t = _run(v, t, 0.3)
    assert v.offboard_signal(t) and _arm(v, t).result == ACCEPTED and v.nav_state == NAV_OFFBOARD
    assert _arm(v, t).result == ACCEPTED                     # already armed: not changed, accepted
    t = _run(v, t, 10.0)                                     # climbs to 10 m and holds there
    np.testing.assert_allclose(v.position, [0.0, 0.0, -10.0], atol=0.05)


def test_commands_for_another_vehicle_are_not_answered_but_failure_injection_is():
    v = _vehicle(mav_sys_id=2)
    t = _run(v, 0.0, 1.2)
    _offboard(v, t)
    assert _cmd(v, t, c.PX4_CMD_ARM_DISARM, 1, target_system=3) is None and v.arming_state == DISARMED
    assert _cmd(v, t, c.PX4_CMD_ARM_DISARM, 1, target_system=2, target_component=5) is None
    assert _cmd(v, t, c.PX4_CMD_ARM_DISARM, 2, target_system=2) is None   # unsupported param: no ack at all
    assert _cmd(v, t, c.PX4_CMD_ARM_DISARM, 1, target_system=0).result == ACCEPTED   # 0: every vehicle
    assert _cmd(v, t, 31000, target_system=2).result == UNSUPPORTED
    # FailureInjector checks no target and answers with none
    ack = _cmd(v, t, c.PX4_CMD_INJECT_FAILURE, c.PX4_FAILURE_UNIT_MOTOR, 1, 1, target_system=9)
    assert (ack.result, ack.target_system, ack.target_component) == (ACCEPTED, 0, 0)


def test_timestamps_as_the_uxrce_dds_client_converts_them():
    v = _vehicle(uxrce_dds_synct=True)
    now = 12.5
    assert v.received_stamp_us(0, now) == 12_500_000                          # 0: stamped on receipt
    assert v.received_stamp_us(AGENT_OFFSET_US + 12_000_000, now) == 12_000_000   # the agent's clock, synced
    assert v.received_stamp_us(3_000_000, now) == 12_500_000   # another clock: underflows, clamped to now
    assert v.sent_stamp_us(now) == AGENT_OFFSET_US + 12_500_000
    v = _vehicle(uxrce_dds_synct=False)
    assert v.received_stamp_us(3_000_000, now) == 3_000_000   # taken as it is: 9.5 s old
    assert v.sent_stamp_us(now) == 12_500_000


@pytest.mark.parametrize('synct', [True, False])
def test_a_stream_stamped_zero_arms_with_either_time_sync_and_one_stamped_since_its_start_only_with_sync(synct):
    zero = _vehicle(uxrce_dds_synct=synct)
    t = _run(zero, 5.0, 1.2)                                 # PX4 booted 5 s before the stream started
    assert _offboard(zero, t).result == ACCEPTED and _arm(zero, t).result == ACCEPTED
    own = _vehicle(uxrce_dds_synct=synct)
    t = _run(own, 5.0, 1.2, stamp=lambda t: int((t - 5.0) * 1e6) + 1)   # microseconds since the bridge started
    _offboard(own, t)
    assert (_arm(own, t).result == ACCEPTED) == synct        # SYNCT=0: every message 5 s old: never arms


def test_vehicle_status_changes_are_what_it_publishes_at_once():
    v = _vehicle()
    t = _run(v, 0.0, 1.2)
    key = v.status_key()
    _offboard(v, t)
    _arm(v, t)
    assert v.status_key() != key and v.status_key()[:2] == (ARMED, NAV_OFFBOARD)


@pytest.mark.parametrize('action,nav', [(0, NAV_POSCTL), (4, NAV_LAND), (5, NAV_LOITER), (6, NAV_TERMINATION)])
def test_offboard_loss_runs_the_com_obl_rc_act_failsafe_and_the_signal_coming_back_ends_it(action, nav):
    v, t = _flying(com_obl_rc_act=action)
    t = _run(v, t, 0.9, stream=False)
    assert v.nav_state == NAV_OFFBOARD and not v.failsafe   # COM_OF_LOSS_T = 1 s
    t = _run(v, t, 0.3, stream=False)
    assert v.nav_state == nav and v.failsafe and v.arming_state == ARMED
    t = _run(v, t, 0.5)
    if nav == NAV_TERMINATION:                              # never out of termination
        assert v.nav_state == NAV_TERMINATION
    else:
        assert v.nav_state == NAV_OFFBOARD and not v.failsafe


def _flying(**params):
    v = _vehicle(**params)
    t = _run(v, 0.0, 1.2)
    assert _offboard(v, t).result == ACCEPTED and _arm(v, t).result == ACCEPTED
    return v, _run(v, t, 8.0)


def test_flight_termination_is_taken_only_while_armed_and_it_falls():
    v = _vehicle()
    t = _run(v, 0.0, 1.2)
    assert _cmd(v, t, c.PX4_CMD_DO_FLIGHTTERMINATION, 1).result == DENIED   # disarmed
    v, t = _flying()
    assert _cmd(v, t, c.PX4_CMD_DO_FLIGHTTERMINATION, 0).result == DENIED   # param1 must be > 0.5
    assert _cmd(v, t, c.PX4_CMD_DO_FLIGHTTERMINATION, 1).result == ACCEPTED
    assert v.nav_state == NAV_TERMINATION and v.arming_state == ARMED and not v.failsafe
    assert _offboard(v, t).result == TEMPORARILY_REJECTED                  # never out of termination
    assert _cmd(v, t, c.PX4_CMD_NAV_LAND).result == TEMPORARILY_REJECTED
    t = _run(v, t, 1.0)
    assert v.velocity[2] > 5.0                                # falling, the stream goes on all the same
    t = _run(v, t, 5.0)
    assert v.on_ground() and v.arming_state == DISARMED and v.nav_state == NAV_TERMINATION   # COM_DISARM_LAND


def test_a_motor_failure_is_acked_but_changes_nothing_in_sih():
    v, t = _flying()
    before = v.position.copy()
    ack = _cmd(v, t, c.PX4_CMD_INJECT_FAILURE, c.PX4_FAILURE_UNIT_MOTOR, c.PX4_FAILURE_TYPE_OFF, 1)
    assert ack.result == ACCEPTED and v.esc_blocked == 0b1        # instance 1: motor 1
    _cmd(v, t, c.PX4_CMD_INJECT_FAILURE, c.PX4_FAILURE_UNIT_MOTOR, c.PX4_FAILURE_TYPE_OFF, 0)
    assert v.esc_blocked == ~0                                   # instance 0: every motor
    t = _run(v, t, 3.0)
    np.testing.assert_allclose(v.position, before, atol=0.05)   # SIH has no ESC status: it flies on
    assert v.failure_detector_status == 0 and not v.failsafe and v.nav_state == NAV_OFFBOARD
    assert _cmd(v, t, c.PX4_CMD_INJECT_FAILURE, c.PX4_FAILURE_UNIT_MOTOR, 2, 1).result == UNSUPPORTED  # stuck
    assert _cmd(v, t, c.PX4_CMD_INJECT_FAILURE, 4, 1) is None   # gps: SIH simulates no such failure, no answer


def test_land_descends_as_px4_does_and_disarms_on_the_ground():
    v, t = _flying()
    t = _run(v, t, 20.0, target=(0.0, 0.0, -30.0))
    assert _cmd(v, t, c.PX4_CMD_DO_SET_MODE, 1, c.PX4_MODE_AUTO, c.PX4_SUBMODE_AUTO_LAND).result == ACCEPTED
    assert v.nav_state == NAV_LAND
    t = _run(v, t, 3.0)
    assert v.velocity[2] == pytest.approx(1.5, abs=0.05)         # MPC_Z_VEL_MAX_DN above MPC_LAND_ALT1
    while -v.position[2] > 4.0:
        t = _run(v, t, 0.1)
    assert v.velocity[2] == pytest.approx(0.7, abs=0.05)         # MPC_LAND_SPEED below MPC_LAND_ALT2
    assert _cmd(v, t, c.PX4_CMD_ARM_DISARM, 0).result == TEMPORARILY_REJECTED   # not landed: denied
    t = _run(v, t, 10.0)
    assert v.on_ground() and v.arming_state == DISARMED          # COM_DISARM_LAND after touching down
    assert v.nav_state == NAV_OFFBOARD                           # disarmed: the last mode that allows arming


def test_hold_mode_holds_where_it_was():
    v, t = _flying()
    assert _cmd(v, t, c.PX4_CMD_DO_SET_MODE, 1, c.PX4_MODE_AUTO, c.PX4_SUBMODE_AUTO_LOITER).result == ACCEPTED
    held = v.position.copy()
    _run(v, t, 5.0, target=(50.0, 0.0, -20.0))                   # the stream no longer steers it
    np.testing.assert_allclose(v.position, held, atol=0.05)
    assert _cmd(v, t, c.PX4_CMD_DO_SET_MODE, 1, 8).result == UNSUPPORTED   # a mode the stand-in does not fly


def test_it_disarms_when_it_never_takes_off():
    v = _vehicle()
    t = _run(v, 0.0, 1.2, target=(0.0, 0.0, 0.0))              # told to stay on the ground
    _offboard(v, t)
    _arm(v, t)
    t = _run(v, t, 10.5, target=(0.0, 0.0, 0.0))
    assert v.arming_state == ARMED                               # COM_SPOOLUP_TIME counts too
    _run(v, t, 0.6, target=(0.0, 0.0, 0.0))
    assert v.arming_state == DISARMED                            # COM_SPOOLUP_TIME + COM_DISARM_PRFLT


def test_it_flies_within_px4s_default_limits():
    v, t = _flying()
    speeds, climbs, sinks, accels = [], [], [], []
    for target in ((80.0, -60.0, -40.0), (80.0, -60.0, -20.0)):
        while t < 80.0 if target[2] == -40.0 else t < 120.0:
            before = v.velocity.copy()
            t = _run(v, t, 0.1, target=target, ff=(20.0, 0.0, 0.0))   # a feed-forward far beyond the limit
            speeds.append(np.linalg.norm(v.velocity[:2]))
            climbs.append(-v.velocity[2])
            sinks.append(v.velocity[2])
            accels.append(np.linalg.norm((v.velocity - before)[:2]) / 0.1)
    assert max(speeds) <= 12.0 + 1e-6 and max(speeds) > 11.0          # MPC_XY_VEL_MAX
    assert max(climbs) <= 3.0 + 1e-6 and max(climbs) > 2.9            # MPC_Z_VEL_MAX_UP
    assert max(sinks) <= 1.5 + 1e-6 and max(sinks) > 1.4              # MPC_Z_VEL_MAX_DN
    assert max(accels) <= 9.81 * np.tan(np.radians(45.0)) + 1e-6       # MPC_TILTMAX_AIR
