"""The learner interface: what the trainer, the sweeps, `select`, policy files and the planner need of a
learning algorithm, and the registry of algorithms by name.

Adding a learner is one class with these methods and one line in AGENTS; the training loop
(learners/trainer.py), the sweeps, policy files (policies/files.py) and LearnedPolicy (the planner's,
`evaluate`'s and `select`'s) take it unchanged. Hyper-parameters come in a LearnerConfig (learners/config.py),
whose `algo` names the class here.
"""
from __future__ import annotations

import importlib
from typing import Dict, Protocol, Tuple

import numpy as np

from uav_mec_nodes.errors import UserInputError

# algorithm name -> 'module:Class' (imported when asked for: the registry needs none of them)
AGENTS: Dict[str, str] = {
    'sac-per': 'uav_mec_nodes.learners.sac:SacAgent',      # the paper's: SAC with prioritized replay
    'sac': 'uav_mec_nodes.learners.sac:SacAgent',          # uniform replay
    'redq': 'uav_mec_nodes.learners.sac:SacAgent',         # N critics, M drawn for the target, G updates a step
    'sac-per-ua': 'uav_mec_nodes.learners.sac:SacAgent',   # ours: SAC-PER with uniform actor batches
}


class Agent(Protocol):
    """A learning algorithm: networks, optimisers and an update rule; no env and no buffer inside."""
    obs_dim: int
    action_dim: int

    def __init__(self, obs_dim: int, action_dim: int, cfg, seed: int = 0) -> None: ...

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Actions in [-1, 1] for one observation or a batch."""

    def update(self, batch: dict, weights: np.ndarray, actor_obs=None) -> Tuple[dict, np.ndarray]:
        """One learning step on a replay batch (obs, action, reward, next_obs, done) with importance weights;
        returns metrics (namespaced by the caller) and each sample's new priority (|TD error|)."""

    def actor_due(self) -> bool:
        """Whether the next update steps the policy (asked when its minibatch is drawn apart)."""

    @property
    def alpha(self) -> float:
        """The entropy temperature, logged (nan for a learner without one)."""

    def state_dict(self) -> dict:
        """Everything to resume bit for bit (tensors and plain data only)."""

    def load_state_dict(self, state: dict, actor_only: bool = False) -> None: ...

    def policy_state(self) -> dict:
        """What a policy file keeps: the acting network's weights."""

    @classmethod
    def build_actor(cls, cfg, obs_dim: int, action_dim: int):
        """The acting network of a policy file (torch Module; forward(obs, deterministic, with_log_prob)
        returns (action, log-prob))."""


def agent_class(algo: str):
    """The class of a learning algorithm, by its name in AGENTS."""
    if algo not in AGENTS:
        raise UserInputError(f'--algo: must be one of {list(AGENTS)}, got {algo!r}')
    module, _, name = AGENTS[algo].partition(':')
    return getattr(importlib.import_module(module), name)


def make_agent(cfg, obs_dim: int, action_dim: int, seed: int = 0) -> Agent:
    return agent_class(cfg.algo)(obs_dim, action_dim, cfg, seed=seed)
