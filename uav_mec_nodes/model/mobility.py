"""Mobility of users (Gauss-Markov, eqs. (3)-(4)) and UAVs (eqs. (5)-(7), (28c)).

Users stay inside the square area by reflection at its borders: the position is
mirrored back and the heading (and the user's mean heading) turns away from
the wall, so nobody piles up on a border. Each user keeps its own mean heading
theta-bar_i, drawn uniformly at reset (the paper's "average direction" is not
given a value).
"""
import functools
from dataclasses import dataclass

import numpy as np


@dataclass
class UserMotion:
    """Users' kinematic state. Positions [m; world frame, z = 0], speed [m/s], headings [rad]."""
    position: np.ndarray        # (I, 3)
    speed_mps: np.ndarray       # (I,)
    heading_rad: np.ndarray     # (I,)
    mean_heading_rad: np.ndarray  # (I,) theta-bar_i

    def copy(self) -> 'UserMotion':
        return UserMotion(self.position.copy(), self.speed_mps.copy(), self.heading_rad.copy(),
                          self.mean_heading_rad.copy())


def init_users(num_users: int, cfg, rng: np.random.Generator) -> UserMotion:
    area = cfg.scenario.area_m
    pos = np.zeros((num_users, 3))
    pos[:, :2] = rng.uniform(0.0, area, size=(num_users, 2))
    mean_heading = rng.uniform(-np.pi, np.pi, size=num_users)
    return UserMotion(pos, np.full(num_users, cfg.users.mean_speed_mps), mean_heading.copy(), mean_heading)


def _reflect(x: np.ndarray, upper: float):
    """Mirror x into [0, upper]; returns (x, flipped) where flipped marks odd reflections."""
    period = 2.0 * upper
    y = np.mod(x, period)
    flipped = y > upper
    return np.where(flipped, period - y, y), flipped


def step_users(m: UserMotion, cfg, rng: np.random.Generator) -> UserMotion:
    """One slot: position update (4) with the previous speed and heading, then (3a)(3b)."""
    u, delta, area = cfg.users, cfg.scenario.slot_s, cfg.scenario.area_m
    direction = np.empty((len(m.heading_rad), 2))
    direction[:, 0], direction[:, 1] = np.cos(m.heading_rad), np.sin(m.heading_rad)
    xy, flip = _reflect(m.position[:, :2] + m.speed_mps[:, None] * direction * delta, area)   # both axes at once
    x, y, flip_x, flip_y = xy[:, 0], xy[:, 1], flip[:, 0], flip[:, 1]
    heading, mean = m.heading_rad, m.mean_heading_rad   # np.where makes new arrays: m is not changed
    # a wall turns the motion around: mirror the heading and its mean
    heading = np.where(flip_x, np.pi - heading, heading)
    mean = np.where(flip_x, np.pi - mean, mean)
    heading = np.where(flip_y, -heading, heading)
    mean = np.where(flip_y, -mean, mean)
    mu1, mu2 = u.memory_heading, u.memory_speed
    psi = rng.normal(0.0, u.heading_noise_std_rad, size=heading.shape)
    phi = rng.normal(0.0, u.speed_noise_std_mps, size=heading.shape)
    heading = mu1 * heading + (1 - mu1) * mean + np.sqrt(1 - mu1 ** 2) * psi
    speed = mu2 * m.speed_mps + (1 - mu2) * u.mean_speed_mps + np.sqrt(1 - mu2 ** 2) * phi
    speed = np.maximum(speed, 0.0)
    pos = np.zeros((len(x), 3))
    pos[:, 0], pos[:, 1] = x, y
    return UserMotion(pos, speed, heading, mean)


def init_uavs(num_uavs: int, cfg, rng: np.random.Generator, max_tries: int = 1000) -> np.ndarray:
    """Random start positions (J, 3) inside the area and altitudes, pairwise >= d_safe apart."""
    s = cfg.scenario
    for _ in range(max_tries):
        q = np.column_stack([rng.uniform(0, s.area_m, num_uavs), rng.uniform(0, s.area_m, num_uavs),
                             rng.uniform(s.altitude_min_m, s.altitude_max_m, num_uavs)])
        if num_uavs < 2 or min_pairwise_distance(q) >= cfg.uavs.d_safe_m:
            return q
    raise RuntimeError('could not place UAVs d_safe apart; lower uavs.d_safe_m')


