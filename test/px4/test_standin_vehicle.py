"""The PX4 stand-in's state machine on its own: the stream, arming, offboard loss, acks, target_system, failures."""
import numpy as np

from uav_mec_nodes import contract as c
from uav_mec_nodes.px4.vehicle import (ACCEPTED, ARMED, DENIED, DISARMED, MOTOR_FAILURE_BIT, NAV_LAND, NAV_LOITER,
                                       NAV_OFFBOARD, NAV_TERMINATION, TEMPORARILY_REJECTED, UNSUPPORTED, Px4Vehicle,
                                       VehicleParams)

DT = 0.01


def _run(v: Px4Vehicle, t0: float, seconds: float, stream=True, target=(0.0, 0.0, -10.0), ff=(0.0, 0.0, 0.0)):
    t = t0
    while t < t0 + seconds - 1e-9:
        if stream and round(t / DT) % 5 == 0:   # 20 Hz
            v.on_offboard_control_mode(t)
            v.on_setpoint(target, ff)
        v.step(t, DT)
        t += DT
    return t


def _cmd(v, t, command, p1=0.0, p2=0.0, target_system=1, target_component=1):
    return v.on_command(t, command, p1, p2, target_system, target_component, source_system=255, source_component=7)


def test_no_offboard_and_no_arming_without_the_stream():
    v = Px4Vehicle(VehicleParams(sys_id=1))
    assert _cmd(v, 0.0, c.PX4_CMD_DO_SET_MODE, 1, c.PX4_MODE_OFFBOARD).result == TEMPORARILY_REJECTED
    assert _cmd(v, 0.0, c.PX4_CMD_ARM_DISARM, 1).result == DENIED and v.arming_state == DISARMED
    t = _run(v, 0.0, 0.5)                                   # streaming, but not long enough yet
    assert _cmd(v, t, c.PX4_CMD_DO_SET_MODE, 1, c.PX4_MODE_OFFBOARD).result == TEMPORARILY_REJECTED
    t = _run(v, t, 0.7)
    ack = _cmd(v, t, c.PX4_CMD_DO_SET_MODE, 1, c.PX4_MODE_OFFBOARD)
    assert (ack.command, ack.result, ack.target_system, ack.target_component) == (176, ACCEPTED, 255, 7)
    assert v.nav_state == NAV_OFFBOARD
    assert _cmd(v, t, c.PX4_CMD_ARM_DISARM, 1).result == ACCEPTED and v.arming_state == ARMED
    t = _run(v, t, 8.0)                                     # climbs to 10 m and holds there
    np.testing.assert_allclose(v.position, [0.0, 0.0, -10.0], atol=0.05)


def test_commands_for_another_vehicle_are_not_taken_nor_answered():
    v = Px4Vehicle(VehicleParams(sys_id=2))
    t = _run(v, 0.0, 1.2)
    assert _cmd(v, t, c.PX4_CMD_ARM_DISARM, 1, target_system=3) is None and v.arming_state == DISARMED
    assert _cmd(v, t, c.PX4_CMD_ARM_DISARM, 1, target_system=2, target_component=5) is None
    assert _cmd(v, t, c.PX4_CMD_ARM_DISARM, 1, target_system=0).result == ACCEPTED   # 0: every vehicle
    assert _cmd(v, t, 31000, target_system=2).result == UNSUPPORTED   # every command it takes gets an ack


def _flying(sys_id=1, **params):
    v = Px4Vehicle(VehicleParams(sys_id=sys_id, **params))
    t = _run(v, 0.0, 1.2)
    assert _cmd(v, t, c.PX4_CMD_DO_SET_MODE, 1, c.PX4_MODE_OFFBOARD).result == ACCEPTED
    assert _cmd(v, t, c.PX4_CMD_ARM_DISARM, 1).result == ACCEPTED
    return v, _run(v, t, 8.0)


def test_offboard_loss_holds_or_lands():
    v, t = _flying(loss_action='hold')
    t = _run(v, t, 1.5, stream=False)                        # COM_OF_LOSS_T = 1 s without the stream
    assert v.nav_state == NAV_LOITER and v.failsafe and v.arming_state == ARMED
    held = v.position.copy()
    _run(v, t, 2.0, stream=False)
    np.testing.assert_allclose(v.position, held, atol=0.2)
    v, t = _flying(loss_action='land')
    t = _run(v, t, 1.5, stream=False)
    assert v.nav_state == NAV_LAND
    _run(v, t, 15.0, stream=False)                           # 10 m at 1 m/s
    assert v.on_ground() and v.arming_state == DISARMED


def test_motor_failure_injection_makes_it_fall_and_report():
    v, t = _flying()
    assert _cmd(v, t, c.PX4_CMD_INJECT_FAILURE, c.PX4_FAILURE_UNIT_MOTOR, c.PX4_FAILURE_TYPE_OFF).result == ACCEPTED
    assert v.failure_detector_status & MOTOR_FAILURE_BIT and v.failsafe
    _run(v, t, 3.0)                                          # the stream goes on: it falls all the same
    assert v.on_ground() and v.arming_state == DISARMED and v.nav_state == NAV_TERMINATION
    assert _cmd(v, t, c.PX4_CMD_ARM_DISARM, 1).result == DENIED
    assert _cmd(Px4Vehicle(), 0.0, c.PX4_CMD_INJECT_FAILURE, 4, 1).result == UNSUPPORTED   # gps: not simulated


def test_it_flies_to_a_setpoint_within_its_limits():
    v, t = _flying()
    speeds = []
    target = (60.0, -40.0, -30.0)
    while t < 30.0:
        t = _run(v, t, 0.1, target=target)
        speeds.append(np.linalg.norm(v.velocity))
    np.testing.assert_allclose(v.position, target, atol=0.1)
    assert max(speeds) <= v.params.v_max_mps + 1e-9
