"""ENU/NED round trips of positions, velocities, yaw and quaternions (transforms3d, no hand-made rotations)."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from transforms3d.euler import euler2quat, quat2euler
from transforms3d.quaternions import qnorm

from uav_mec_nodes.px4 import frames

finite = st.floats(-1e4, 1e4, allow_nan=False)
vec = st.tuples(finite, finite, finite).map(np.array)
angle = st.floats(-np.pi, np.pi)


@given(v=vec, home=vec)
def test_positions_and_velocities_round_trip(v, home):
    np.testing.assert_allclose(frames.ned_to_enu(frames.enu_to_ned(v)), v, atol=1e-9)
    np.testing.assert_allclose(frames.local_ned_to_world(frames.world_to_local_ned(v, home), home), v, atol=1e-7)


def test_a_setpoint_north_east_and_above_is_positive_north_east_and_negative_down():
    home = np.array([100.0, 200.0, 0.0])
    target = home + np.array([30.0, 40.0, 150.0])   # 30 m east, 40 m north, 150 m up (ENU)
    np.testing.assert_allclose(frames.world_to_local_ned(target, home), [40.0, 30.0, -150.0])
    np.testing.assert_allclose(frames.enu_to_ned([3.0, 4.0, 1.0]), [4.0, 3.0, -1.0])   # a climbing velocity


@given(yaw=angle)
def test_yaw_round_trips_and_north_is_zero(yaw):
    back = frames.yaw_ned_to_enu(frames.yaw_enu_to_ned(yaw))
    assert np.isclose(np.cos(back), np.cos(yaw)) and np.isclose(np.sin(back), np.sin(yaw))
    assert np.isclose(frames.yaw_enu_to_ned(np.pi / 2), 0.0)          # facing north
    assert np.isclose(frames.yaw_enu_to_ned(0.0), np.pi / 2)          # facing east


@given(roll=angle, pitch=st.floats(-1.5, 1.5), yaw=angle)
def test_quaternions_round_trip_and_agree_with_the_yaw_map(roll, pitch, yaw):
    q = euler2quat(roll, pitch, yaw, 'sxyz')          # body FLU in ENU
    q_ned = frames.quat_enu_flu_to_ned_frd(q)
    assert np.isclose(qnorm(q_ned), 1.0)
    back = frames.quat_ned_frd_to_enu_flu(q_ned)
    assert np.isclose(abs(np.dot(back, q)), 1.0)      # the same rotation (q and -q alike)
    if abs(pitch) < 1e-3 and abs(roll) < 1e-3:        # level flight: the NED yaw is pi/2 - the ENU yaw
        yaw_ned = quat2euler(q_ned, 'szyx')[0]
        assert np.isclose(np.cos(yaw_ned), np.cos(frames.yaw_enu_to_ned(yaw)), atol=1e-6)
        assert np.isclose(np.sin(yaw_ned), np.sin(frames.yaw_enu_to_ned(yaw)), atol=1e-6)


def test_level_flight_facing_north():
    q_ned = frames.quat_enu_flu_to_ned_frd(euler2quat(0.0, 0.0, np.pi / 2, 'sxyz'))
    np.testing.assert_allclose(np.abs(q_ned), [1.0, 0.0, 0.0, 0.0], atol=1e-12)   # identity in NED/FRD
