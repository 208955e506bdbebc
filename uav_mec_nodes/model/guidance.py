"""Orbit guidance: UAVs that circle their users at the speed of least propulsion power (2).

Propulsion power (2) is least not in hover but at a cruise speed V* (about
10 m/s for the paper's constants, about 25% below hover power), so a UAV that
circles over its users at V* spends less on flight than one that hovers there.
Per live UAV:

- its users are the ones the offloading decisions give it (else the nearest
  ones); it circles a centre at their mean position (plus an offset, which a
  learner may choose) at V*, at radius `orbit_radius_m` (at least
  1.5 V*^2 / a_max, so (7) can hold the turn), at a target altitude;
- the centre is kept inside the area by the safety margin, a clearance and the radius, and
  two centres are pushed apart to 2 r + d_safe.

Used by the flying reference (policies/flying.py) and by the env's `orbit`
motion action (modes.motion_action), so a learner's motion is flyable by
construction: it chooses where to circle, never how hard to accelerate.
"""
from __future__ import annotations

import functools

import numpy as np
from scipy.optimize import minimize_scalar

from uav_mec_nodes.model.mobility import clip_norm
from uav_mec_nodes.model.propulsion import flight_energy_j, propulsion_power_w

ALTITUDE_ABOVE_MIN_M = 5.0    # flies this far above H_min, clear of the band's edge
ORBIT_CLEARANCE_M = 15.0      # circles stay this far inside the safety margin: an orbit never leans on the layer
CLIMB_GAIN = 0.5              # [1/s] vertical speed per metre of altitude error


def cruise_speed_mps(cfg) -> float:
    """argmin over [0, v_max] of the propulsion power P(V) of (2), for the configured constants."""
    return _cruise_speed(cfg.propulsion, cfg.uavs.v_max_mps)


@functools.lru_cache(maxsize=16)   # the sections are frozen: one search per set of constants
def _cruise_speed(propulsion, v_max_mps: float) -> float:
    def power(v):
        return float(propulsion_power_w(v, propulsion))
    result = minimize_scalar(power, bounds=(0.0, v_max_mps), method='bounded', options={'xatol': 1e-6})
    return min((float(result.x), 0.0, v_max_mps), key=power)   # the least may be at a bound


def least_flight_energy_j(slot: int, cfg) -> float:
    """The least e_fly a UAV can spend in slot `slot` (0-based) of an episode it starts at rest: its speed at the
    slot's start is at most slot * a_max * delta, and P falls up to V* (then rises), so P(min(that, V*))."""
    speed = min(slot * cfg.uavs.a_max_mps2 * cfg.scenario.slot_s, cruise_speed_mps(cfg))
    return float(flight_energy_j(speed, cfg.scenario.slot_s, cfg.propulsion))


def orbit_radius_m(cfg, speed_mps: float) -> float:
    """A turn radius (7) can hold at this speed, with room to spare."""
    return max(1.5 * speed_mps ** 2 / cfg.uavs.a_max_mps2, 2.0 * cfg.uavs.d_safe_m)


