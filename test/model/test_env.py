"""The Gymnasium environment: API, determinism, honest spaces, bad actions."""
import subprocess
import sys

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


def test_importing_the_package_registers_the_env_id_for_a_gymnasium_loaded_later(tmp_path):
    # registered by an import hook: the package itself does not load Gymnasium (50 ms in every node process)
    code = ('import sys\nimport uav_mec_nodes\nprint("gymnasium" in sys.modules)\n'
            'import gymnasium as gym\nprint(type(gym.make("UavMec-v0").unwrapped).__name__)\n'
            'import importlib\nimportlib.reload(uav_mec_nodes)\nprint(list(gym.registry).count("UavMec-v0"))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)   # the installed package, not the source tree
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ['False', 'UavMecEnv', '1']
    assert 'UavMec-v0' in gym.registry   # this process loaded Gymnasium first: registered at once


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


def test_a_uav_lost_between_slots_serves_the_slot_before_and_is_down_from_the_next():
    """failures.lost_schedule (a UAV node the graph finds gone while slot 5 is awaited): slots 0-4 are those of
    an episode without the failure, nothing migrates, and from slot 5 on UAV 1 is down as if it had failed in
    slot 4; a failure in slot 4 instead migrates its tasks of slot 4."""
    from helpers import gym_episode
    none, log_none = gym_episode('greedy', seed=3, slots=10, lost=[(1, 9)])   # up through slot 8
    lost, log_lost = gym_episode('greedy', seed=3, slots=10, lost=[(1, 5)])
    failed, log_failed = gym_episode('greedy', seed=3, slots=10, schedule=[(1, 4)])
    np.testing.assert_array_equal(lost[:5], none[:5])
    assert [s['tasks_migrated'] for s in log_lost.slots[:5]] == [s['tasks_migrated'] for s in log_none.slots[:5]]
    assert log_failed.slots[4]['tasks_migrated'] > log_none.slots[4]['tasks_migrated']
    assert [bool(log_lost.alive_at_start(t)[1]) for t in range(10)] == [t < 5 for t in range(10)]
    assert [bool(log_failed.alive_at_start(t)[1]) for t in range(10)] == [t < 5 for t in range(10)]
    assert all(1 not in serving for serving in log_lost.serving[5:])
    assert log_lost.summary()['failures'] == [{'uav': 1, 'slot': 5, 'lost': True}]
    assert log_failed.summary()['failures'] == [{'uav': 1, 'slot': 4}]


def test_lost_schedule_is_checked_and_kept_out_of_the_ros_graph(tmp_path):
    import yaml
    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.errors import ConfigError
    from uav_mec_nodes.graph.layout import GraphConfig, graph_scenario
    with pytest.raises(ConfigError, match='failures.lost_schedule: only with failures.model=schedule'):
        load_scenario(None, {'failures.lost_schedule': [[1, 5]]})
    with pytest.raises(ConfigError, match='each UAV may fail or be lost at most once'):
        load_scenario(None, {'failures.model': 'schedule', 'failures.max_failures': 2,
                             'failures.schedule': [[1, 3]], 'failures.lost_schedule': [[1, 5]]})
    with pytest.raises(ConfigError, match=r'failures.lost_schedule: uav must be in \[0, 2\]'):
        load_scenario(None, {'failures.model': 'schedule', 'failures.lost_schedule': [[3, 5]]})
    scenario = tmp_path / 'lost.yaml'
    scenario.write_text(yaml.safe_dump({'failures': {'model': 'schedule', 'lost_schedule': [{'uav': 1, 'slot': 5}]}}))
    load_scenario(str(scenario))   # the Gym env takes it
    with pytest.raises(ConfigError, match='failures.lost_schedule: must be empty in a ROS graph'):
        graph_scenario(GraphConfig(scenario_file=str(scenario)))


def test_the_failure_book_keeps_the_earliest_word_of_either_kind():
    from uav_mec_nodes.graph.contract import FAILURE_MODES
    from uav_mec_nodes.graph.failure_book import FailureBook
    book = FailureBook(3)
    assert book.record(1, 6, FAILURE_MODES.index('lease lost'))      # lost before slot 6: served slot 5
    assert book.alive_end(5).tolist() == [True, True, True] and book.alive_start(6).tolist() == [True, False, True]
    assert not book.fail_during(1, 5)        # down from slot 6 either way: no news
    assert book.fail_during(1, 4)            # an earlier failure is: its tasks of slot 4 migrate
    assert book.lost_slots[1] == np.iinfo(np.int64).max and book.fail_slots[1] == 4
    assert not book.lost_before(1, 5)        # s_1(4) = 0 already
    assert book.record(2, 2, FAILURE_MODES.index('announce')) and book.alive_end(2).tolist() == [True, True, False]


@pytest.mark.parametrize('users, uavs', [(4, 2), (10, 3), (12, 5)])
def test_encoded_decisions_decode_back_to_themselves(users, uavs):
    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.env import UavMecEnv
    from uav_mec_nodes.env.uav_mec_env import decode_action, encode_decisions
    from uav_mec_nodes.model.guidance import orbit_action
    from uav_mec_nodes.policies.greedy import GreedyOptimum
    env = UavMecEnv(load_scenario().replace(scenario__num_users=users, scenario__num_uavs=uavs,
                                            failures__schedule=((0, 3),), failures__model='schedule'))
    env.reset(seed=users * 10 + uavs)
    greedy, rng = GreedyOptimum(), np.random.default_rng(users)
    for t in range(6):   # UAV 0 fails in slot 3: from slot 4 on it serves nobody
        decisions, _ = greedy.act(env)
        motion = rng.uniform(-1.0, 1.0, (uavs, 3))
        action = encode_decisions(env.world, decisions, motion)
        assert action.shape == (env.action_dim,) and np.all(np.abs(action) <= 1.0)
        back, accel = decode_action(env.world, action, 'orbit')
        np.testing.assert_array_equal(back.partition_layer, decisions.partition_layer)
        np.testing.assert_array_equal(back.serving_uav, decisions.serving_uav)
        np.testing.assert_array_equal(back.migration_target, decisions.migration_target)
        np.testing.assert_allclose(accel, orbit_action(motion, env.users.position[:, :2], decisions.serving_uav,
                                                       env.uav_pos, env.uav_vel, env.alive_start, env.cfg))
        env.step_decisions(decisions, accel)


def _fingerprint(users, uavs, **modes):
    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.env import UavMecEnv
    cfg = load_scenario().replace(scenario__num_users=users, scenario__num_uavs=uavs, **modes)
    env = UavMecEnv(cfg)
    env.reset(seed=7)
    rng = np.random.default_rng(3)
    e_tot = reward = obs_sum = 0.0
    for _ in range(cfg.scenario.num_slots):
        obs, r, _, _, info = env.step(rng.uniform(-1.2, 1.2, env.action_dim))
        e_tot, reward, obs_sum = e_tot + info['e_tot'], reward + r, obs_sum + float(obs.astype(np.float64).sum())
    return e_tot, reward, obs_sum


@pytest.mark.parametrize('users, uavs, modes, expected', [
    (10, 3, {}, (88.74185966872881, -264.8424232546254, 3425.6097111438166)),
    (12, 5, dict(modes__motion_action='orbit'), (118.75970020826881, -237.51940041653762, 6222.98984609414)),
    (10, 3, dict(modes__resource_allocation='paper'), (49.511434245680846, -135.39961875673978, 3515.0644460483454)),
    (100, 10, {}, (981.1228895699068, -3539.6615880973463, 67337.57126186625)),
])
def test_an_episodes_numbers_are_those_recorded_before_the_env_was_made_faster(users, uavs, modes, expected):
    """Sum of e_tot, of rewards and of the observations over a seeded episode of random actions (clipped
    ones included), recorded with the env before issue 21's speed-ups of its numpy code: a faster step must
    give the same numbers (to 1e-12; they are the same to the bit)."""
    assert _fingerprint(users, uavs, **modes) == pytest.approx(expected, rel=1e-12, abs=0)
