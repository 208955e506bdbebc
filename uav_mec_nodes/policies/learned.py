"""A trained actor (policy file from `uav-mec train`) as a policy: deterministic mean action."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.policies.baselines import Policy


class LearnedPolicy(Policy):
    def __init__(self, path):
        import torch

        from uav_mec_nodes.learners.networks import SquashedGaussianActor
        from uav_mec_nodes.learners.trainer import load_policy
        state = load_policy(path)
        self.path = Path(path)
        self.name = f"{state['learner']['algo']}:{self.path.name}"
        self.obs_dim, self.action_dim = state['obs_dim'], state['action_dim']
        self.scenario = state['scenario_config']
        self.actor = SquashedGaussianActor(self.obs_dim, self.action_dim, tuple(state['learner']['hidden']))
        self.actor.load_state_dict(state['actor'])
        self.actor.eval()
        self._torch = torch

    def check_env(self, env) -> None:
        obs_dim, action_dim = env.observation_space.shape[0], env.action_space.shape[0]
        if (obs_dim, action_dim) != (self.obs_dim, self.action_dim):
            s = self.scenario.scenario
            raise UserInputError(
                f'--policy: {self.path} was trained for I={s.num_users} users and J={s.num_uavs} UAVs '
                f'(observation {self.obs_dim}, action {self.action_dim}); this scenario has I={env.num_users}, '
                f'J={env.num_uavs} (observation {obs_dim}, action {action_dim})')

    def action(self, obs: np.ndarray) -> np.ndarray:
        with self._torch.no_grad():
            a, _ = self.actor(self._torch.as_tensor(obs, dtype=self._torch.float32).unsqueeze(0),
                              deterministic=True, with_log_prob=False)
        return a[0].numpy()

    def act(self, env):
        self.check_env(env)
        # the motion entries mean what they meant in training, whatever this scenario's modes.motion_action says
        return env.decode_action(self.action(env.observation()), self.scenario.modes.motion_action)


def default_policy_name() -> str:
    """The shipped SAC-PER policy file if the package has one, else the greedy reference."""
    from uav_mec_nodes.policies import shipped_policy_path
    path = shipped_policy_path()
    return str(path) if path.exists() else 'greedy'