def users_mean_xy(user_xy, serving, uav_xy, live) -> np.ndarray:
    """(J, 2) each live UAV's users' mean position (no user this slot: the nearest ones); a dead UAV's own xy."""
    means = np.asarray(uav_xy, float).copy()
    for j in np.flatnonzero(live):
        mine = np.flatnonzero(serving == j)
        if len(mine) == 0:   # no user this slot: the nearest ones
            distance = np.linalg.norm(user_xy - uav_xy[j], axis=1)
            mine = np.argsort(distance)[:max(1, len(user_xy) // max(int(live.sum()), 1))]
        means[j] = user_xy[mine].mean(axis=0)
    return means


def orbit_centres(user_xy, serving, uav_xy, live, cfg, radius: float, offset_xy=None) -> np.ndarray:
    """(J, 2) centres: each live UAV's users' mean position (+ offset_xy), inside the area, 2 r + d_safe apart."""
    j_n = len(uav_xy)
    centres = users_mean_xy(user_xy, serving, uav_xy, live)
    if offset_xy is not None:
        mask = np.asarray(live, bool)
        centres[mask] += np.asarray(offset_xy, float)[mask]
    lo = cfg.safety.margin_m + ORBIT_CLEARANCE_M + radius
    hi = cfg.scenario.area_m - cfg.safety.margin_m - ORBIT_CLEARANCE_M - radius
    gap = 2.0 * radius + cfg.uavs.d_safe_m
    for _ in range(3):   # a few rounds of pushing overlapping orbits apart, then back inside
        for a in np.flatnonzero(live):
            for b in np.flatnonzero(live[:a]):
                d = centres[a] - centres[b]
                norm = np.linalg.norm(d)
                if norm < gap:
                    direction = d / norm if norm > 1e-9 else np.array([1.0, 0.0])
                    shift = 0.5 * (gap - norm) * direction
                    centres[a] += shift
                    centres[b] -= shift
        centres = np.clip(centres, lo, hi) if lo < hi else np.full_like(centres, cfg.scenario.area_m / 2)
    return centres[:j_n]


def orbit_accelerations(q, v, centres, live, cfg, speed: float, radius: float, altitude_m=None) -> np.ndarray:
    """(J, 3) accelerations that bring each live UAV onto its circle and along it at `speed`, at altitude_m
    (default: just above H_min, where the channel is best)."""
    delta = cfg.scenario.slot_s
    accel = np.zeros_like(q)
    z_default = cfg.scenario.altitude_min_m + ALTITUDE_ABOVE_MIN_M
    for j in np.flatnonzero(live):
        z_target = z_default if altitude_m is None else altitude_m[j]
        u = q[j, :2] - centres[j]
        dist = np.linalg.norm(u)
        radial = u / dist if dist > 1e-6 else np.array([1.0, 0.0])
        tangent = np.array([-radial[1], radial[0]])                       # counter-clockwise
        # far from the circle: mostly towards it; on it: along it
        heading = tangent - np.clip((dist - radius) / radius, -2.0, 2.0) * radial
        horizontal = speed * heading / np.linalg.norm(heading)
        vertical = np.clip(CLIMB_GAIN * (z_target - q[j, 2]), -2.0, 2.0)
        desired = np.append(horizontal, vertical)
        accel[j] = clip_norm((desired - v[j]) / delta, cfg.uavs.a_max_mps2)
    return accel


ORBIT_OFFSET_M = 100.0   # how far from its users' mean position the orbit action can put a centre
# Steady orbits: a centre moves at most this far a slot. A turn keeps the cruise speed while the velocity turns
# by at most 2 asin(a_max delta / (2 V*)) (about 28 degrees a slot); a centre that jumps to a new users' mean
# (a user handed to another UAV) asks for more, the acceleration is clipped and the UAV slows off V*.
CENTRE_STEP_M = 5.0


def steady_orbit_action(previous_centres, user_xy, serving, q, live, cfg):
    """The orbit action ((J, 3), centred low) whose centres move at most CENTRE_STEP_M from previous_centres
    towards the users' means (None: straight to them), and the centres it flies, (J, 2)."""
    radius = orbit_radius_m(cfg, cruise_speed_mps(cfg))
    target = orbit_centres(user_xy, serving, q[:, :2], live, cfg, radius)
    desired = target
    if previous_centres is not None:
        step = target - previous_centres
        norm = np.linalg.norm(step, axis=1, keepdims=True)
        desired = previous_centres + step * np.minimum(1.0, CENTRE_STEP_M / np.maximum(norm, 1e-9))
    offset = np.clip((desired - users_mean_xy(user_xy, serving, q[:, :2], live)) / ORBIT_OFFSET_M, -1.0, 1.0)
    offset[~np.asarray(live, bool)] = 0.0
    action = np.column_stack([offset, np.full(len(q), -1.0)])
    return action, orbit_centres(user_xy, serving, q[:, :2], live, cfg, radius, offset * ORBIT_OFFSET_M)


def orbit_action(action, user_xy, serving, q, v, live, cfg) -> np.ndarray:
    """(J, 3) accelerations from a (J, 3) action in [-1, 1]: the centre's offset from the UAV's users
    (+-ORBIT_OFFSET_M in x and y) and the altitude within the band (H_min, H_max, ALTITUDE_ABOVE_MIN_M inside)."""
    a = np.clip(np.asarray(action, float).reshape(-1, 3), -1.0, 1.0)
    speed = cruise_speed_mps(cfg)
    radius = orbit_radius_m(cfg, speed)
    centres = orbit_centres(user_xy, serving, q[:, :2], live, cfg, radius, a[:, :2] * ORBIT_OFFSET_M)
    low = cfg.scenario.altitude_min_m + ALTITUDE_ABOVE_MIN_M
    high = max(cfg.scenario.altitude_max_m - ALTITUDE_ABOVE_MIN_M, low)
    return orbit_accelerations(q, v, centres, live, cfg, speed, radius, low + (a[:, 2] + 1.0) / 2.0 * (high - low))
