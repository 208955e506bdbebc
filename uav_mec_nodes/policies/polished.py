"""Any policy's offloading decisions, polished by the greedy policy's exact local search.

`polish:<policy>` (e.g. `polish:run/best.pt`) runs the policy, keeps its
motion, and improves its partition layers and serving UAVs by best-improvement
single-user moves scored by the exact energy with late tasks penalised
(policies/greedy.py, step 3), as the greedy policy does after its own
construction; migration targets follow greedy's rule. It costs what greedy's
local search costs (about 0.1-0.2 s a slot at I=10) and never makes a slot's
(late tasks, energy) worse as the local search scores them.

`fly:<policy>` keeps only the policy's motion and takes the greedy
reference's offloading decisions whole (its construction and local search):
what a policy's flying is worth, apart from its offloading.
"""
from __future__ import annotations

from typing import Optional

from uav_mec_nodes.policies.base import Policy

PREFIX = 'polish:'
MOTION_PREFIX = 'fly:'   # `fly:<policy>`: the policy's motion, the greedy reference's offloading


class Polished(Policy):
    def __init__(self, inner: Policy, name: str, moves: Optional[int] = None):
        self.inner = inner
        self.name = name
        self.moves = moves

    def reset(self, seed: Optional[int] = None) -> None:
        super().reset(seed)
        self.inner.reset(seed)

    def act(self, env):
        from uav_mec_nodes.policies.greedy import SlotProblem, polished_decisions
        decisions, motion = self.inner.act(env)
        moves = 2 * env.num_users if self.moves is None else self.moves
        return polished_decisions(env, SlotProblem(env), decisions.serving_uav, decisions.partition_layer,
                                  moves), motion


class GreedyOffloading(Policy):
    """A policy's motion with the greedy reference's offloading decisions."""

    def __init__(self, inner: Policy, name: str):
        from uav_mec_nodes.policies.greedy import GreedyOptimum
        self.inner = inner
        self.name = name
        self.greedy = GreedyOptimum()

    def reset(self, seed: Optional[int] = None) -> None:
        super().reset(seed)
        self.inner.reset(seed)
        self.greedy.reset(seed)

    def act(self, env):
        _, motion = self.inner.act(env)
        decisions, _ = self.greedy.act(env)
        return decisions, motion
