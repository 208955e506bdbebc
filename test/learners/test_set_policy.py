"""The set policy: one network for every I and J of its range, blind to the order of users and UAVs,
deaf to dead UAVs, and a clear error outside its range."""
import json

import numpy as np
import pytest
import torch
from helpers import set_policy_file

from uav_mec_nodes.env import UavMecEnv
from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.experiments.plans import scenario
from uav_mec_nodes.learners.sac import LearnerConfig, SacAgent
from uav_mec_nodes.learners.set_layout import SetLayout, _pad, _split, action_parts, obs_parts
from uav_mec_nodes.learners.set_networks import SetActor, SetCritic, SetCriticEnsemble
from uav_mec_nodes.learners.trainer import Sizes
from uav_mec_nodes.policies.files import load_policy
from uav_mec_nodes.policies import make_policy

LAYOUT = SetLayout(4, 12, 2, 5)


def _observation(users, uavs, seed=3, dead=()):
    env = UavMecEnv(scenario(users, uavs))
    env.reset(seed=seed)
    for j in dead:
        env.fail_slots[j] = -1      # down before the first slot: s_j(t-1) = 0
    return env.observation()


def _join(parts: dict, users, uavs, which=obs_parts) -> np.ndarray:
    return np.concatenate([np.asarray(parts[name], np.float32).ravel() for name, _ in which(users, uavs)])


def _permuted(obs, users, uavs, pu, pv) -> np.ndarray:
    p = _split(obs, obs_parts(users, uavs))
    q = dict(p, dnn_type=p['dnn_type'][pu], user_xy=p['user_xy'][pu],
             uav_position=p['uav_position'][pv], uav_velocity=p['uav_velocity'][pv], alive=p['alive'][pv],
             mu_uav_rate=p['mu_uav_rate'][pu][:, pv], uav_uav_rate=p['uav_uav_rate'][pv][:, pv])
    return _join(q, users, uavs)


def _act(actor, obs, users, uavs) -> dict:
    with torch.no_grad():
        a, _ = actor(torch.as_tensor(LAYOUT.pad_obs(obs, users, uavs)), deterministic=True, with_log_prob=False)
    return _split(LAYOUT.unpad_action(a.numpy(), users, uavs), action_parts(users, uavs))


def _padded_action(parts: dict, users, uavs) -> torch.Tensor:
    full = action_parts(LAYOUT.max_users, LAYOUT.max_uavs)
    return torch.as_tensor(np.concatenate([_pad(np.asarray(parts[n], np.float32), s).ravel() for n, s in full]))


@pytest.mark.parametrize('users,uavs', [(4, 2), (7, 4), (12, 5)])
def test_outputs_follow_the_users_and_uavs_wherever_they_stand(users, uavs):
    torch.manual_seed(0)
    actor, critic = SetActor(LAYOUT, 32), SetCritic(LAYOUT, 32)
    obs = _observation(users, uavs)
    rng = np.random.default_rng(users)
    pu, pv = rng.permutation(users), rng.permutation(uavs)
    assert not (np.all(pu == np.arange(users)) and np.all(pv == np.arange(uavs)))
    a, b = _act(actor, obs, users, uavs), _act(actor, _permuted(obs, users, uavs, pu, pv), users, uavs)
    np.testing.assert_allclose(a['partition'][pu], b['partition'], atol=1e-5)
    np.testing.assert_allclose(a['association'][pu][:, pv], b['association'], atol=1e-5)
    np.testing.assert_allclose(a['migration'][pu][:, pv], b['migration'], atol=1e-5)
    np.testing.assert_allclose(a['motion'][pv], b['motion'], atol=1e-5)
    # the critic's value is the same for the permuted state and action
    moved = dict(partition=a['partition'][pu], association=a['association'][pu][:, pv],
                 migration=a['migration'][pu][:, pv], motion=a['motion'][pv])
    with torch.no_grad():
        q1 = critic(torch.as_tensor(LAYOUT.pad_obs(obs, users, uavs))[None], _padded_action(a, users, uavs)[None])
        q2 = critic(torch.as_tensor(LAYOUT.pad_obs(_permuted(obs, users, uavs, pu, pv), users, uavs))[None],
                    _padded_action(moved, users, uavs)[None])
    assert abs(float(q1) - float(q2)) < 1e-4
    # and the decoded decisions move with the users: the same DNN split and UAV for the same user
    assert not np.allclose(a['partition'], a['partition'][0])    # a check that could fail: users differ


