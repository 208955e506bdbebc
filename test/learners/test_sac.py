"""SAC losses and temperature on hand-checkable numbers; short training; checkpoints; resume."""
import math

import numpy as np
import pytest
import torch

from uav_mec_nodes.config import load_scenario
from uav_mec_nodes.env import UavMecEnv
from uav_mec_nodes.experiments.episode import run_episode
from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.learners.networks import CriticEnsemble, SquashedGaussianActor
from uav_mec_nodes.learners.sac import LearnerConfig, SacAgent
from uav_mec_nodes.learners.trainer import TrainSettings, train
from uav_mec_nodes.policies.files import load_policy
from uav_mec_nodes.policies import make_policy


def _constant_agent(q_value, log_prob, alpha, gamma=0.5, scale=2.0):
    """An agent whose critics return q_value and whose actor has a fixed log-probability."""
    cfg = LearnerConfig.for_algo('sac', gamma=gamma, reward_scale=scale, init_alpha=alpha)
    agent = SacAgent(1, 1, cfg, seed=0)
    agent.critic_target.forward = lambda obs, act, members=None: torch.full((2, len(obs)), q_value)
    agent.critic.forward = lambda obs, act: torch.stack([torch.full((len(obs),), q_value) + 0 * act.sum(-1),
                                                         torch.full((len(obs),), q_value + 1.0)])
    agent.actor.forward = lambda obs, deterministic=False, with_log_prob=True: (
        torch.zeros(len(obs), 1, requires_grad=True), torch.full((len(obs),), log_prob))
    return agent


def test_critic_target_by_hand():
    agent = _constant_agent(q_value=3.0, log_prob=-1.5, alpha=0.1)
    y = agent.critic_target_values(torch.tensor([1.0, 1.0]), torch.zeros(2, 1), torch.tensor([0.0, 1.0]))
    # y = 2 * 1 + 0.5 * (3 - 0.1 * (-1.5)) = 3.575; done: y = 2
    np.testing.assert_allclose(y.numpy(), [3.575, 2.0], rtol=1e-6)


def test_redq_target_takes_the_minimum_over_a_random_subset_of_target_critics():
    cfg = LearnerConfig.for_algo('redq', gamma=0.5, reward_scale=1.0, init_alpha=0.1)
    agent = SacAgent(3, 2, cfg, seed=4)
    obs, reward, done = torch.randn(5, 3), torch.ones(5), torch.zeros(5)
    # the same draws by hand: the actor's noise comes from torch's global RNG, the subset from the agent's
    pick = torch.randperm(10, generator=torch.Generator().manual_seed(4))[:2]
    torch.manual_seed(9)
    next_action, next_logp = agent.actor(obs)
    every_q = agent.critic_target(obs, next_action)
    expected = reward + 0.5 * (every_q[pick].min(dim=0).values - 0.1 * next_logp)
    torch.manual_seed(9)
    y = agent.critic_target_values(reward, obs, done)
    torch.testing.assert_close(y, expected.detach(), rtol=1e-6, atol=1e-6)
    # a subset is evaluated on its own and equals the full ensemble's rows, bit for bit
    assert torch.equal(agent.critic_target(obs, next_action, members=pick), every_q[pick])
    assert every_q.shape == (10, 5)


def test_critic_loss_weights_and_td_by_hand():
    agent = _constant_agent(q_value=3.0, log_prob=-1.5, alpha=0.1)
    batch = dict(obs=torch.zeros(2, 1), action=torch.zeros(2, 1), reward=torch.tensor([1.0, 1.0]),
                 next_obs=torch.zeros(2, 1), done=torch.tensor([0.0, 1.0]))
    loss, td = agent.critic_loss(batch, torch.tensor([1.0, 0.5]))
    # critic 1 gives 3, critic 2 gives 4; targets 3.575 and 2
    d1 = np.array([3 - 3.575, 3 - 2.0])
    d2 = np.array([4 - 3.575, 4 - 2.0])
    w = np.array([1.0, 0.5])
    assert float(loss) == pytest.approx((w * d1 ** 2).mean() + (w * d2 ** 2).mean(), rel=1e-6)
    np.testing.assert_allclose(td.numpy(), (np.abs(d1) + np.abs(d2)) / 2, rtol=1e-6)


def test_actor_step_moves_the_actor_only_and_leaves_the_critics_trainable():
    agent = SacAgent(3, 2, LearnerConfig.for_algo('redq'), seed=0)
    loss, _ = agent.actor_loss(torch.randn(8, 3))
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in agent.actor.parameters())
    assert all(p.grad is None for p in agent.critic.parameters())
    assert all(p.requires_grad for p in agent.critic.parameters())


def test_temperature_update_direction_and_gradient():
    agent = SacAgent(1, 2, LearnerConfig.for_algo('sac', init_alpha=0.5), seed=0)
    # target entropy -2; an entropy of 5 (log-prob -5) is above target: alpha must fall
    loss = agent.alpha_loss(torch.tensor([-5.0, -5.0]))
    loss.backward()
    # d/d(log alpha) of -(log alpha (logp + H)) = -(-5 - 2) = 7 > 0
    assert float(agent.log_alpha.grad) == pytest.approx(7.0)
    assert float(loss.detach()) == pytest.approx(7.0 * math.log(0.5), rel=1e-6)


