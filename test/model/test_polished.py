"""`polish:<policy>`: the policy's motion, its offloading improved by greedy's exact local search."""
import numpy as np
import pytest

from uav_mec_nodes.config import load_scenario
from uav_mec_nodes.env import UavMecEnv
from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.policies import make_policy
from uav_mec_nodes.policies.optimal import evaluate_tasks


@pytest.mark.parametrize('inner', ['offload-all', 'random-partition', 'flying-greedy'])
def test_polishing_keeps_the_motion_and_never_adds_late_tasks_or_energy(inner):
    env = UavMecEnv(load_scenario().replace(scenario__num_users=8))
    base, polished = make_policy(inner), make_policy(f'polish:{inner}')
    assert polished.name == f'polish:{inner}'
    for seed in (0, 1):
        env.reset(seed=seed)
        base.reset(seed)
        polished.reset(seed)
        for _ in range(3):
            decisions, motion = base.act(env)
            better, motion_polished = polished.act(env)
            np.testing.assert_array_equal(motion, motion_polished)
            late, energy = evaluate_tasks(env, decisions)
            late_p, energy_p = evaluate_tasks(env, better)
            assert (late_p, energy_p) <= (late, energy * (1 + 1e-9))
            assert np.all(better.migration_target != better.serving_uav)
            env.step_decisions(better, motion)


def test_an_unknown_policy_behind_polish_is_one_clear_error():
    with pytest.raises(UserInputError, match="unknown policy 'nope'.*'polish:'"):
        make_policy('polish:nope')


def test_fly_keeps_only_the_motion_and_takes_greedys_offloading():
    env = UavMecEnv(load_scenario().replace(scenario__num_users=6))
    base, fly, greedy = make_policy('steady-greedy'), make_policy('fly:steady-greedy'), make_policy('greedy')
    assert fly.name == 'fly:steady-greedy'
    for policy in (base, fly, greedy):
        policy.reset(4)
    env.reset(seed=4)
    for _ in range(4):
        _, motion = base.act(env)
        decisions, motion_fly = fly.act(env)
        np.testing.assert_array_equal(motion, motion_fly)
        expected, _ = greedy.act(env)
        for field in ('partition_layer', 'serving_uav', 'migration_target'):
            np.testing.assert_array_equal(getattr(decisions, field), getattr(expected, field))
        env.step_decisions(decisions, motion)
    # hovering offload-all flies nothing but brakes: fly: takes that too, with greedy's (cheaper) offloading
    hover = make_policy('fly:offload-all')
    env.reset(seed=4)
    hover.reset(4)
    decisions, accel = hover.act(env)
    assert np.allclose(accel, 0.0) and decisions.partition_layer.shape == (6,)