def test_a_dead_uav_gets_nothing_and_changes_nothing():
    torch.manual_seed(1)
    actor = SetActor(LAYOUT, 32)
    users, uavs = 7, 4
    obs = _observation(users, uavs, dead=(1,))
    p = _split(obs, obs_parts(users, uavs))
    assert list(p['alive']) == [1, 0, 1, 1]
    a = _act(actor, obs, users, uavs)
    assert np.all(a['association'][:, 1] == 0) and np.all(a['migration'][:, 1] == 0) and np.all(a['motion'][1] == 0)
    # whatever the dead UAV's position, channels and links say, no live decision changes
    q = dict(p, uav_position=p['uav_position'].copy(), mu_uav_rate=p['mu_uav_rate'].copy(),
             uav_uav_rate=p['uav_uav_rate'].copy())
    q['uav_position'][1] = [0.9, 0.1, 0.7]
    q['mu_uav_rate'][:, 1] = 1.9
    q['uav_uav_rate'][1, :] = q['uav_uav_rate'][:, 1] = 0.05
    b = _act(actor, _join(q, users, uavs), users, uavs)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    # while a live UAV's channels do change them (the check above could fail)
    q['mu_uav_rate'][:, 2] = 1.9
    c = _act(actor, _join(q, users, uavs), users, uavs)
    assert not np.allclose(a['association'], c['association'])


def test_log_probability_and_target_entropy_count_only_the_entries_that_exist():
    torch.manual_seed(2)
    actor = SetActor(LAYOUT, 16)
    users, uavs = 5, 3
    obs = torch.as_tensor(LAYOUT.pad_obs(_observation(users, uavs, dead=(2,)), users, uavs))[None]
    live = 2
    assert float(actor.action_dims(obs)) == users + 2 * users * live + 3 * live
    torch.manual_seed(3)
    action, logp = actor(obs)
    assert torch.isfinite(logp).all()
    parts = _split(action[0].detach().numpy(), action_parts(LAYOUT.max_users, LAYOUT.max_uavs))
    assert np.all(parts['partition'][users:] == 0) and np.all(parts['association'][:, uavs:] == 0)
    assert np.all(parts['association'][:, 2] == 0) and np.any(parts['association'][:users, :2] != 0)
    learner = LearnerConfig.for_algo('sac-per', network='set', set_width=16)
    agent = SacAgent(LAYOUT.obs_dim, LAYOUT.action_dim, learner)
    assert float(agent.target_entropies(obs)) == -float(actor.action_dims(obs))


def _mixed_batch():
    """Padded states of four sizes, one of them with a dead UAV, and random padded actions."""
    sizes = ((4, 2, ()), (12, 5, ()), (7, 3, (1,)), (10, 4, ()))
    obs = np.stack([LAYOUT.pad_obs(_observation(u, j, seed=4, dead=dead), u, j) for u, j, dead in sizes])
    action = np.random.default_rng(0).uniform(-1, 1, (len(sizes), LAYOUT.action_dim)).astype(np.float32)
    return torch.as_tensor(obs), torch.as_tensor(action)


def test_a_batch_of_mixed_sizes_gives_each_state_what_it_gets_alone():
    # the networks pack the pairs that exist across the batch: no state may see another's
    torch.manual_seed(4)
    actor, critics = SetActor(LAYOUT, 16), SetCriticEnsemble(LAYOUT, 3, 16)
    obs, action = _mixed_batch()
    with torch.no_grad():
        together, q = actor(obs, deterministic=True)[0], critics(obs, action)
        for k in range(len(obs)):
            np.testing.assert_allclose(actor(obs[k:k + 1], deterministic=True)[0][0], together[k], atol=1e-6)
            np.testing.assert_allclose(critics(obs[k:k + 1], action[k:k + 1])[:, 0], q[:, k], atol=1e-6)
    assert len({round(float(v), 6) for v in q[0]}) == len(obs)     # a check that could fail: states differ


