"""A reference that flies: greedy offloading, and UAVs that cruise near their users at the cheapest speed.

Propulsion power (2) is least not in hover but at a cruise speed V* (about
10 m/s for the paper's constants, about 25% below hover power), so a UAV that
circles over its users at V* spends less on flight than one that hovers there.
Each slot, per live UAV:

- its users are the ones the offloading decisions give it (else the nearest
  ones); it circles the centre of their positions at V*, at radius
  `orbit_radius_m` (at least 1.5 V*^2 / a_max, so (7) can hold the turn),
  a little above the lowest altitude (the channel is best there);
- the centre is kept inside the area by the margin plus the radius, and two
  centres are pushed apart to 2 r + d_safe;
- the commands pass through the safety layer (model/safety.py) with its
  margin, so the motion stays off the border and d_safe apart whatever the
  scenario's `safety.enabled` says.

The offloading decisions (partition, association, migration target) are the
greedy reference's (policies/greedy.py).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from scipy.optimize import minimize_scalar

from uav_mec_nodes.model import safety
from uav_mec_nodes.model.mobility import clip_norm
from uav_mec_nodes.model.propulsion import propulsion_power_w
from uav_mec_nodes.policies.baselines import Policy

ALTITUDE_ABOVE_MIN_M = 5.0    # flies this far above H_min, clear of the band's edge
CLIMB_GAIN = 0.5              # [1/s] vertical speed per metre of altitude error


def cruise_speed_mps(cfg) -> float:
    """argmin over [0, v_max] of the propulsion power P(V) of (2), for the configured constants."""
    def power(v):
        return float(propulsion_power_w(v, cfg.propulsion))
    result = minimize_scalar(power, bounds=(0.0, cfg.uavs.v_max_mps), method='bounded', options={'xatol': 1e-6})
    return min((float(result.x), 0.0, cfg.uavs.v_max_mps), key=power)   # the least may be at a bound


def orbit_radius_m(cfg, speed_mps: float) -> float:
    """A turn radius (7) can hold at this speed, with room to spare."""
    return max(1.5 * speed_mps ** 2 / cfg.uavs.a_max_mps2, 2.0 * cfg.uavs.d_safe_m)


def orbit_centres(user_xy, serving, uav_xy, live, cfg, radius: float) -> np.ndarray:
    """(J, 2) centres: each live UAV's users' mean position, inside the area, 2 r + d_safe apart."""
    j_n = len(uav_xy)
    centres = np.asarray(uav_xy, float).copy()
    for j in np.flatnonzero(live):
        mine = np.flatnonzero(serving == j)
        if len(mine) == 0:   # no user this slot: the nearest ones
            distance = np.linalg.norm(user_xy - uav_xy[j], axis=1)
            mine = np.argsort(distance)[:max(1, len(user_xy) // max(int(live.sum()), 1))]
        centres[j] = user_xy[mine].mean(axis=0)
    lo = cfg.safety.margin_m + radius
    hi = cfg.scenario.area_m - cfg.safety.margin_m - radius
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


def orbit_accelerations(q, v, centres, live, cfg, speed: float, radius: float) -> np.ndarray:
    """(J, 3) accelerations that bring each live UAV onto its circle and along it at `speed`."""
    delta = cfg.scenario.slot_s
    accel = np.zeros_like(q)
    z_target = cfg.scenario.altitude_min_m + ALTITUDE_ABOVE_MIN_M
    for j in np.flatnonzero(live):
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


class FlyingReference(Policy):
    """Greedy offloading; UAVs circling their users at the speed of least propulsion power."""
    name = 'flying-greedy'

    def __init__(self, offloading: Optional[Policy] = None):
        from uav_mec_nodes.policies.greedy import GreedyOptimum
        self.offloading = offloading or GreedyOptimum()
        self.speed = self.radius = None

    def reset(self, seed: Optional[int] = None) -> None:
        super().reset(seed)
        self.offloading.reset(seed)

    def act(self, env):
        decisions, _ = self.offloading.act(env)
        cfg = env.cfg
        if self.speed is None:
            self.speed = cruise_speed_mps(cfg)
            self.radius = orbit_radius_m(cfg, self.speed)
        live = env.alive_start
        users = env.users.position[:, :2]
        centres = orbit_centres(users, np.asarray(decisions.serving_uav), env.uav_pos[:, :2], live, cfg,
                                self.radius)
        accel = orbit_accelerations(env.uav_pos, env.uav_vel, centres, live, cfg, self.speed, self.radius)
        # commands an operator would accept, whatever the scenario's safety.enabled says
        return decisions, safety.safe_accelerations(env.uav_pos, env.uav_vel, accel, live, cfg).accel
