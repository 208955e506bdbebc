"""Permanent UAV failures, eqs. (10)-(13), with the slot timing of SPEC.md.

A failure schedule is one integer per UAV: `fail_slot[j] = t` means s_j(t) = 0
(the UAV fails during slot t and is down from then on); NEVER if it does not
fail in the episode. Then
    alive at the start of slot t  (s_j(t-1) = 1):  fail_slot[j] >= t
    alive at the end of slot t    (s_j(t)   = 1):  fail_slot[j] >  t
so s_j is non-increasing (10), and at most F_max entries are < NEVER (11).

A UAV can also be lost between two slots (SPEC's open case of a UAV node that
freezes or is cut off: the graph notices it only by its lease while slot t is
awaited). `lost_slot[j] = t` means: it served slot t-1 to the end (its tasks of
t-1 completed, it could take migrations), and it is down from the start of slot t
on, with nothing to migrate. Then
    alive at the start of slot t:  fail_slot[j] >= t and lost_slot[j] > t
    alive at the end of slot t:    fail_slot[j] >  t and lost_slot[j] > t
A UAV is lost or fails, never both; both count toward F_max.
"""
from typing import Optional

import numpy as np

NEVER = np.iinfo(np.int64).max


def draw_failure_slots(num_uavs: int, num_slots: int, cfg, rng: np.random.Generator) -> np.ndarray:
    """Failure slot of every UAV for one episode, drawn under `failures.model`."""
    f = cfg.failures
    slots = np.full(num_uavs, NEVER, dtype=np.int64)
    max_failures = min(f.max_failures, num_uavs)
    if f.model == 'none' or max_failures == 0:
        return slots
    if f.model == 'uniform':
        count = min(f.num_failures, max_failures)
        uavs = rng.choice(num_uavs, size=count, replace=False)
        slots[uavs] = rng.integers(0, num_slots, size=count)
    elif f.model == 'hazard':
        if f.hazard_per_slot > 0:
            first = rng.geometric(f.hazard_per_slot, size=num_uavs) - 1  # slot of the first failure draw
            # (11): only the earliest F_max failures happen; ties broken at random
            order = np.lexsort((rng.random(num_uavs), first))
            keep = order[:max_failures]
            keep = keep[first[keep] < num_slots]
            slots[keep] = first[keep]
    elif f.model == 'schedule':
        for uav, slot in f.schedule:
            if uav < num_uavs and slot < num_slots:
                slots[uav] = slot
    return slots


def lost_slots_of(num_uavs: int, num_slots: int, cfg) -> np.ndarray:
    """The slot each UAV is lost before (`failures.lost_schedule`, model=schedule), NEVER otherwise."""
    slots = np.full(num_uavs, NEVER, dtype=np.int64)
    if cfg.failures.model == 'schedule':
        for uav, slot in cfg.failures.lost_schedule:
            if uav < num_uavs and slot < num_slots:
                slots[uav] = slot
    return slots


def alive_at_start(fail_slots: np.ndarray, t: int, lost_slots: Optional[np.ndarray] = None) -> np.ndarray:
    """s_j(t-1): the UAV can be associated in slot t, eq. (28h) with SPEC's timing."""
    alive = fail_slots >= t
    return alive if lost_slots is None else alive & (lost_slots > t)


def alive_at_end(fail_slots: np.ndarray, t: int, lost_slots: Optional[np.ndarray] = None) -> np.ndarray:
    """s_j(t): the UAV survives slot t and can take migrated tasks, eq. (13)."""
    alive = fail_slots > t
    return alive if lost_slots is None else alive & (lost_slots > t)


def failing_in(fail_slots: np.ndarray, t: int) -> np.ndarray:
    """UAVs whose failure happens during slot t; their tasks must migrate, eq. (12)."""
    return fail_slots == t
