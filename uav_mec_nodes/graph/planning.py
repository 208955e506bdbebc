"""One slot's planning as plain objects: the planner node's logic, reused by `uav-mec replay`.

`PlanGate` gathers what the planner needs of slot t (the users, the channels,
the plant's states, the failure injector's report of slot t and every live UAV's
own state) and says when the slot can be decided: a UAV is down from the first of
the plant's state of slot t saying so (report-gated, so the plan never depends on
when a /failures message arrives), a FailureEvent, or no state of its own for
slot t while it holds no lease (no believed heartbeat of its own for lease_s, one
lease after the slot became ready); one holding its lease is waited for. A UAV
the injector's report of slot t fails during t is up at its start but owes no
state of t: it may have fallen silent, or been killed, before sending it.
`SlotPlanner.decide` takes what the planner knows at the start of slot t and
returns the policy's decisions, the policy acting on a model.World view of the
slot. Both read messages by field name only, so the same code takes rclpy
messages (the node) and rosbags messages (a bag).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from uav_mec_nodes.config import ScenarioConfig
from uav_mec_nodes.graph.contract import HISTORY_SLOTS
from uav_mec_nodes.graph.failure_book import FailureBook, LeaseWatch
from uav_mec_nodes.model.dnn_profiles import ProfileArrays, profiles_for
from uav_mec_nodes.model.failures import NEVER
from uav_mec_nodes.model.world import World


@dataclass
class SlotInputs:
    """What the planner knows at the start of slot `slot` (arrays of the Gym env's shapes)."""
    slot: int
    dnn_types: np.ndarray         # (I,)
    user_pos: np.ndarray          # (I, 3) [m]
    uav_pos: np.ndarray           # (J, 3) [m; world frame]
    uav_vel: np.ndarray           # (J, 3) [m/s; world frame]
    mu_uav_gain: np.ndarray       # (I, J) [linear]
    uav_uav_rate_bps: np.ndarray  # (J, J) [bit/s]
    alive_start: np.ndarray       # (J,) bool: s_j(t-1) as the planner sees it


@dataclass
class SlotPlan:
    slot: int
    partition_layer: np.ndarray   # (I,)
    serving_uav: np.ndarray       # (I,)
    migration_target: np.ndarray  # (I,), -1 for none
    cpu_share: np.ndarray         # (I,) share of the serving UAV's CPU (paper mode; else 1)
    local_cpu_fraction: np.ndarray  # (I,) of f_max (paper mode; else 1)
    accel: np.ndarray             # (J, 3) [m/s^2]
    alive_start: np.ndarray       # (J,) bool
    decision_time_s: float


def _points(points) -> np.ndarray:
    return np.array([[p.x, p.y, p.z] for p in points], dtype=float).reshape(-1, 3)


def inputs_from_messages(users, channel, uav_states: Sequence, alive_start) -> SlotInputs:
    """SlotInputs from a slot's UserStates, ChannelState and the J kinematic UavStates (by id)."""
    j = len(uav_states)
    return SlotInputs(
        slot=int(users.slot), dnn_types=np.asarray(users.dnn_types, np.int64), user_pos=_points(users.positions),
        uav_pos=_points([s.position for s in uav_states]), uav_vel=_points([s.velocity for s in uav_states]),
        mu_uav_gain=np.asarray(channel.mu_uav_gain, float).reshape(-1, j),
        uav_uav_rate_bps=np.asarray(channel.uav_uav_rate_bps, float).reshape(j, j),
        alive_start=np.asarray(alive_start, bool))


class SlotPlanner:
    """A policy deciding slot after slot on states built from outside (topics or a bag)."""

    def __init__(self, cfg: ScenarioConfig, policy, seed: int):
        self.cfg = cfg
        self.policy = policy
        self.policy.reset(seed)
        self.arrays = ProfileArrays.build(profiles_for(cfg.compute))
        self.num_users, self.num_uavs = cfg.scenario.num_users, cfg.scenario.num_uavs

    def decide(self, x: SlotInputs) -> SlotPlan:
        start = time.perf_counter()
        # the policy sees s_j(t-1) only (as in the Gym env): a UAV down at the slot's start failed before it
        fail_slots = np.where(x.alive_start, NEVER, x.slot - 1).astype(np.int64)
        world = World.view(self.cfg, self.arrays, x.slot, x.dnn_types, x.user_pos, x.uav_pos, x.uav_vel,
                           x.mu_uav_gain, x.uav_uav_rate_bps, fail_slots)
        decisions, accel = self.policy.act(world)
        n = self.num_users
        ones = np.ones(n)
        return SlotPlan(
            slot=x.slot, partition_layer=np.asarray(decisions.partition_layer, np.int64),
            serving_uav=np.asarray(decisions.serving_uav, np.int64),
            migration_target=np.asarray(decisions.migration_target, np.int64),
            cpu_share=ones if decisions.cpu_share is None else np.asarray(decisions.cpu_share, float),
            local_cpu_fraction=ones if decisions.local_cpu_fraction is None
            else np.asarray(decisions.local_cpu_fraction, float),
            accel=np.asarray(accel, float).reshape(self.num_uavs, 3), alive_start=world.alive_start.copy(),
            decision_time_s=time.perf_counter() - start)


def first_difference(recorded, plan: SlotPlan) -> Optional[str]:
    """Where a recorded Plan message and a SlotPlan differ first (None if every decision is equal)."""
    if len(recorded.decisions) != len(plan.partition_layer):
        return f'{len(recorded.decisions)} decisions recorded, {len(plan.partition_layer)} made'
    for i, d in enumerate(recorded.decisions):
        for name in ('partition_layer', 'serving_uav', 'migration_target'):
            was, now = int(getattr(d, name)), int(getattr(plan, name)[i])
            if was != now:
                return f'user {i}: {name} {was} recorded, {now} replayed'
    for cmd in recorded.uav_commands:
        was = np.array([cmd.acceleration.x, cmd.acceleration.y, cmd.acceleration.z])
        now = plan.accel[cmd.uav_id]
        if not np.array_equal(was, now):
            return f'UAV {cmd.uav_id}: acceleration {was.tolist()} recorded, {now.tolist()} replayed'
    return None


def users_message_problem(msg, num_users: int, num_types: int) -> Optional[str]:
    """Why a UserStates message cannot be used, or None."""
    if len(msg.positions) != num_users or len(msg.dnn_types) != num_users:
        return f'{len(msg.positions)} users, expected {num_users}'
    if not all(np.isfinite([p.x, p.y, p.z]).all() for p in msg.positions) or \
            max(msg.dnn_types, default=0) >= num_types:
        return 'NaN position or unknown DNN type'
    return None


def channel_message_problem(msg, num_users: int, num_uavs: int) -> Optional[str]:
    """Why a ChannelState message cannot be used, or None."""
    i, j = num_users, num_uavs
    if (msg.num_users, msg.num_uavs) != (i, j) or len(msg.mu_uav_gain) != i * j or \
            len(msg.uav_uav_rate_bps) != j * j:
        return 'wrong sizes'
    gains = np.asarray(msg.mu_uav_gain)
    if not np.all(np.isfinite(gains)) or np.any(gains < 0) or np.any(np.isnan(msg.uav_uav_rate_bps)):
        return 'NaN, inf or negative gains'
    return None


class PlanGate:
    """What the planner has of the slots ahead, and whether slot `slot` can be decided now."""

    def __init__(self, num_uavs: int, lease_s: float, startup_wait_s: float):
        self.num_uavs = num_uavs
        self.book = FailureBook(num_uavs)
        self.leases = LeaseWatch(num_uavs, lease_s, startup_wait_s)
        self.slot = 0
        self.users, self.channels, self.world = {}, {}, {}
        self.reports: Dict[int, Dict[int, Tuple[int, int]]] = {}   # slot -> {UAV: (slot, mode)}, the injector's
        self.uav_states: Dict[int, dict] = {j: {} for j in range(num_uavs)}
        self.waiting_since: Optional[float] = None

    def current(self, slot: int) -> bool:
        """Only slots being planned or about to be are kept (memory stays flat)."""
        return self.slot <= slot < self.slot + HISTORY_SLOTS

    def ready(self, now: float) -> Tuple[bool, List[Tuple[int, str]]]:
        """(whether slot `slot` can be decided, the UAVs to count down now with why)."""
        t = self.slot
        if t not in self.users or t not in self.channels or len(self.world.get(t, ())) < self.num_uavs or \
                t not in self.reports:
            return False, []
        for j, (failure_slot, mode) in self.reports[t].items():
            self.book.record(j, failure_slot, mode)
        for j, state in self.world[t].items():
            if not state.alive:   # the plant's states of slot t are report-gated: down at its start
                self.book.lost_before(j, t)
        if self.waiting_since is None:
            self.waiting_since = now
        waited = now - self.waiting_since
        missing = [int(j) for j in np.flatnonzero(self.book.alive_start(t))
                   if t not in self.uav_states[j] and j not in self.reports[t]]
        if any(waited < self.leases.patience_s(j, t, now) for j in missing):
            return False, []
        lost = []
        for j in missing:
            held = 'while holding its lease' if self.leases.held(j, now) else 'and no heartbeat for its lease'
            if self.book.lost_before(j, t):
                lost.append((j, f'no state for slot {t} after {waited:.2f} s {held}'))
        return True, lost

    def take(self):
        """Slot `slot`'s (users, channel, the plant's states by UAV, who is up at its start); the next slot is
        then the one waited for."""
        t = self.slot
        users, channel, world = self.users.pop(t), self.channels.pop(t), self.world.pop(t)
        self.reports.pop(t)
        for j in range(self.num_uavs):
            self.uav_states[j].pop(t, None)
        self.slot += 1
        self.waiting_since = None
        return users, channel, [world[j] for j in range(self.num_uavs)], self.book.alive_start(t)
