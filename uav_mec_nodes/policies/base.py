"""The Policy protocol every planner implements, and the rules the baselines share.

A policy acts on the environment's decoded interface (SlotDecisions + accelerations);
what the paper leaves to the scheme is shared: each user is served by the live UAV
with the strongest channel, the standby migration target is the live UAV with the
fastest link from the serving one, and the UAVs hover (they brake to zero velocity).
Randomness comes from the generator given at reset.
"""
from __future__ import annotations

from typing import Optional

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
