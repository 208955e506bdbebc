"""The Gymnasium environment: API, determinism, honest spaces, bad actions."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import uav_mec_nodes  # noqa: F401  (registers UavMec-v0)
from uav_mec_nodes.errors import ActionError


def _rollout(seed, steps=10):
    env = gym.make('UavMec-v0')
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for _ in range(steps):
        obs, r, term, trunc, info = env.step(env.action_space.sample())
        out += [obs, np.array([r]), info['task_state']]
    return out


def test_check_env():
    check_env(gym.make('UavMec-v0').unwrapped)


def test_same_seed_same_rollout():
    a, b = _rollout(3), _rollout(3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, _rollout(4)))


def test_episode_length_and_every_task_terminal():
    env = gym.make('UavMec-v0').unwrapped
    env.reset(seed=0)
    n, done = 0, False
    while not done:
        obs, r, done, trunc, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)
        assert set(np.unique(info['task_state'])) <= {0, 1, 2}
        assert info['tasks_completed'] + info['tasks_late'] + info['tasks_dropped'] == env.num_users
        assert r <= 0
        n += 1
    assert n == env.num_slots


@pytest.mark.parametrize('bad', [np.full(5, 0.0), 'nan'])
def test_bad_action_is_rejected(bad):
    env = gym.make('UavMec-v0').unwrapped
    env.reset(seed=0)
    if isinstance(bad, str):
        bad = np.full(env.action_space.shape, np.nan, np.float32)
    with pytest.raises(ActionError):
        env.step(bad)
