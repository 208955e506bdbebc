"""channel_sim's logic, without ROS: the episode's users, tasks and channels, and the accounting of each slot.

A model.World seeded as the Gym env's (so the users' motion, their tasks and the
fading draws are the Gym env's); the UAVs' kinematics come from the plant's
states (`begin`), failures from the slot's reports and the plan's view of live
UAVs (`book`). `account(plan)` turns a Plan (read by field name: an rclpy message
or a bag's) into decisions, evaluates the slot with the model and returns what the
node publishes. A malformed decision (NaN or out-of-range values, an unknown UAV
id, wrong counts) is replaced by a safe one (the whole DNN on the strongest live
UAV), with the reason, so every task still ends in one recorded state; a decision
naming a UAV that is down ends DROPPED, as in the model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np

from uav_mec_nodes.config import ScenarioConfig
from uav_mec_nodes.graph.failure_book import FailureBook
from uav_mec_nodes.model.failures import NEVER
from uav_mec_nodes.model.slot import SlotDecisions, evaluate_slot, load_kernels
from uav_mec_nodes.model.world import World, episode_rng, slot_info


def check_decision(d, i: int, num_layers: int, num_uavs: int, p_max: float):
    """None if OffloadDecision d for user i is well formed, else the reason."""
    if d.user_id != i:
        return f'decision {i} is for user {d.user_id}'
    if not 1 <= d.partition_layer <= num_layers:
        return f'partition_layer must be in [1, {num_layers}], got {d.partition_layer}'
    if not 0 <= d.serving_uav < num_uavs:
        return f'serving_uav: unknown UAV id {d.serving_uav} (J={num_uavs})'
    if not (d.migration_target == -1 or 0 <= d.migration_target < num_uavs):
        return f'migration_target: unknown UAV id {d.migration_target}'
    if math.isinf(d.tx_power_w) or (not math.isnan(d.tx_power_w) and not 0.0 <= d.tx_power_w <= p_max):
        return f'tx_power_w must be NaN (optimal) or in [0, {p_max}], got {d.tx_power_w}'
    for name in ('local_cpu_hz', 'uav_cpu_hz'):
        if not math.isfinite(getattr(d, name)) or getattr(d, name) < 0:
            return f'{name} must be finite and >= 0, got {getattr(d, name)}'
    return None


@dataclass
class Accounted:
    """One slot's accounting: the decisions as taken, the model's result, the Gym env's info dict."""
    slot: int
    decisions: SlotDecisions
    result: object
    info: dict
    alive_start: np.ndarray
    rejected: Dict[int, str] = field(default_factory=dict)     # user -> why its decision was replaced
    warnings: List[str] = field(default_factory=list)          # what the node logs


class SlotAccounting:
    def __init__(self, cfg: ScenarioConfig, seed: int):
        self.cfg = cfg
        load_kernels()   # before the run, not in its first slot
        self.world = World(cfg).start(episode_rng(seed))
        self.world.fail_slots[:] = NEVER   # failures come from the reports and the plan, not from the draw
        self.book = FailureBook(self.world.num_uavs)

    @property
    def slot(self) -> int:
        return self.world.t

    def begin(self, positions: np.ndarray, velocities: np.ndarray) -> None:
        """The plant's states of the current slot (slot 0's channels were drawn at the start, as the env's)."""
        if self.world.t > 0:
            self.world.begin_slot(positions, velocities)

    def decisions_from(self, plan):
        """SlotDecisions and accelerations from a plan; malformed entries replaced: (decisions, accel, rejected)."""
        w, cfg = self.world, self.cfg
        n, j_n = w.num_users, w.num_uavs
        layers = w.arrays.num_layers[w.dnn_type]
        alive = w.alive_start
        phi, serving, target = np.ones(n, np.int64), np.zeros(n, np.int64), np.full(n, -1, np.int64)
        power = np.full(n, np.nan)
        rejected = {}
        if len(plan.decisions) != n:   # more than I decisions: not one of them is looked at
            rejected = {i: f'plan has {len(plan.decisions)} decisions for {n} users' for i in range(n)}
        for i in range(n):
            d = plan.decisions[i] if i < len(plan.decisions) and i not in rejected else None
            reason = rejected.get(i) or check_decision(d, i, int(layers[i]), j_n, cfg.users.tx_power_max_w)
            if reason:
                rejected[i] = reason
                gains = np.where(alive, w.mu_uav_gain[i], -np.inf)
                serving[i] = int(np.argmax(gains)) if alive.any() else 0
                continue
            phi[i], serving[i], target[i], power[i] = d.partition_layer, d.serving_uav, d.migration_target, \
                d.tx_power_w
        share = frac = None
        if w.paper_mode:
            given = plan.decisions[:n]
            share = np.array([d.uav_cpu_hz / cfg.uavs.cpu_hz if i not in rejected else 1.0
                              for i, d in enumerate(given)] + [1.0] * (n - len(given)))
            frac = np.array([d.local_cpu_hz / cfg.users.cpu_max_hz if i not in rejected else 1.0
                             for i, d in enumerate(given)] + [1.0] * (n - len(given)))
            share = np.where(share > 0, share, 1.0)
            frac = np.clip(np.where(frac > 0, frac, 1.0), 1e-9, 1.0)
        accel = np.zeros((j_n, 3))
        for cmd in plan.uav_commands[:j_n]:
            a = (cmd.acceleration.x, cmd.acceleration.y, cmd.acceleration.z)
            if cmd.uav_id < j_n and all(math.isfinite(v) for v in a):
                accel[cmd.uav_id] = a
        return SlotDecisions(phi, serving, target, share, frac, power), accel, rejected

    def account(self, plan) -> Accounted:
        """The current slot, decided by this plan, evaluated; the world moves on to the next slot."""
        w, t = self.world, self.world.t
        if len(plan.uav_alive) == w.num_uavs:
            for j in np.flatnonzero(~np.array(plan.uav_alive, bool)):
                self.book.lost_before(int(j), t)
        w.fail_slots, w.lost_slots = self.book.fail_slots.copy(), self.book.lost_slots.copy()
        decisions, accel, rejected = self.decisions_from(plan)
        state, fly = w.slot_inputs()
        result = evaluate_slot(self.cfg, w.arrays, decisions, state, fly)
        warnings = [f'slot {t}: rejected decision for user {i}: {reason}; served whole by UAV '
                    f'{decisions.serving_uav[i]} instead' for i, reason in rejected.items()]
        warnings += [f'slot {t}: decision for user {i} names UAV {decisions.serving_uav[i]}, which is down: the '
                     'task is dropped' for i in np.flatnonzero(~state.alive_start[decisions.serving_uav])
                     if int(i) not in rejected]
        motion = w.finish_slot(result, accel, draw_next_channels=False)
        info = slot_info(result, motion, w.fail_slots, w.lost_slots)
        info['reward'] = -result.e_tot * motion.reward_factor
        info['rejected'] = rejected
        return Accounted(t, decisions, result, info, state.alive_start, rejected, warnings)

    @property
    def over(self) -> bool:
        return self.world.t >= self.world.num_slots
