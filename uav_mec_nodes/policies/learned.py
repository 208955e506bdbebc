"""A trained actor (policy file from `uav-mec train`) as a policy: deterministic mean action.

A flat actor serves the one (I, J) it was trained for; a set actor
(learners/set_networks.py) serves any I and J of its training range, the
observation padded to its layout and the action cut back to the env's.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.policies.baselines import Policy


class LearnedPolicy(Policy):
    def __init__(self, path):
        import torch

        from uav_mec_nodes.learners.sac import LearnerConfig, build_actor
        from uav_mec_nodes.learners.trainer import load_policy
        state = load_policy(path)
        self.path = Path(path)
        learner = LearnerConfig.from_dict(dict(state['learner']))
        self.layout = learner.layout if learner.network == 'set' else None
        self.name = f"{'set-' if self.layout else ''}{learner.algo}:{self.path.name}"
        self.obs_dim, self.action_dim = state['obs_dim'], state['action_dim']
        self.scenario = state['scenario_config']
        self.actor = build_actor(learner, self.obs_dim, self.action_dim)
        self.actor.load_state_dict(state['actor'])
        self.actor.eval()
        self._torch = torch

    def check_env(self, env) -> None:
        if self.layout is not None:
            self.layout.check_scenario(env.num_users, env.num_uavs, env.paper_mode)
            return
        obs_dim, action_dim = env.observation_space.shape[0], env.action_space.shape[0]
        if (obs_dim, action_dim) != (self.obs_dim, self.action_dim):
            s = self.scenario.scenario
            raise UserInputError(
                f'--policy: {self.path} was trained for I={s.num_users} users and J={s.num_uavs} UAVs '
                f'(observation {self.obs_dim}, action {self.action_dim}); this scenario has I={env.num_users}, '
                f'J={env.num_uavs} (observation {obs_dim}, action {action_dim})')

    def action(self, obs: np.ndarray, users: int = 0, uavs: int = 0) -> np.ndarray:
        """The deterministic action for the env's observation (a set policy needs the env's I and J)."""
        if self.layout is not None:
            obs = self.layout.pad_obs(obs, users, uavs)
        with self._torch.no_grad():
            a, _ = self.actor(self._torch.as_tensor(obs, dtype=self._torch.float32).unsqueeze(0),
                              deterministic=True, with_log_prob=False)
        a = a[0].numpy()
        return a if self.layout is None else self.layout.unpad_action(a, users, uavs)

    def act(self, env):
        self.check_env(env)
        # the motion entries mean what they meant in training, whatever this scenario's modes.motion_action says
        return env.decode_action(self.action(env.observation(), env.num_users, env.num_uavs),
                                 self.scenario.modes.motion_action)


def default_policy_name() -> str:
    """The shipped SAC-PER policy file if the package has one, else the greedy reference."""
    from uav_mec_nodes.policies import shipped_policy_path
    path = shipped_policy_path()
    return str(path) if path.exists() else 'greedy'
