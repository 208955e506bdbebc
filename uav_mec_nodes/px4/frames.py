"""ENU/FLU (ROS, the graph's world frame) <-> NED/FRD (PX4), with transforms3d.

Positions and velocities: ENU (x east, y north, z up) -> NED: (y, x, -z), a proper rotation
(180 degrees about the axis between east and north), its own inverse. Yaw: psi_ned = pi/2 -
psi_enu. Attitude quaternions (w, x, y, z): the body frame FLU -> FRD is a further 180
degrees about x. Each PX4 vehicle's local NED frame has its origin at the vehicle's home
(where it booted), given in the world frame.
"""
from __future__ import annotations

import numpy as np
from transforms3d.quaternions import mat2quat, qmult

ENU_TO_NED = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])   # also NED -> ENU
FLU_TO_FRD = np.diag([1.0, -1.0, -1.0])
Q_ENU_TO_NED = mat2quat(ENU_TO_NED)
Q_FLU_TO_FRD = mat2quat(FLU_TO_FRD)


def enu_to_ned(v) -> np.ndarray:
    """A vector (or rows of vectors) from ENU to NED; velocities and offsets alike."""
    return np.asarray(v, float) @ ENU_TO_NED.T


def ned_to_enu(v) -> np.ndarray:
    return np.asarray(v, float) @ ENU_TO_NED.T


def world_to_local_ned(p_world, home_world) -> np.ndarray:
    """A world-frame (ENU) point in a vehicle's local NED frame (origin at its home)."""
    return enu_to_ned(np.asarray(p_world, float) - np.asarray(home_world, float))


def local_ned_to_world(p_ned, home_world) -> np.ndarray:
    return ned_to_enu(p_ned) + np.asarray(home_world, float)


def yaw_enu_to_ned(yaw_enu: float) -> float:
    """Heading: counter-clockwise from east (ENU) -> clockwise from north (NED), in (-pi, pi]."""
    return float(np.arctan2(np.cos(yaw_enu), np.sin(yaw_enu)))


def yaw_ned_to_enu(yaw_ned: float) -> float:
    return yaw_enu_to_ned(yaw_ned)   # the map is its own inverse


def quat_enu_flu_to_ned_frd(q_enu_flu) -> np.ndarray:
    """Attitude (w, x, y, z): body FLU in world ENU -> body FRD in world NED."""
    return qmult(qmult(Q_ENU_TO_NED, np.asarray(q_enu_flu, float)), Q_FLU_TO_FRD)


def quat_ned_frd_to_enu_flu(q_ned_frd) -> np.ndarray:
    return quat_enu_flu_to_ned_frd(q_ned_frd)   # both frame changes are their own inverses
