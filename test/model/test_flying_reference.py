"""The flying reference: cruise speed from (2), never out of the area, never closer than d_safe."""
import numpy as np
import pytest

from uav_mec_nodes.config import load_scenario
from uav_mec_nodes.env import UavMecEnv
from uav_mec_nodes.experiments.episode import run_episode
from uav_mec_nodes.model.mobility import min_pairwise_distance
from uav_mec_nodes.model.propulsion import propulsion_power_w
from uav_mec_nodes.policies.base import Policy
from uav_mec_nodes.policies.baselines import OffloadAll
from uav_mec_nodes.policies.flying import FlyingReference, cruise_speed_mps


@pytest.mark.parametrize('changes', [{}, {'propulsion__blade_profile_w': 120.0, 'propulsion__induced_w': 60.0},
                                     {'uavs__v_max_mps': 6.0}])
def test_the_cruise_speed_is_the_argmin_of_the_propulsion_power(changes):
    cfg = load_scenario().replace(**changes)
    v_star = cruise_speed_mps(cfg)
    grid = np.linspace(0.0, cfg.uavs.v_max_mps, 20001)
    power = propulsion_power_w(grid, cfg.propulsion)
    assert abs(v_star - grid[np.argmin(power)]) <= 2 * (grid[1] - grid[0])
    assert propulsion_power_w(v_star, cfg.propulsion) <= power.min() + 1e-6
    if not changes:   # the paper's constants: about 10 m/s and 126 W against 168.5 W in hover
        assert 10.0 < v_star < 10.5 and abs(float(propulsion_power_w(v_star, cfg.propulsion)) - 126.0) < 0.5


@pytest.mark.parametrize('seed', range(4))
def test_it_never_leaves_the_area_nor_comes_closer_than_d_safe(seed):
    cfg = load_scenario().replace(scenario__num_uavs=4, failures__max_failures=1)
    env = UavMecEnv(cfg)
    log = run_episode(env, FlyingReference(offloading=OffloadAll()), seed)
    margin, area = cfg.safety.margin_m, cfg.scenario.area_m
    start = log.uav_positions[0]
    outside_at_start = np.maximum(margin - start[:, :2], 0) + np.maximum(start[:, :2] - (area - margin), 0)
    speeds = []
    for t, q in enumerate(log.uav_positions[1:], start=1):
        live = log.fail_slots >= t
        outside = np.maximum(margin - q[:, :2], 0) + np.maximum(q[:, :2] - (area - margin), 0)
        assert np.all(outside <= outside_at_start + 1e-6)              # never further into the margin
        assert np.all((q[:, 2] >= cfg.scenario.altitude_min_m - 1e-6) & (q[:, 2] <= cfg.scenario.altitude_max_m))
        assert min_pairwise_distance(q[live]) >= cfg.uavs.d_safe_m
        if t > 30:
            speeds.append(np.linalg.norm(np.diff(log.uav_positions[t - 1:t + 1], axis=0)[0][live], axis=1))
    # and it does cruise: once on their circles the live UAVs fly near V*, not hover
    assert np.median(np.concatenate(speeds)) == pytest.approx(cruise_speed_mps(cfg), rel=0.15)
    assert not any(s['out_of_bounds'] or s['collision'] for s in log.slots)   # (31)'s penalties never apply


def test_flying_optimal_takes_the_optimums_decisions_and_flies_like_the_greedy_reference():
    from uav_mec_nodes.policies import make_policy
    from uav_mec_nodes.policies.optimal import slot_optimum
    env = UavMecEnv(load_scenario().replace(scenario__num_users=6))
    env.reset(seed=3)
    flying_optimal = make_policy('flying-optimal')
    assert flying_optimal.name == 'flying-optimal' and make_policy('flying-greedy').name == 'flying-greedy'
    decisions, accel = flying_optimal.act(env)
    expected = slot_optimum(env).decisions
    np.testing.assert_array_equal(decisions.partition_layer, expected.partition_layer)
    np.testing.assert_array_equal(decisions.serving_uav, expected.serving_uav)
    # the motion is the flying reference's orbit around the users each UAV serves
    _, accel_greedy = FlyingReference(offloading=_Fixed(decisions)).act(env)
    np.testing.assert_allclose(accel, accel_greedy)


class _Fixed(Policy):
    """A policy replaying given decisions."""
    def __init__(self, decisions):
        self.decisions = decisions

    def act(self, env):
        return self.decisions, None


def test_steady_greedy_moves_its_centres_a_few_metres_a_slot_and_wastes_less_flight():
    from uav_mec_nodes.experiments.evaluation import compare
    from uav_mec_nodes.model import guidance
    from uav_mec_nodes.policies import make_policy
    env = UavMecEnv(load_scenario().replace(scenario__num_users=8, scenario__num_uavs=4))
    steady = make_policy('steady-greedy')
    env.reset(seed=11)
    steady.reset(11)
    greedy = make_policy('greedy')
    greedy.reset(11)
    moves = []
    for t in range(25):
        decisions, motion = steady.plan(env)
        again, motion_again = steady.plan(env)                       # planning a slot twice: the same plan
        np.testing.assert_array_equal(motion, motion_again)
        np.testing.assert_array_equal(decisions.serving_uav, greedy.act(env)[0].serving_uav)   # greedy's offloading
        assert np.all(np.abs(motion) <= 1.0) and np.all(motion[:, 2] == -1.0)                   # centred low
        centres = steady._centres[t]
        if t > 0:
            live = env.alive_start
            moves.append(np.linalg.norm(centres - steady._centres[t - 1], axis=1)[live])
        env.step_decisions(decisions, steady.fly(env, decisions, motion))
    # a centre moves at most CENTRE_STEP_M, unless the orbit action's offset range or the spacing of two orbits
    # moves it further: most slots stay within the step
    moves = np.concatenate(moves)
    assert np.mean(moves <= guidance.CENTRE_STEP_M + 1e-9) > 0.8
    # and its turns keep the cruise speed: less flight above the floor than the flying reference's, same seeds
    result = compare(UavMecEnv(load_scenario().replace(scenario__num_uavs=4)),
                     {'steady': steady, 'flying': make_policy('flying-greedy')}, 'flying', [5, 6])
    assert 0.0 <= result['steady']['flight_above_floor_j'] < 0.5 * result['flying']['flight_above_floor_j']