def row_norms(x: np.ndarray, keepdims: bool = False) -> np.ndarray:
    """Euclidean norms over the last axis: np.linalg.norm(x, axis=-1) to the bit (the same sum of squares),
    without its dispatch, which costs more than the arithmetic on a few rows."""
    x = np.asarray(x, dtype=float)
    return np.sqrt(np.add.reduce(x * x, axis=-1, keepdims=keepdims))


@functools.lru_cache(maxsize=None)
def _upper_pairs(n: int):
    return np.triu_indices(n, 1)


def min_pairwise_distance(q: np.ndarray) -> float:
    if len(q) < 2:
        return np.inf
    d = row_norms(q[:, None, :] - q[None, :, :])
    return float(d[_upper_pairs(len(q))].min())


def clip_norm(vectors: np.ndarray, max_norm: float) -> np.ndarray:
    """Scale rows whose Euclidean norm exceeds max_norm back onto the ball."""
    n = row_norms(vectors, keepdims=True)
    return vectors * np.minimum(1.0, max_norm / np.maximum(n, 1e-300))


@dataclass
class UavStep:
    position: np.ndarray        # q_j(t+1) (J, 3) [m]
    velocity: np.ndarray        # v_j(t+1) (J, 3) [m/s]
    acceleration: np.ndarray    # a_j(t) applied (J, 3) [m/s^2], after the limits of (7)
    out_of_bounds: np.ndarray   # (J,) bool: the commanded motion left the area or altitudes
    collision: bool             # (5) violated between two live UAVs after the step


def step_uavs(q: np.ndarray, v: np.ndarray, accel: np.ndarray, alive: np.ndarray, cfg) -> UavStep:
    """Eqs. (6)-(7): limit ||a|| <= a_max and ||v(t+1)|| <= v_max, move, keep inside (28c).

    Dead UAVs stay where they are with zero velocity. A UAV pushed past a border
    is held on it (that velocity component set to 0) and flagged for P_0.
    """
    s, u, delta = cfg.scenario, cfg.uavs, cfg.scenario.slot_s
    a = clip_norm(np.asarray(accel, dtype=float), u.a_max_mps2)
    v_next = clip_norm(v + a * delta, u.v_max_mps)
    a = (v_next - v) / delta  # the acceleration actually flown
    q_next = q + v * delta + 0.5 * a * delta ** 2
    lower, upper = _area_box(s.area_m, s.altitude_min_m, s.altitude_max_m)
    outside = (q_next < lower - 1e-9) | (q_next > upper + 1e-9)
    q_next = np.minimum(np.maximum(q_next, lower), upper)   # np.clip, without its dispatch
    v_next = np.where(outside, 0.0, v_next)
    dead = ~np.asarray(alive, dtype=bool)
    if dead.any():
        q_next[dead], v_next[dead], a[dead] = q[dead], 0.0, 0.0
        outside[dead] = False
        live_q = q_next[~dead]
    else:
        live_q = q_next
    collision = min_pairwise_distance(live_q) < u.d_safe_m
    return UavStep(q_next, v_next, a, outside.any(axis=1), bool(collision))


@functools.lru_cache(maxsize=8)
def _area_box(area_m: float, altitude_min_m: float, altitude_max_m: float):
    """The (lower, upper) corners of the flight volume (28c); callers do not write to them."""
    lower, upper = np.array([0.0, 0.0, altitude_min_m]), np.array([area_m, area_m, altitude_max_m])
    lower.flags.writeable = upper.flags.writeable = False
    return lower, upper


def accel_towards(q: np.ndarray, v: np.ndarray, target: np.ndarray, cfg) -> np.ndarray:
    """The constant acceleration that reaches `target` in one slot by (6); step_uavs then limits it (7)."""
    delta = cfg.scenario.slot_s
    return 2.0 * (np.asarray(target, float) - q - v * delta) / delta ** 2
