"""The bridge's per-vehicle logic on its own: take-off with acks and reasons, the slot's path, down, the end."""
import numpy as np
import pytest

from uav_mec_nodes.graph import contract as c
from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.px4 import frames
from uav_mec_nodes.px4.bridge import Status, TakeoffTimeout, VehicleLink, parse_homes, vehicle_ids
from uav_mec_nodes.px4.vehicle import ARMED, DISARMED, NAV_LOITER, NAV_OFFBOARD, NAV_TERMINATION

HOME = np.array([100.0, 200.0, 0.0])
START = np.array([100.0, 200.0, 150.0])
SET_OFFBOARD = (c.PX4_CMD_DO_SET_MODE, 1.0, 6.0, 0.0)
ARM = (c.PX4_CMD_ARM_DISARM, 1.0, 0.0, 0.0)


def _link(**kw):
    return VehicleLink(0, 2, HOME, START, lease_s=1.5, stream_before_offboard_s=1.0, **kw)


def _heard(link, t, arming=DISARMED, nav=NAV_LOITER, position=(0, 0, 0), velocity=(0, 0, 0), valid=True):
    link.on_status(Status(t, arming, nav, False, 0))
    link.on_local_position(t, position, velocity, valid)


def _to_climb(link):
    _heard(link, 0.0)
    link.tick(0.0)
    assert link.tick(1.0) == [SET_OFFBOARD]
    link.on_ack(1.1, c.PX4_CMD_DO_SET_MODE, 0)
    assert link.tick(1.2) == [ARM]
    link.on_ack(1.3, c.PX4_CMD_ARM_DISARM, 0)
    link.tick(1.4)
    _heard(link, 1.5, ARMED, NAV_OFFBOARD)
    link.tick(1.6)
    assert link.phase == 'climb'
    return 1.6


def test_take_off_waits_for_status_and_a_valid_position_and_says_so():
    link = _link()
    assert link.tick(0.0) == [] and 'first vehicle_status' in link.waiting_for
    link.on_status(Status(0.1, DISARMED, NAV_LOITER, False, 0))
    link.on_local_position(0.1, (5.0, 0, 0), (0, 0, 0), valid=False)   # the estimator not aligned yet
    assert link.tick(0.2) == [] and 'valid local position' in link.waiting_for
    assert not link.have_position                                     # an invalid sample moves nothing
    link.on_local_position(0.3, (0, 0, 0), (0, 0, 0), valid=True)
    link.tick(0.3)
    assert link.phase == 'stream' and 'stream to run 1 s' in link.waiting_for


def test_a_rejected_command_is_logged_with_pxs_result_and_asked_again_every_second_not_every_tick():
    link = _link()
    _heard(link, 0.0)
    link.tick(0.0)
    assert link.tick(1.0) == [SET_OFFBOARD]
    assert link.tick(1.5) == [] and 'no ack yet' in link.waiting_for
    assert link.tick(2.0) == [SET_OFFBOARD]                            # no answer within a second: again
    line = link.on_ack(2.1, c.PX4_CMD_DO_SET_MODE, 1)
    assert line == 'offboard: PX4 answered TEMPORARILY_REJECTED; asking again every 1 s'
    assert 'answered TEMPORARILY_REJECTED' in link.waiting_for
    assert [link.tick(t) for t in (2.15, 2.5, 2.9)] == [[], [], []]   # not every tick
    assert link.tick(3.0) == [SET_OFFBOARD]
    assert link.on_ack(3.1, c.PX4_CMD_DO_SET_MODE, 1) is None         # the same answer: said once
    assert link.on_ack(3.1, c.PX4_CMD_ARM_DISARM, 0) is None and link.phase == 'offboard'   # not its command
    link.on_ack(3.2, c.PX4_CMD_DO_SET_MODE, 0)
    assert link.tick(3.3) == [ARM]


