"""Behaviour cloning of a flying policy into a set policy: demonstrations, the fit, the files, bad input."""
import csv

import numpy as np
import pytest

from uav_mec_nodes.config import load_scenario
from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.learners.config import LearnerConfig
from uav_mec_nodes.learners.imitation import ImitationSettings, demonstrations, imitate, teacher_of
from uav_mec_nodes.learners.trainer import Sizes

SMALL = dict(network='set', set_users=(4, 6), set_uavs=(2, 3), set_width=16)


def test_padding_an_action_is_what_cutting_it_back_undoes():
    layout = LearnerConfig.for_algo('sac-per', **SMALL).layout
    action = np.random.default_rng(0).uniform(-1, 1, (2, 5 * (1 + 2 * 3) + 3 * 3))   # I=5, J=3, two of them
    padded = layout.pad_action(action, 5, 3)
    assert padded.shape == (2, layout.action_dim)
    np.testing.assert_allclose(layout.unpad_action(padded, 5, 3), action, rtol=1e-6)
    assert np.count_nonzero(padded[0]) == action.shape[1]        # padding entries are zero


def test_the_demonstrations_are_the_teachers_slots_as_the_student_sees_them():
    learner = LearnerConfig.for_algo('sac-per', **SMALL)
    scenario = load_scenario().replace(modes__motion_action='orbit', scenario__num_slots=5, scenario__num_users=5)
    sizes = Sizes(learner, scenario, seed=1)
    obs, actions = demonstrations(sizes, teacher_of('steady-greedy'), episodes=2, seed=1)
    assert obs.shape == (10, sizes.obs_dim) and actions.shape == (10, sizes.action_dim)
    # every slot's action decodes back to the teacher's own decisions: replay episode 0 and compare
    from uav_mec_nodes.env.uav_mec_env import decode_action
    from uav_mec_nodes.learners.trainer import episode_seed
    env, teacher = sizes.for_episode(0), teacher_of('steady-greedy')
    env.reset(seed=episode_seed(1, 0))
    teacher.reset(episode_seed(1, 0))
    for t in range(5):
        decisions, motion = teacher.plan(env)
        action = sizes.layout.unpad_action(actions[t], env.num_users, env.num_uavs)
        back, _ = decode_action(env.world, action, 'orbit')
        np.testing.assert_array_equal(back.serving_uav, decisions.serving_uav)
        np.testing.assert_array_equal(back.partition_layer, decisions.partition_layer)
        np.testing.assert_allclose(action[-3 * env.num_uavs:], motion.ravel(), atol=1e-6)
        env.step_decisions(decisions, teacher.fly(env, decisions, motion))


def test_the_actor_learns_the_teacher_and_its_file_plans_like_any_set_policy(tmp_path):
    from uav_mec_nodes.env import UavMecEnv
    from uav_mec_nodes.policies import make_policy
    learner = LearnerConfig.for_algo('sac-per', **SMALL)
    settings = ImitationSettings(episodes=2, updates=240, batch_size=64, eval_every=80, eval_episodes=1, seed=0)
    scenario = load_scenario().replace(scenario__num_slots=20, scenario__num_users=5)
    result = imitate(learner, scenario, settings, tmp_path / 'bc')
    with (tmp_path / 'bc' / 'imitate.csv').open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r['update']) for r in rows] == [80, 160, 240]
    losses = [float(r['fit_loss']) for r in rows]
    assert losses[-1] < 0.5 * losses[0]                       # the fit goes down
    assert result['samples'] == 40 and result['best']['update'] in (80, 160, 240)
    policy = make_policy(str(tmp_path / 'bc' / 'best.pt'))
    env = UavMecEnv(load_scenario().replace(scenario__num_users=5, scenario__num_uavs=3))
    env.reset(seed=3)
    decisions, accel = policy.act(env)
    assert len(decisions.serving_uav) == 5 and accel.shape == (3, 3)
    assert policy.scenario.modes.motion_action == 'orbit'      # its motion entries mean where to circle
    with pytest.raises(UserInputError, match='already holds a run'):
        imitate(learner, scenario, settings, tmp_path / 'bc')


def test_the_command_line_builds_the_student_it_was_asked_for(tmp_path):
    import json

    from helpers import uav_mec
    out = uav_mec('imitate', '--episodes', 1, '--updates', 2, '--eval-every', 2, '--eval-episodes', 1, '--set-users',
                  4, 6, '--set-uavs', 2, 3, '--set-width', 8, '--set-motion-prior', '--users', 5, '--seed', 3,
                  '--out', tmp_path / 'bc')
    assert 'imitated steady-greedy on 60 slots' in out.stdout
    run = json.loads((tmp_path / 'bc' / 'run.json').read_text())
    assert run['learner']['network'] == 'set' and run['learner']['set_width'] == 8
    assert run['learner']['set_users'] == [4, 6] and run['learner']['set_motion_prior'] is True
    assert run['settings']['seed'] == 3 and run['scenario']['modes']['motion_action'] == 'orbit'


def test_bad_imitation_input_is_a_one_line_error(tmp_path):
    from helpers import uav_mec
    for flags, message in ((('--teacher', 'greedy'), "--teacher: 'greedy' does not plan an orbit action"),
                           (('--updates', '0'), '--updates: must be in [1, 10000000], got 0'),
                           (('--teacher', 'nosuch'), "--teacher: unknown policy 'nosuch'")):
        out = uav_mec('imitate', *flags, '--episodes', '1', '--out', tmp_path / 'x', check=False)
        assert out.returncode == 2 and message in out.stderr and 'Traceback' not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
