"""Many episodes of UavMecEnv stepped at once, for training.

Each of the B episodes is a full UavMecEnv with its own random generator, so
episode b with seed s gives the same numbers as a lone UavMecEnv reset with
seed s (a test checks this). What is batched is the expensive part, the
slots' evaluation (resource allocation, energies, terminal states): the B
slots go through `evaluate_slot_batch` as one vectorised call, which is
where the speed-up comes from (bench/env_throughput.py measures it).

The interface follows gymnasium's vector envs: observations (B, n), rewards,
terminated and truncated (B,), and a list of B info dicts. All episodes have
the horizon T, so they end together; call reset() to start the next ones.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from gymnasium import spaces

from uav_mec_nodes.config import ScenarioConfig, load_scenario
from uav_mec_nodes.env.uav_mec_env import UavMecEnv
from uav_mec_nodes.model.slot import SlotDecisions, evaluate_slot_batch


class BatchedUavMecEnv:
    def __init__(self, num_envs: int, config: Optional[ScenarioConfig] = None, **env_kwargs):
        if num_envs < 1:
            from uav_mec_nodes.errors import UserInputError
            raise UserInputError(f'num_envs: must be >= 1, got {num_envs}')
        cfg = config or load_scenario()
        self.envs = [UavMecEnv(cfg, **env_kwargs) for _ in range(num_envs)]
        self.num_envs = num_envs
        first = self.envs[0]
        self.cfg, self.arrays = first.cfg, first.arrays
        self.single_observation_space = first.observation_space
        self.single_action_space = first.action_space
        self.observation_space = spaces.Box(
            np.broadcast_to(first.observation_space.low, (num_envs,) + first.observation_space.shape),
            np.broadcast_to(first.observation_space.high, (num_envs,) + first.observation_space.shape),
            dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (num_envs,) + first.action_space.shape, np.float32)

    def reset(self, *, seed=None, options: Optional[dict] = None):
        """seed: None, an int (episode b gets seed + b) or a sequence of B ints."""
        if seed is None or isinstance(seed, (int, np.integer)):
            seeds = [None if seed is None else int(seed) + b for b in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f'seed: expected {self.num_envs} seeds, got {len(seeds)}')
        results = [env.reset(seed=s, options=options) for env, s in zip(self.envs, seeds)]
        return np.stack([r[0] for r in results]), [r[1] for r in results]

    def step(self, actions):
        actions = np.asarray(actions)
        if actions.shape != self.action_space.shape:
            from uav_mec_nodes.errors import ActionError
            raise ActionError(f'actions: expected shape {self.action_space.shape}, got {actions.shape}')
        decoded = [env.decode_action(a) for env, a in zip(self.envs, actions)]
        return self.step_decisions([d for d, _ in decoded], [a for _, a in decoded])

    def step_decisions(self, decisions: Sequence[SlotDecisions], accels: Sequence[np.ndarray]):
        inputs = [env.slot_inputs() for env in self.envs]
        results = evaluate_slot_batch(self.cfg, self.arrays, decisions, [s for s, _ in inputs],
                                      [f for _, f in inputs])
        steps = [env.finish_slot(r, d, a) for env, r, d, a in zip(self.envs, results, decisions, accels)]
        obs, rewards, terminated, truncated, infos = zip(*steps)
        return (np.stack(obs), np.array(rewards), np.array(terminated), np.array(truncated), list(infos))
