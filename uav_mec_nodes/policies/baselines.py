"""Baseline policies of the paper's Sec. Simulation Results (and the greedy reference).

All act on the environment's decoded interface (SlotDecisions + accelerations)
and share one rule for what the paper leaves to the scheme: each user is served
by the live UAV with the strongest channel, the standby migration target is the
live UAV with the fastest link from the serving one, and the UAVs hover (they
brake to zero velocity). Randomness comes from the generator given at reset.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional

import numpy as np

from uav_mec_nodes.model.slot import SlotDecisions


def nearest_live_association(env) -> tuple[np.ndarray, np.ndarray]:
    """(serving_uav, migration_target) by channel gain and UAV-UAV rate, live UAVs only."""
    alive = env.alive_start
    gain = np.where(alive[None, :], env.mu_uav_gain, -np.inf)
    serving = np.argmax(gain, axis=1)
    rate = np.where(alive[None, :], env.uav_uav_rate[serving], -np.inf)
    rate[np.arange(len(serving)), serving] = -np.inf
    target = np.where(np.isfinite(rate).any(axis=1), np.argmax(rate, axis=1), -1)
    return serving, target


def hover(env) -> np.ndarray:
    """Accelerations that brake every UAV towards zero velocity within a_max."""
    return -env.uav_vel / env.cfg.scenario.slot_s


class Policy:
    name = 'policy'

    def reset(self, seed: Optional[int] = None) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, env) -> tuple[SlotDecisions, np.ndarray]:
        raise NotImplementedError


class OffloadAll(Policy):
    """phi = 1: the whole DNN runs on the UAV (paper's 'offloading execution')."""
    name = 'offload-all'

    def act(self, env):
        serving, target = nearest_live_association(env)
        phi = np.ones(env.num_users, np.int64)
        return SlotDecisions(phi, serving, target), hover(env)


class RandomPartition(Policy):
    """phi uniform in 1..L_k each slot (paper's 'random partitioning')."""
    name = 'random-partition'

    def act(self, env):
        serving, target = nearest_live_association(env)
        layers = env.arrays.num_layers[env.dnn_type]
        phi = self.rng.integers(1, layers + 1)
        return SlotDecisions(phi, serving, target), hover(env)


BASELINES: Dict[str, Callable[[], Policy]] = {
    OffloadAll.name: OffloadAll,
    RandomPartition.name: RandomPartition,
}


def _greedy():
    from uav_mec_nodes.policies.greedy import GreedyOptimum
    return GreedyOptimum()


BASELINES['greedy'] = _greedy


def _flying():
    from uav_mec_nodes.policies.flying import FlyingReference
    return FlyingReference()


BASELINES['flying-greedy'] = _flying


def _optimal():
    from uav_mec_nodes.policies.optimal import SlotOptimal
    return SlotOptimal()


BASELINES['optimal'] = _optimal


def _flying_optimal():
    from uav_mec_nodes.policies.flying import FlyingReference
    from uav_mec_nodes.policies.optimal import SlotOptimal
    return FlyingReference(SlotOptimal(), name='flying-optimal')


BASELINES['flying-optimal'] = _flying_optimal


SHIPPED_SET = 'set'   # the name of the shipped set policy (policies/data/set_policy.pt)


def make_policy(name: str) -> Policy:
    """A baseline by name, or a trained policy file (a path ending in .pt); `polish:` before either
    polishes its offloading decisions by greedy's local search (policies/polished.py)."""
    from uav_mec_nodes.policies.polished import PREFIX, Polished
    if name.startswith(PREFIX):
        inner = make_policy(name[len(PREFIX):])
        return Polished(inner, PREFIX + inner.name)
    if name == SHIPPED_SET:     # the shipped set policy, by name: the file lies inside the installed package
        from uav_mec_nodes.policies import shipped_set_policy_path
        name = str(shipped_set_policy_path())
    if name.endswith('.pt') or '/' in name:
        from uav_mec_nodes.policies.learned import LearnedPolicy
        return LearnedPolicy(name)
    if name not in BASELINES:
        from uav_mec_nodes.errors import UserInputError
        raise UserInputError(f'--policy: unknown policy {name!r}; allowed: {sorted(BASELINES)}, {SHIPPED_SET!r} (the '
                             f'shipped set policy) or a policy file (.pt) from uav-mec train, either with {PREFIX!r} '
                             'before it')
    return BASELINES[name]()