def test_the_critic_ensemble_is_its_members_drawn_in_turn_and_one_matmul_a_layer():
    torch.manual_seed(5)
    members = [SetCritic(LAYOUT, 16) for _ in range(4)]
    torch.manual_seed(5)
    critics = SetCriticEnsemble(LAYOUT, 4, 16)
    assert sum(p.numel() for p in critics.parameters()) == 4 * sum(p.numel() for p in members[0].parameters())
    assert all(p.shape[0] == 4 for p in critics.parameters())      # stacked: no per-member module left
    obs, action = _mixed_batch()
    with torch.no_grad():
        alone = torch.stack([m(obs, action) for m in members])
        np.testing.assert_allclose(critics(obs, action), alone, atol=1e-6)
        # REDQ's target: a subset of the members, in the order asked
        np.testing.assert_allclose(critics(obs, action, members=torch.tensor([3, 1])), alone[[3, 1]], atol=1e-6)
    assert critics.stacked.value[0].members is None                # the subset does not outlive its call


def test_one_policy_file_serves_every_size_of_its_range_and_refuses_others(tmp_path):
    path = set_policy_file(tmp_path / 'set.pt')
    state = load_policy(path)
    assert (state['obs_dim'], state['action_dim']) == (LAYOUT.obs_dim, LAYOUT.action_dim)
    policy = make_policy(path)
    for users, uavs in ((4, 2), (10, 3), (6, 5), (12, 5)):
        env = UavMecEnv(scenario(users, uavs))
        env.reset(seed=0)
        decisions, accel = policy.act(env)
        assert decisions.partition_layer.shape == (users,) and accel.shape == (uavs, 3)
        assert set(decisions.serving_uav) <= set(range(uavs))
    for users, uavs in ((3, 3), (13, 3), (10, 6), (10, 1)):
        env = UavMecEnv(scenario(users, uavs)) if uavs > 1 else None
        if env is None:
            with pytest.raises(UserInputError, match=r'J in \[2, 5\]'):
                LAYOUT.check_size(users, uavs)
            continue
        env.reset(seed=0)
        with pytest.raises(UserInputError, match=rf'--policy: a set policy trained for I in \[4, 12\] users and J '
                                                 rf'in \[2, 5\] UAVs; this scenario has I={users}, J={uavs}'):
            policy.act(env)


def test_a_set_run_draws_each_episode_s_size_from_its_range_and_its_seed():
    learner = LearnerConfig.for_algo('sac-per', network='set', set_users=(4, 6), set_uavs=(2, 3))
    sizes = Sizes(learner, scenario(5, 3), seed=7)
    drawn = [(e.num_users, e.num_uavs) for e in (sizes.for_episode(n) for n in range(40))]
    assert set(drawn) == {(u, j) for u in (4, 5, 6) for j in (2, 3)}
    again = Sizes(learner, scenario(5, 3), seed=7)
    assert drawn == [(e.num_users, e.num_uavs) for e in (again.for_episode(n) for n in range(40))]
    other = Sizes(learner, scenario(5, 3), seed=8)
    assert drawn != [(e.num_users, e.num_uavs) for e in (other.for_episode(n) for n in range(40))]
    # validation: the Fig. 4 and Fig. 5 sizes inside the range
    assert [(e.num_users, e.num_uavs) for e, _ in sizes.validation_envs(1)] == [(4, 3), (6, 3)]
    with pytest.raises(UserInputError, match=r'scenario: a set policy trained for I in \[4, 6\]'):
        Sizes(learner, scenario(10, 3))


def test_bad_set_settings_are_one_line_errors():
    with pytest.raises(UserInputError, match=r'set_uavs: must be 2 <= min <= max <= 32, got \[1, 5\]'):
        LearnerConfig.for_algo('sac-per', network='set', set_uavs=(1, 5))
    with pytest.raises(UserInputError, match=r'set_users: must be 1 <= min <= max <= 256, got \[8, 4\]'):
        LearnerConfig.for_algo('sac-per', network='set', set_users=(8, 4))
    with pytest.raises(UserInputError, match=r"network: must be one of \['flat', 'set'\], got 'graph'"):
        LearnerConfig.for_algo('sac-per', network='graph')