def test_squashed_log_prob_matches_change_of_variables():
    torch.manual_seed(0)
    actor = SquashedGaussianActor(3, 2, (8,))
    obs = torch.randn(4, 3)
    torch.manual_seed(1)
    a, logp = actor(obs)
    mean, log_std = actor.body(obs).chunk(2, dim=-1)
    u = torch.atanh(a.clamp(-1 + 1e-6, 1 - 1e-6))
    normal = torch.distributions.Normal(mean, log_std.clamp(-20, 2).exp())
    expected = (normal.log_prob(u) - torch.log(1 - a ** 2)).sum(-1)
    np.testing.assert_allclose(logp.detach().numpy(), expected.detach().numpy(), rtol=1e-3, atol=1e-3)


def _tiny_scenario():
    return load_scenario().replace(scenario__num_users=2, scenario__num_uavs=2, scenario__num_slots=20)


def test_short_training_beats_random_and_checkpoint_round_trips(tmp_path):
    cfg = _tiny_scenario()
    learner = LearnerConfig.for_algo('sac-per', hidden=(64, 64), batch_size=64, learning_starts=200)
    train(learner, cfg, TrainSettings(steps=800, seed=0, eval_every=800, eval_episodes=2, progress=False),
          tmp_path)
    policy = make_policy(str(tmp_path / 'checkpoint.pt'))
    seeds = range(5)
    learned = np.mean([run_episode(UavMecEnv(cfg), policy, s).summary()['reward'] for s in seeds])
    rand = []
    for s in seeds:
        env = UavMecEnv(cfg)
        env.action_space.seed(s)
        env.reset(seed=s)
        done, total = False, 0.0
        while not done:
            _, r, done, _, _ = env.step(env.action_space.sample())
            total += r
        rand.append(total)
    assert learned > np.mean(rand)
    state = load_policy(tmp_path / 'checkpoint.pt')
    again = make_policy(str(tmp_path / 'checkpoint.pt'))
    obs = UavMecEnv(cfg).reset(seed=0)[0]
    np.testing.assert_array_equal(policy.action(obs), again.action(obs))
    assert state['scenario_config'] == cfg


def test_resume_continues_exactly(tmp_path):
    cfg = _tiny_scenario()
    learner = LearnerConfig.for_algo('sac', hidden=(32,), batch_size=32, learning_starts=40)
    settings = dict(seed=3, eval_every=1000, eval_episodes=1, checkpoint_every=20, progress=False)
    train(learner, cfg, TrainSettings(steps=120, **settings), tmp_path / 'straight')
    train(learner, cfg, TrainSettings(steps=60, **settings), tmp_path / 'split')
    train(learner, cfg, TrainSettings(steps=120, **settings), tmp_path / 'split', resume=True)
    a = torch.load(tmp_path / 'straight' / 'checkpoint.pt', weights_only=False)['actor']
    b = torch.load(tmp_path / 'split' / 'checkpoint.pt', weights_only=False)['actor']
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    assert (tmp_path / 'split' / 'train.csv').read_text() .count('\n') == \
        (tmp_path / 'straight' / 'train.csv').read_text().count('\n')


def test_uniform_actor_batch_trains_the_actor_on_uniform_draws(tmp_path, monkeypatch):
    from uav_mec_nodes.learners.buffers import PrioritizedReplayBuffer
    seen = []
    real_actor_loss = SacAgent.actor_loss

    def spy_actor_loss(agent, obs):
        seen.append(obs.clone())
        return real_actor_loss(agent, obs)
    uniform_draws = []
    real_uniform = PrioritizedReplayBuffer.sample_uniform

    def spy_uniform(buffer, batch_size, rng):
        out = real_uniform(buffer, batch_size, rng)
        uniform_draws.append(out[0]['obs'].copy())
        return out
    monkeypatch.setattr(SacAgent, 'actor_loss', spy_actor_loss)
    monkeypatch.setattr(PrioritizedReplayBuffer, 'sample_uniform', spy_uniform)
    learner = LearnerConfig.for_algo('sac-per', hidden=(16,), batch_size=16, learning_starts=30,
                                     per_actor_batch='uniform')
    train(learner, _tiny_scenario(), TrainSettings(steps=50, seed=0, eval_every=1000, eval_episodes=1,
                                                   progress=False), tmp_path)
    assert len(seen) == len(uniform_draws) == 50 - 30
    for obs, drawn in zip(seen, uniform_draws):
        np.testing.assert_array_equal(obs.numpy(), drawn)
    # resuming a run saved before the setting existed: its default fills in
    saved = LearnerConfig.for_algo('sac-per').to_dict()
    del saved['per_actor_batch']
    assert LearnerConfig.from_dict(saved) == LearnerConfig.for_algo('sac-per')


def test_bad_learner_settings_and_policy_files(tmp_path):
    with pytest.raises(UserInputError, match='--algo'):
        LearnerConfig.for_algo('ppo')
    with pytest.raises(UserInputError, match="per_actor_batch: must be 'prioritized' or 'uniform'"):
        LearnerConfig.for_algo('sac-per', per_actor_batch='sometimes')
    with pytest.raises(UserInputError, match='target_subset'):
        LearnerConfig.for_algo('redq', num_critics=2, target_subset=3)
    (tmp_path / 'junk.pt').write_bytes(b'not a policy')
    with pytest.raises(UserInputError, match="not a uav_mec_nodes policy file"):
        make_policy(str(tmp_path / 'junk.pt'))
    with pytest.raises(UserInputError, match='no policy file'):
        make_policy(str(tmp_path / 'missing.pt'))
