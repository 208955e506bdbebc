"""The bridge's per-vehicle logic on its own: take-off sequence with acks, the slot's path, when a vehicle is down."""
import numpy as np
import pytest

from uav_mec_nodes import contract as c
from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.px4 import frames
from uav_mec_nodes.px4.bridge import Status, VehicleLink, parse_homes, vehicle_ids
from uav_mec_nodes.px4.vehicle import ARMED, DISARMED, NAV_OFFBOARD, NAV_TERMINATION

HOME = np.array([100.0, 200.0, 0.0])
START = np.array([100.0, 200.0, 150.0])


def _link():
    return VehicleLink(0, 1, HOME, START, lease_s=1.0, stream_before_offboard_s=1.0)


def test_take_off_sequence_waits_for_each_ack_and_retries_a_rejection():
    link = _link()
    link.on_local_position((0, 0, 0), (0, 0, 0))
    assert link.tick(0.0) == [] and link.tick(0.9) == []                   # streaming first
    assert link.tick(1.0) == [(c.PX4_CMD_DO_SET_MODE, 1.0, 6.0)]
    assert link.tick(1.2) == []                                           # no ack yet: not sent again so soon
    link.on_ack(1.3, c.PX4_CMD_DO_SET_MODE, 1)                            # temporarily rejected
    assert link.tick(1.35) == [(c.PX4_CMD_DO_SET_MODE, 1.0, 6.0)]          # asked again
    link.on_ack(1.4, c.PX4_CMD_ARM_DISARM, 0)                             # an ack for something else: ignored
    link.on_ack(1.4, c.PX4_CMD_DO_SET_MODE, 0)
    assert link.tick(1.45) == [(c.PX4_CMD_ARM_DISARM, 1.0, 0.0)]
    link.on_ack(1.5, c.PX4_CMD_ARM_DISARM, 0)
    position, velocity = link.setpoint(1.6)                               # climbing to the start position
    np.testing.assert_allclose(position, [0.0, 0.0, -150.0])
    assert not link.ready
    link.on_local_position((0.2, -0.1, -149.6), (0, 0, 0))
    link.tick(20.0)
    assert link.ready


def test_a_slot_is_streamed_as_its_kinematic_path_in_ned():
    link = _link()
    accel_world = np.array([2.0, 0.0, 0.0])                               # east
    link.fly(10.0, 1.0, accel_world, START, np.array([0.0, 4.0, 0.0]))    # moving north at 4 m/s
    position, velocity = link.setpoint(10.5)
    expected_world = START + np.array([0.0, 4.0, 0.0]) * 0.5 + 0.5 * accel_world * 0.25
    np.testing.assert_allclose(position, frames.world_to_local_ned(expected_world, HOME))
    np.testing.assert_allclose(velocity, [4.0, 1.0, 0.0])                 # NED: 4 north, 1 east
    np.testing.assert_allclose(link.setpoint(12.0)[0], link.setpoint(11.0)[0])   # the end point after the slot


@pytest.mark.parametrize('status,should_fly,reason', [
    (Status(0.0, ARMED, NAV_OFFBOARD, False, 0), True, None),
    (Status(0.0, DISARMED, NAV_OFFBOARD, False, 0), True, 'disarmed'),
    (Status(0.0, ARMED, NAV_TERMINATION, False, 0), True, 'termination'),
    (Status(0.0, ARMED, NAV_OFFBOARD, True, 0), True, 'failsafe'),
    (Status(0.0, ARMED, NAV_OFFBOARD, False, 128), True, 'failure detector bits 0x80'),
    (Status(0.0, DISARMED, 4, False, 0), False, None),                   # on the ground before take-off: fine
    (Status(-5.0, ARMED, NAV_OFFBOARD, False, 0), False, 'vehicle_status silent'),
])
def test_when_a_vehicle_is_down(status, should_fly, reason):
    link = _link()
    link.on_status(status)
    got = link.check(0.5, should_fly)
    assert (got is None) if reason is None else (reason in got)
    if reason:
        link.on_status(Status(0.6, ARMED, NAV_OFFBOARD, False, 0))
        assert link.check(0.7, should_fly) == got   # once down, down for good (failures are permanent)


def test_vehicle_ids_and_homes():
    assert vehicle_ids(3) == [('px4_1', 2), ('px4_2', 3), ('px4_3', 4)]   # instance i: px4_<i>, MAV_SYS_ID i+1
    assert vehicle_ids(2, '/uav_a, uav_b', '7,9') == [('uav_a', 7), ('uav_b', 9)]
    for names, ids in (('a', ''), ('a,a', '1,2'), ('', '1,1'), ('', '0,1'), ('', 'x,1')):
        with pytest.raises(UserInputError, match='px4_'):
            vehicle_ids(2, names, ids)
    start = np.array([[1.0, 2.0, 150.0], [3.0, 4.0, 120.0]])
    np.testing.assert_allclose(parse_homes('', start), [[1, 2, 0], [3, 4, 0]])
    np.testing.assert_allclose(parse_homes('0,0,0; 10,0,5', start), [[0, 0, 0], [10, 0, 5]])
    with pytest.raises(UserInputError, match='home_positions'):
        parse_homes('1,2', start)
