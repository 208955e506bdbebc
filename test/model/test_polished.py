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
