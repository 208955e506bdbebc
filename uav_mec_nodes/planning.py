"""One slot's planning as a plain object: the planner node's logic, reused by `uav-mec replay`.

`SlotPlanner.decide` takes what the planner knows at the start of slot t (the
users, the channels, the UAVs' kinematic states and which UAVs are up) and
returns the policy's decisions. It reads messages by field name only, so the
same code takes rclpy messages (the node) and rosbags messages (a bag).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from uav_mec_nodes.config import ScenarioConfig
from uav_mec_nodes.env.uav_mec_env import UavMecEnv
from uav_mec_nodes.model.failures import NEVER


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
        self.env = UavMecEnv(cfg)
        self.env.reset(seed=seed)
        self.num_users, self.num_uavs = self.env.num_users, self.env.num_uavs

    def decide(self, x: SlotInputs) -> SlotPlan:
        start = time.perf_counter()
        # the policy sees s_j(t-1) only (as in the Gym env): a UAV down at the slot's start failed before it
        fail_slots = np.where(x.alive_start, NEVER, x.slot - 1).astype(np.int64)
        self.env.load_view(x.slot, x.dnn_types, x.user_pos, x.uav_pos, x.uav_vel, x.mu_uav_gain,
                           x.uav_uav_rate_bps, fail_slots)
        decisions, accel = self.policy.act(self.env)
        n = self.num_users
        ones = np.ones(n)
        return SlotPlan(
            slot=x.slot, partition_layer=np.asarray(decisions.partition_layer, np.int64),
            serving_uav=np.asarray(decisions.serving_uav, np.int64),
            migration_target=np.asarray(decisions.migration_target, np.int64),
            cpu_share=ones if decisions.cpu_share is None else np.asarray(decisions.cpu_share, float),
            local_cpu_fraction=ones if decisions.local_cpu_fraction is None
            else np.asarray(decisions.local_cpu_fraction, float),
            accel=np.asarray(accel, float).reshape(self.num_uavs, 3), alive_start=self.env.alive_start.copy(),
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
