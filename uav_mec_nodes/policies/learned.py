"""A trained actor (policy file from `uav-mec train`) as a policy: deterministic mean action.

A flat actor serves the one (I, J) it was trained for; a set actor
(learners/set_networks.py) serves any I and J of its training range, the
observation padded to its layout and the action cut back to the env's.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.policies.base import Policy


class LearnedPolicy(Policy):
    def __init__(self, path):
        import torch

        from uav_mec_nodes.learners.agent import agent_class
        from uav_mec_nodes.learners.config import LearnerConfig
        from uav_mec_nodes.policies.files import load_policy
        state = load_policy(path)
        self.path = Path(path)
        learner = LearnerConfig.from_dict(dict(state['learner']))
        self.layout = learner.layout if learner.network == 'set' else None
        self.name = f"{'set-' if self.layout else ''}{learner.algo}:{self.path.name}"
        self.obs_dim, self.action_dim = state['obs_dim'], state['action_dim']
        self.scenario = state['scenario_config']
        self.actor = agent_class(learner.algo).build_actor(learner, self.obs_dim, self.action_dim)
        self.actor.load_state_dict(state['actor'])
        self.actor.eval()
        self._torch = torch

    def check_env(self, env) -> None:
        """A one-line error unless the file was trained for this env's (or world's) sizes."""
        from uav_mec_nodes.env import uav_mec_env as mdp
        world = getattr(env, 'world', env)
        if self.layout is not None:
            self.layout.check_scenario(world.num_users, world.num_uavs, world.paper_mode)
            return
        obs_dim, action_dim = mdp.observation_bounds(world)[0].size, mdp.action_dim(world)
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
        """On a Gym env or a model.World (the planner's view): the MDP's observation (29), the actor's
        deterministic action, decoded (30)."""
        from uav_mec_nodes.env.uav_mec_env import decode_action, observation
        self.check_env(env)
        world = getattr(env, 'world', env)
        # the motion entries mean what they meant in training, whatever this scenario's modes.motion_action says
        return decode_action(world, self.action(observation(world), world.num_users, world.num_uavs),
                             self.scenario.modes.motion_action)


def default_policy_name() -> str:
    """The shipped SAC-PER policy file if the package has one, else the greedy reference."""
    from uav_mec_nodes.policies.files import shipped_policy_path
    path = shipped_policy_path()
    return str(path) if path.exists() else 'greedy'
