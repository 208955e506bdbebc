"""The paper's baselines of Sec. Simulation Results: offloading execution and random partitioning
(policies/base.py holds the rules they share)."""
from __future__ import annotations

import numpy as np

from uav_mec_nodes.model.slot import SlotDecisions
from uav_mec_nodes.policies.base import Policy, hover, nearest_live_association


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
