"""The batched env equals B lone envs; the greedy reference meets deadlines where it can."""
import numpy as np
import pytest

from uav_mec_nodes.config import load_scenario
from uav_mec_nodes.env import BatchedUavMecEnv, UavMecEnv
from uav_mec_nodes.experiments.episode import run_episode
from uav_mec_nodes.model import allocation
from uav_mec_nodes.policies import make_policy


def test_batched_env_equals_lone_envs():
    cfg = load_scenario().replace(scenario__num_slots=8, failures__schedule=((1, 3),),
                                  failures__model='schedule')
    batch = BatchedUavMecEnv(3, cfg)
    lone = [UavMecEnv(cfg) for _ in range(3)]
    obs_b, _ = batch.reset(seed=[5, 6, 7])
    obs_l = np.stack([env.reset(seed=s)[0] for env, s in zip(lone, [5, 6, 7])])
    np.testing.assert_array_equal(obs_b, obs_l)
    rng = np.random.default_rng(0)
    done = False
    while not done:
        actions = rng.uniform(-1, 1, batch.action_space.shape).astype(np.float32)
        obs_b, rew_b, term_b, _, info_b = batch.step(actions)
        steps = [env.step(a) for env, a in zip(lone, actions)]
        np.testing.assert_allclose(rew_b, [s[1] for s in steps], rtol=1e-9)
        np.testing.assert_allclose(obs_b, np.stack([s[0] for s in steps]), rtol=1e-6, atol=1e-7)
        for ib, (_, _, _, _, il) in zip(info_b, steps):
            np.testing.assert_array_equal(ib['task_state'], il['task_state'])
            assert ib['tasks_migrated'] == il['tasks_migrated']
        done = bool(term_b.all())
        assert term_b.all() == term_b.any()  # fixed horizon: all end together


def test_batched_env_rejects_wrong_shapes():
    batch = BatchedUavMecEnv(2)
    batch.reset(seed=0)
    with pytest.raises(Exception, match='actions: expected shape'):
        batch.step(np.zeros((3,) + batch.single_action_space.shape))


@pytest.mark.parametrize('seed', [0, 1])
def test_greedy_beats_offload_all_on_deadlines_without_failures(seed):
    # with three live UAVs the default load fits (about 21 GHz needed of 30 GHz):
    # the greedy reference must meet every deadline, nearest-UAV offload-all does not
    cfg = load_scenario().replace(scenario__num_slots=6, failures__model='none')
    greedy = run_episode(UavMecEnv(cfg), make_policy('greedy'), seed).summary()
    offload = run_episode(UavMecEnv(cfg), make_policy('offload-all'), seed).summary()
    assert greedy['deadline_miss_rate'] == 0.0
    assert offload['deadline_miss_rate'] > 0.0


def test_admission_makes_only_the_largest_task_late():
    # three tasks on one 10 GHz UAV needing 4 + 4 + 2.9 GHz: one VGG-sized task is queued
    c_off = np.array([3.9e9, 3.9e9, 2.8e9])
    zeros = np.zeros(3)
    times, ok = allocation.improved_allocation(zeros, c_off, zeros, np.full(3, 1e-6), np.ones(3),
                                               np.zeros(3, np.int64), 1, 10e9, 1e9, 0.5, 1e7, 1e-28, 1e-3)
    assert ok.tolist() == [False, True, True]
    # admitted tasks use the whole budget (slowest = cheapest) within the CPU; the queued one
    # waits for the slot's end and then has the whole CPU
    np.testing.assert_allclose(times.uav_s[1:], 1.0, rtol=1e-9)
    assert times.uav_hz[1:].sum() <= 10e9
    assert times.uav_hz[0] == pytest.approx(10e9)
    assert times.uav_s[0] == pytest.approx(1.0 + 3.9e9 / 10e9, rel=1e-9)