def test_armed_in_offboard_is_confirmed_from_status_then_it_climbs_and_holds_its_start_point():
    link = _link()
    _heard(link, 0.0)
    link.tick(0.0)
    link.tick(1.0)
    link.on_ack(1.1, c.PX4_CMD_DO_SET_MODE, 0)
    link.tick(1.2)
    link.on_ack(1.3, c.PX4_CMD_ARM_DISARM, 0)
    link.tick(1.4)
    assert link.phase == 'confirm' and 'nav_state 14' in link.waiting_for
    _heard(link, 2.0, ARMED, 4)                                        # armed, not offboard yet
    link.tick(2.0)
    assert link.phase == 'confirm'
    link.tick(4.5)
    assert link.phase == 'offboard'                                    # not confirmed in time: asked again
    link = _link()
    t = _to_climb(link)
    np.testing.assert_allclose(link.setpoint(t)[0], [0.0, 0.0, -150.0])   # climbing to the start position
    _heard(link, t, ARMED, NAV_OFFBOARD, position=(0.2, -0.1, -149.6), velocity=(0, 0, -2.0))
    link.tick(t)
    assert link.phase == 'climb'                                       # there, but still moving
    _heard(link, t + 0.5, ARMED, NAV_OFFBOARD, position=(0.2, -0.1, -149.6))
    link.tick(t + 0.5)
    link.tick(t + 1.2)
    assert link.phase == 'climb'
    _heard(link, t + 1.6, ARMED, NAV_OFFBOARD, position=(0.2, -0.1, -149.6))
    link.tick(t + 1.6)
    assert link.ready


def test_a_take_off_that_never_gets_an_answer_times_out_naming_the_vehicle_and_what_it_waited_for():
    link = _link(takeoff_timeout_s=20.0)
    _heard(link, 0.0)
    t = 0.0
    with pytest.raises(TakeoffTimeout, match=r'UAV 0 \(MAV_SYS_ID 2\): take-off timed out after 20 s waiting for '
                                             r'PX4 to accept offboard \(DO_SET_MODE\): answered DENIED'):
        while t < 30.0:
            link.tick(t)
            link.on_ack(t, c.PX4_CMD_DO_SET_MODE, 2)
            _heard(link, t)
            t += 0.05
    assert 19.9 < t < 20.2
    assert _link().takeoff_timeout_s == pytest.approx(150.0 + 60.0)   # automatic: the climb at 1 m/s, plus 60 s
    silent = _link(takeoff_timeout_s=5.0)                              # nothing heard at all
    silent.tick(0.0)
    with pytest.raises(TakeoffTimeout, match='its first vehicle_status'):
        silent.tick(5.1)


def test_a_late_status_sample_fails_no_vehicle_that_is_otherwise_flying():
    link = _link()
    t = _to_climb(link)
    for k in range(30):                                     # 3 s of local positions at 10 Hz, status 0.9 s late
        now = t + 0.1 * k
        link.on_local_position(now, (0, 0, -10.0), (0, 0, -1.0))
        assert link.check(now) is None
    assert link.status.received == 1.5
    silent = t + 3.0 + 1.6                                  # then nothing at all for longer than the lease
    reason = link.check(silent)
    assert 'nothing from it' in reason and 'lease 1.5 s' in reason and link.down_silent
    assert link.streaming                                   # held, in case only its link broke


def test_a_slot_is_streamed_as_its_kinematic_path_in_ned():
    link = _link()
    accel_world = np.array([2.0, 0.0, 0.0])                               # east
    link.fly(10.0, 1.0, accel_world, START, np.array([0.0, 4.0, 0.0]))    # moving north at 4 m/s
    position, velocity = link.setpoint(10.5)
    expected_world = START + np.array([0.0, 4.0, 0.0]) * 0.5 + 0.5 * accel_world * 0.25
    np.testing.assert_allclose(position, frames.world_to_local_ned(expected_world, HOME))
    np.testing.assert_allclose(velocity, [4.0, 1.0, 0.0])                 # NED: 4 north, 1 east
    np.testing.assert_allclose(link.setpoint(12.0)[0], link.setpoint(11.0)[0])   # the end point after the slot


@pytest.mark.parametrize('arming,nav,failsafe,bits,reason', [
    (ARMED, NAV_OFFBOARD, False, 0, None),
    (DISARMED, NAV_OFFBOARD, False, 0, 'disarmed'),
    (ARMED, NAV_TERMINATION, False, 0, 'termination'),
    (ARMED, 2, True, 0, 'failsafe (nav_state 2)'),
    (ARMED, NAV_OFFBOARD, False, 128, 'failure detector bits 0x80'),
])
def test_when_a_flying_vehicle_is_down(arming, nav, failsafe, bits, reason):
    link = _link()
    t = _to_climb(link)
    link.on_status(Status(t, arming, nav, failsafe, bits))
    got = link.check(t + 0.1)
    assert (got is None) if reason is None else (reason in got)
    if reason:
        assert not link.streaming                                      # PX4 said so: nothing more to fly
        link.on_status(Status(t + 0.2, ARMED, NAV_OFFBOARD, False, 0))
        assert link.check(t + 0.3) == got   # once down, down for good (failures are permanent)