def test_train_a_set_policy_from_the_command_line_and_evaluate_it_at_two_sizes(tmp_path):
    from helpers import uav_mec
    out = tmp_path / 'run'
    uav_mec('train', '--network', 'set', '--set-users', '4', '8', '--set-uavs', '2', '3', '--set-width', '16',
            '--motion', 'orbit', '--steps', '240', '--learning-starts', '60', '--batch-size', '32', '--eval-every',
            '240', '--users', '6', '--out', out, '--no-progress')
    rows = (out / 'eval.csv').read_text().splitlines()
    assert len(rows) == 2 and rows[1].split(',')[-1] == '3'    # Fig. 4/5's sizes in range: I=4, 6, 8 at J=3
    for users, uavs in ((4, 2), (8, 3)):
        result = uav_mec('evaluate', '--policy', out / 'best.pt', '--users', users, '--uavs', uavs, '--episodes', 1,
                         '--json')
        assert json.loads(result.stdout)['users'] == users
    bad = uav_mec('evaluate', '--policy', out / 'best.pt', '--users', 10, '--episodes', 1, check=False)
    assert bad.returncode == 2 and 'a set policy trained for I in [4, 8] users and J in [2, 3] UAVs' in bad.stderr


def test_select_ranks_policies_over_several_sizes(tmp_path):
    from helpers import uav_mec
    a, b = set_policy_file(tmp_path / 'a.pt', seed=0), set_policy_file(tmp_path / 'b.pt', seed=1)
    out = uav_mec('select', '--policies', a, b, '--sizes', '4:3', '10:5', '--episodes', '1',
                  '--copy-to', tmp_path / 'chosen.pt')
    assert 'at each of 2 sizes (4:3 10:5), means over them; best first' in out.stdout
    rows = [line for line in out.stdout.splitlines() if line.startswith('| /')]
    best = rows[0].split(' | ')[0][2:]
    assert len(rows) == 2 and (tmp_path / 'chosen.pt').read_bytes() == open(best, 'rb').read()
    bad = uav_mec('select', '--policies', 'offload-all', '--sizes', '4x3', '--episodes', '1', check=False)
    assert bad.returncode == 2 and "--sizes: each is I:J (users:UAVs), got '4x3'" in bad.stderr


def test_the_shipped_set_policy_plans_for_every_size_of_figures_4_and_5():
    from uav_mec_nodes.policies import shipped_set_policy_path
    state = load_policy(shipped_set_policy_path())
    learner = LearnerConfig.from_dict(dict(state['learner']))
    assert learner.network == 'set' and (learner.set_users, learner.set_uavs) == ((4, 12), (2, 5))
    policy = make_policy('set')
    assert policy.name == 'set-sac-per:set_policy.pt'
    for users, uavs in ((4, 3), (12, 3), (10, 2), (10, 5)):
        env = UavMecEnv(scenario(users, uavs))
        env.reset(seed=5)
        decisions, _ = policy.act(env)
        # trained: users spread over the UAVs rather than all on one
        assert len(set(decisions.serving_uav.tolist())) >= 2


def test_the_motion_prior_starts_each_orbit_where_its_uav_flies_and_leaves_old_files_alone():
    plain, prior = SetActor(LAYOUT, 16), SetActor(LAYOUT, 16, motion_prior=True)
    assert 'motion_prior' not in plain.state_dict() and 'motion_prior' in prior.state_dict()   # old files load
    obs = LAYOUT.pad_obs(_observation(6, 3), 6, 3)
    o = prior.parse.observation(torch.as_tensor(obs).unsqueeze(0))
    users = o['user_xy'][0, :6]
    # every user served by UAV 1 for sure: its offset is 5 x (its xy - the users' mean), the others serve nobody
    serve = torch.zeros(1, LAYOUT.max_users, LAYOUT.max_uavs)
    serve[0, :6, 1] = 1.0
    stay = prior._stay_offsets(o, serve)[0]
    expected = torch.clamp(5.0 * (o['uav_position'][0, 1, :2] - users.mean(0)), -0.99, 0.99)
    torch.testing.assert_close(torch.tanh(stay[1]), expected, atol=1e-4, rtol=1e-4)
    assert torch.all(stay[0].abs() < 1e-6) and torch.all(stay[2].abs() < 1e-6)
    # the actor adds it to the motion head's x and y (not the altitude): same weights without it differ there only
    prior.load_state_dict({**plain.state_dict(), 'motion_prior': torch.tensor(5.0)})
    a_plain, a_prior = _act(plain, _observation(6, 3), 6, 3), _act(prior, _observation(6, 3), 6, 3)
    np.testing.assert_array_equal(a_plain['partition'], a_prior['partition'])
    np.testing.assert_array_equal(a_plain['motion'][:, 2], a_prior['motion'][:, 2])
    assert not np.allclose(a_plain['motion'][:, :2], a_prior['motion'][:, :2])
