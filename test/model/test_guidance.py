"""The orbit motion action: whatever a learner outputs, its UAVs circle their users inside the area."""
import numpy as np
import pytest
import torch

from uav_mec_nodes.config import load_scenario
from uav_mec_nodes.env import UavMecEnv
from uav_mec_nodes.experiments.evaluation import BORDER_M
from uav_mec_nodes.model import guidance
from uav_mec_nodes.model.mobility import min_pairwise_distance


@pytest.mark.parametrize('seed', range(3))
def test_any_orbit_action_stays_inside_off_the_border_and_apart(seed):
    cfg = load_scenario().replace(modes__motion_action='orbit', scenario__num_uavs=4, safety__enabled=True)
    env = UavMecEnv(cfg)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    area, near, slots, done, t = cfg.scenario.area_m, 0, 0, False, 0
    while not done:
        action = rng.choice([-1.0, 1.0], env.action_dim)     # the extremes a saturated actor would output
        _, _, done, _, _ = env.step(action)
        live = env.fail_slots > t
        q = env.uav_pos[live]
        assert np.all((q[:, :2] >= 0) & (q[:, :2] <= area))
        near += int(np.sum(np.any((q[:, :2] < BORDER_M) | (q[:, :2] > area - BORDER_M), axis=1)))
        slots += int(live.sum())
        if live.sum() > 1:
            assert min_pairwise_distance(q) >= cfg.uavs.d_safe_m - 1e-6
        t += 1
    assert near / slots < 0.02


def test_the_orbit_action_decodes_to_the_guidance_and_the_acceleration_action_does_not():
    env = UavMecEnv(load_scenario())
    env.reset(seed=1)
    action = np.random.default_rng(0).uniform(-1, 1, env.action_dim)
    decisions, paper = env.decode_action(action)
    _, orbit = env.decode_action(action, 'orbit')
    motion = action[-3 * env.num_uavs:].reshape(env.num_uavs, 3)
    assert np.allclose(paper, motion * env.cfg.uavs.a_max_mps2)
    expected = guidance.orbit_action(motion, env.users.position[:, :2], decisions.serving_uav, env.uav_pos,
                                     env.uav_vel, env.alive_start, env.cfg)
    assert np.allclose(orbit, expected) and not np.allclose(orbit, paper)


def test_a_policy_file_flies_the_motion_it_was_trained_with(tmp_path):
    """A policy trained with orbit motion, run in a scenario whose default is acceleration, still orbits."""
    from uav_mec_nodes.learners.sac import LearnerConfig, SacAgent
    from uav_mec_nodes.policies.files import save_policy
    from uav_mec_nodes.policies.learned import LearnedPolicy
    trained_cfg = load_scenario().replace(modes__motion_action='orbit')
    env = UavMecEnv(trained_cfg)
    learner = LearnerConfig.for_algo('sac-per', hidden=(16, 16))
    torch.manual_seed(0)
    agent = SacAgent(env.observation_space.shape[0], env.action_dim, learner)
    save_policy(tmp_path / 'orbit.pt', agent, learner, trained_cfg, step=0)
    policy = LearnedPolicy(tmp_path / 'orbit.pt')
    plain = UavMecEnv(load_scenario())
    plain.reset(seed=2)
    decisions, accel = policy.act(plain)
    _, expected = plain.decode_action(policy.action(plain.observation()), 'orbit')
    assert np.allclose(accel, expected)
