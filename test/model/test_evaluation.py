"""The evaluation protocol: disjoint seed sets, paired differences with t-intervals, the motion measures."""
import numpy as np
import pytest
from scipy import stats

from uav_mec_nodes.env import UavMecEnv
from uav_mec_nodes.experiments.evaluation import TEST_EPISODES, TEST_SEED, VALIDATION_SEED, compare, paired_difference
from uav_mec_nodes.learners.trainer import EVAL_SEED, episode_seed
from uav_mec_nodes.policies.baselines import OffloadAll
from uav_mec_nodes.policies.flying import FlyingReference


def test_the_seed_sets_are_disjoint():
    training = {episode_seed(s, e) for s in range(9) for e in range(2000)}
    validation = set(range(VALIDATION_SEED, VALIDATION_SEED + 1000))
    test = set(range(TEST_SEED, TEST_SEED + TEST_EPISODES))
    assert EVAL_SEED == VALIDATION_SEED                     # training-time evaluations are validation episodes
    assert not training & validation and not training & test and not validation & test
    assert TEST_EPISODES >= 30


def test_paired_difference_is_a_t_interval_of_the_differences():
    a, b = [5.0, 6.0, 7.5, 6.5], [4.0, 6.5, 6.0, 6.0]
    d = np.subtract(a, b)
    got = paired_difference(a, b)
    half = stats.t.ppf(0.975, 3) * d.std(ddof=1) / 2.0
    assert got['mean'] == pytest.approx(d.mean()) and got['n'] == 4
    assert (got['low'], got['high']) == pytest.approx((d.mean() - half, d.mean() + half))


def test_compare_pairs_by_seed_and_measures_the_motion():
    result = compare(UavMecEnv(), {'hover': OffloadAll(), 'fly': FlyingReference(offloading=OffloadAll())},
                     'hover', [TEST_SEED, TEST_SEED + 1, TEST_SEED + 2])
    hover, fly = result['hover'], result['fly']
    assert hover['energy_vs_reference_j'] == dict(mean=0.0, std=0.0, low=0.0, high=0.0, n=3)
    diff = fly['energy_vs_reference_j']
    assert diff['mean'] == pytest.approx(np.mean(np.subtract(fly['energy_per_episode'], hover['energy_per_episode'])))
    assert diff['low'] <= diff['mean'] <= diff['high']
    assert fly['border_fraction'] == 0.0 and fly['safety_interventions'] == 0
    assert 0 < fly['user_distance_m'] < hover['user_distance_m']   # it flies over its users


def test_the_gap_report_puts_each_slot_of_a_policy_beside_its_optimum():
    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.experiments.evaluation import slot_gaps, summarize_gaps
    env = UavMecEnv(load_scenario().replace(scenario__num_slots=4, scenario__num_users=5))
    rows = slot_gaps(env, OffloadAll(), [TEST_SEED])
    assert [r.slot for r in rows] == [0, 1, 2, 3]
    for r in rows:
        assert r.optimum_late <= r.late                     # the optimum is never behind on deadlines
        assert r.lower_late <= r.optimum_late or r.failure
        if r.late == r.optimum_late:
            assert r.energy_gap >= -1e-9                     # nor, at equal deadlines, on energy
    summary = summarize_gaps(rows)
    assert summary['slots'] == 4
    assert summary['energy_j'] >= summary['optimum_energy_j']
    assert summary['bound_gap_max'] <= 1e-3                   # the bounds meet on these small slots


def test_the_flight_floor_is_what_a_uav_from_rest_must_spend_and_no_policy_goes_below_it():
    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.model.guidance import cruise_speed_mps, least_flight_energy_j
    from uav_mec_nodes.model.propulsion import propulsion_power_w
    cfg = load_scenario()
    a = cfg.uavs.a_max_mps2 * cfg.scenario.slot_s           # the speed one slot can add
    assert least_flight_energy_j(0, cfg) == pytest.approx(float(propulsion_power_w(0.0, cfg.propulsion)))  # hover
    assert least_flight_energy_j(1, cfg) == pytest.approx(float(propulsion_power_w(a, cfg.propulsion)))
    cruise = float(propulsion_power_w(cruise_speed_mps(cfg), cfg.propulsion))
    assert least_flight_energy_j(5, cfg) == pytest.approx(cruise) and cruise < least_flight_energy_j(1, cfg)
    result = compare(UavMecEnv(), {'hover': OffloadAll(), 'fly': FlyingReference(offloading=OffloadAll())},
                     'hover', [TEST_SEED, TEST_SEED + 1])
    # hovering spends P(0) where the floor cruises: about (168.5 - 126) W a UAV-slot above it
    assert result['hover']['flight_above_floor_j'] > 0.5
    assert 0.0 <= result['fly']['flight_above_floor_j'] < 0.2 * result['hover']['flight_above_floor_j']