def test_on_the_ground_before_take_off_nothing_is_down():
    link = _link()
    _heard(link, 0.0)
    assert link.check(0.5) is None


def _flying_link():
    link = _link()
    t = _to_climb(link)
    _heard(link, t, ARMED, NAV_OFFBOARD, position=(0, 0, -150.0))
    return link, t


def test_the_end_lands_each_flying_vehicle_and_waits_until_it_disarmed():
    link, t = _flying_link()
    link.finish(t, 'land')
    assert link.tick(t) == [(c.PX4_CMD_NAV_LAND, 0.0, 0.0, 0.0)] and link.streaming
    link.on_ack(t + 0.1, c.PX4_CMD_NAV_LAND, 0)
    link.tick(t + 0.2)
    assert link.phase == 'ending' and not link.streaming and 'disarmed' in link.waiting_for
    _heard(link, t + 100.0, ARMED, 18)
    link.tick(t + 100.0)
    assert not link.ended and link.end_overdue(t + 100.0) is None     # 150 m at 0.7 m/s + 30 s allowed
    _heard(link, t + 200.0, DISARMED, NAV_OFFBOARD, position=(0, 0, 0))
    link.tick(t + 200.0)
    assert link.ended and link.end_note == 'landed and disarmed'


def test_the_end_can_hold_and_says_when_it_is_not_confirmed():
    link, t = _flying_link()
    link.finish(t, 'hold', timeout_s=10.0)
    assert link.tick(t) == [(c.PX4_CMD_DO_SET_MODE, 1.0, 4.0, 3.0)]
    link.on_ack(t, c.PX4_CMD_DO_SET_MODE, 0)
    link.tick(t + 0.1)
    _heard(link, t + 1.0, ARMED, NAV_LOITER)
    link.tick(t + 1.0)
    assert link.ended and 'Hold' in link.end_note
    link, t = _flying_link()
    link.finish(t, 'land', timeout_s=10.0)
    link.tick(t)
    line = link.end_overdue(t + 11.0)
    assert line.startswith('UAV 0 (MAV_SYS_ID 2): land not confirmed: waited for PX4 to accept land') and link.ended


def test_the_end_leaves_alone_a_vehicle_that_no_longer_flies():
    link, t = _flying_link()
    link.on_status(Status(t, ARMED, NAV_TERMINATION, False, 0))
    link.finish(t, 'land')
    assert link.ended and link.tick(t) == [] and link.end_note.startswith('not flying')


def test_vehicle_ids_and_homes():
    assert vehicle_ids(3) == [('px4_1', 2), ('px4_2', 3), ('px4_3', 4)]   # instance i: px4_<i>, MAV_SYS_ID i+1
    assert vehicle_ids(2, '/uav_a, uav_b', '7,9') == [('uav_a', 7), ('uav_b', 9)]
    for names, ids in (('a', ''), ('a,a', '1,2'), ('', '1,1'), ('', '0,1'), ('', 'x,1')):
        with pytest.raises(UserInputError, match='px4_'):
            vehicle_ids(2, names, ids)
    start = np.array([[1.0, 2.0, 150.0], [3.0, 4.0, 120.0]])
    np.testing.assert_allclose(parse_homes('', start), [[1, 2, 0], [3, 4, 0]])
    np.testing.assert_allclose(parse_homes('0,0,0; 10,0,5', start), [[0, 0, 0], [10, 0, 5]])
    with pytest.raises(UserInputError, match='px4_homes'):
        parse_homes('1,2', start)


def test_px4_topics_carry_their_message_version():
    versions = c.parse_px4_versions(c.PX4_MESSAGE_VERSIONS)
    assert c.px4_topic('px4_1', 'vehicle_status', versions) == '/px4_1/fmu/out/vehicle_status_v1'
    assert c.px4_topic('', 'vehicle_local_position', versions) == '/fmu/out/vehicle_local_position'
    later = c.parse_px4_versions('vehicle_status=4,vehicle_local_position=1,vehicle_command_ack=1')
    assert c.px4_topic('px4_2', 'vehicle_command_ack', later) == '/px4_2/fmu/out/vehicle_command_ack_v1'
    for bad in ('vehicle_status', 'vehicle_status=x', 'nonsense=1'):
        with pytest.raises(ValueError, match='topic=N'):
            c.parse_px4_versions(bad)
