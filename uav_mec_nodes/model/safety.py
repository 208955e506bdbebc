"""The safety layer below the planner: commands an autopilot operator would accept.

Every plant gets its commands through `safe_accelerations` when the scenario's
`safety.enabled` is true (the Gym env applies the very same function, so both
give the same numbers). For each live UAV, in order:

1. acceleration within a_max and the next velocity within v_max, eq. (7);
2. the next position inside the area less `safety.margin_m` on each side and
   inside the altitude band (28c), with a braking envelope: after the slot the
   UAV can still stop inside them. A UAV is never commanded further out than
   it is, so one that hovers is never moved;
3. no two live UAVs commanded closer than d_safe (5): a UAV whose command
   would bring it within d_safe of an earlier one (lower id) is held instead
   (braked towards zero velocity), unless they are moving apart anyway.

Each intervention is returned per UAV as bits, so a policy that leans on the
layer is visible in the summary.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uav_mec_nodes.model.mobility import clip_norm

ACCELERATION = 1    # ||a|| > a_max (7)
SPEED = 2           # ||v(t+1)|| > v_max (7)
AREA = 4            # the next position would leave the area less its margin
ALTITUDE = 8        # the next altitude would leave [H_min, H_max] (28c)
SEPARATION = 16     # held: it would come within d_safe of another live UAV (5)
KINDS = {ACCELERATION: 'acceleration', SPEED: 'speed', AREA: 'area', ALTITUDE: 'altitude', SEPARATION: 'separation'}


@dataclass
class SafeCommands:
    accel: np.ndarray           # (J, 3) [m/s^2]: what the plant flies
    interventions: np.ndarray   # (J,) bit flags of the kinds above (0: the command was safe)


def _limit(q, v, a, cfg, flags):
    """(7) on a: ||a|| <= a_max, ||v + a delta|| <= v_max; flags the rows it changed."""
    u, delta = cfg.uavs, cfg.scenario.slot_s
    norm = np.linalg.norm(a, axis=-1)
    flags |= np.where(norm > u.a_max_mps2 * (1 + 1e-9), ACCELERATION, 0)
    a = clip_norm(a, u.a_max_mps2)
    v_next = v + a * delta
    fast = np.linalg.norm(v_next, axis=-1) > u.v_max_mps * (1 + 1e-9)
    flags |= np.where(fast, SPEED, 0)
    return (clip_norm(v_next, u.v_max_mps) - v) / delta


def _box(cfg):
    s, m = cfg.scenario, cfg.safety.margin_m
    return np.array([m, m, s.altitude_min_m]), np.array([s.area_m - m, s.area_m - m, s.altitude_max_m])


def next_position(q, v, a, delta: float):
    return q + v * delta + 0.5 * a * delta ** 2


def _max_accel_towards(gap, w, delta: float, a_brake: float):
    """Per axis: the largest acceleration towards a bound that leaves a stop before it.

    gap: distance to the bound after this slot at zero acceleration (bound - q - v delta);
    w: speed towards the bound now. After the slot, at speed w' = w + x delta and distance
    gap - x delta^2 / 2, braking at a_brake must stop in time: w'^2 <= 2 a_brake (distance).
    """
    # moving away from the bound at the slot's end: only the position must stay inside
    away = np.minimum(-w / delta, 2.0 * gap / delta ** 2)
    b = 2.0 * w * delta + a_brake * delta ** 2
    c = w ** 2 - 2.0 * a_brake * gap
    disc = b ** 2 - 4.0 * delta ** 2 * c
    towards = np.where(disc >= 0, (-b + np.sqrt(np.maximum(disc, 0.0))) / (2.0 * delta ** 2), -np.inf)
    return np.maximum(away, towards)


def _shrink_to(a, need, a_max: float):
    """Per row, the point on the segment from `need` to `a` furthest towards `a` within norm a_max (need
    itself where even it is longer: a state the layer cannot save in one slot, flown as far as (7) allows)."""
    d = a - need
    qa, qb = np.sum(d * d, axis=-1), 2.0 * np.sum(need * d, axis=-1)
    qc = np.sum(need * need, axis=-1) - a_max ** 2
    root = (-qb + np.sqrt(np.maximum(qb * qb - 4.0 * qa * qc, 0.0))) / (2.0 * np.maximum(qa, 1e-300))
    s = np.where(qc > 0, 0.0, np.clip(root, 0.0, 1.0))
    return need + s[:, None] * d


def _inside(q, v, a, cfg, flags):
    """(7), then the box per axis with a braking envelope, then (7) again.

    The box is the area less its margin and the altitude band, widened to where the UAV
    is now (it is never commanded further out). Per axis, the acceleration is limited so
    that after the slot the UAV can still stop inside the box braking at a_max / sqrt(3)
    on every axis at once. A box correction has priority: when the corrected command
    exceeds a_max, the axes the box did not touch give way first, and when the box's
    corrections alone exceed it, what each needs to brake in time is kept and only
    the rest of them gives way (so a UAV that can stop inside stays able to, at any
    speed).
    """
    delta, a_max = cfg.scenario.slot_s, cfg.uavs.a_max_mps2
    a = _limit(q, v, a, cfg, flags)
    lo, hi = _box(cfg)
    lo, hi = np.minimum(lo, q), np.maximum(hi, q)
    brake = a_max / np.sqrt(3.0)
    upper = _max_accel_towards(hi - q - v * delta, v, delta, brake)
    lower = -_max_accel_towards(q + v * delta - lo, -v, delta, brake)
    lower = np.minimum(lower, upper)
    bounded = np.clip(a, lower, upper)
    moved = np.abs(bounded - a) > 1e-9
    flags |= np.where(moved[..., :2].any(axis=-1), AREA, 0) | np.where(moved[..., 2], ALTITUDE, 0)
    fixed = np.where(moved, bounded, 0.0)
    free = np.where(moved, 0.0, a)
    over = np.sum(fixed ** 2, axis=-1) > a_max ** 2 * (1 + 1e-12)
    if over.any():   # the box's own corrections exceed a_max: keep what braking needs, shrink the rest
        fixed[over] = _shrink_to(fixed[over], np.where(moved, np.clip(0.0, lower, upper), 0.0)[over], a_max)
    room = np.sqrt(np.maximum(a_max ** 2 - np.sum(fixed ** 2, axis=-1, keepdims=True), 0.0))
    free_norm = np.linalg.norm(free, axis=-1, keepdims=True)
    a = fixed + free * np.minimum(1.0, room / np.maximum(free_norm, 1e-300))
    return _limit(q, v, a, cfg, np.zeros_like(flags))   # a correction beyond a_max is flown as far as (7) allows


def safe_accelerations(q: np.ndarray, v: np.ndarray, accel: np.ndarray, live: np.ndarray, cfg) -> SafeCommands:
    """The accelerations to fly instead of `accel` (J, 3), and what was changed, per UAV."""
    delta = cfg.scenario.slot_s
    q, v = np.asarray(q, float), np.asarray(v, float)
    live = np.asarray(live, bool)
    flags = np.zeros(len(q), np.int64)
    a = _inside(q, v, np.asarray(accel, float).copy(), cfg, flags)
    # separation: earlier (lower id) UAVs keep their command, a later one that would close in is held
    d_safe = cfg.uavs.d_safe_m
    planned = next_position(q, v, a, delta)
    for j in np.flatnonzero(live):
        for k in np.flatnonzero(live[:j]):
            gap_next = np.linalg.norm(planned[j] - planned[k])
            if gap_next < d_safe and gap_next < np.linalg.norm(q[j] - q[k]):
                brake = -v[j:j + 1] / delta
                a[j] = _inside(q[j:j + 1], v[j:j + 1], brake, cfg, np.zeros(1, np.int64))[0]
                planned[j] = next_position(q[j], v[j], a[j], delta)
                flags[j] |= SEPARATION
                break
    a[~live] = 0.0
    flags[~live] = 0
    return SafeCommands(a, flags)


def count(interventions) -> dict:
    """{kind: number of UAV-slots} of an array of intervention flags."""
    flags = np.asarray(interventions, np.int64).ravel()
    return {name: int(np.count_nonzero(flags & bit)) for bit, name in KINDS.items()}
