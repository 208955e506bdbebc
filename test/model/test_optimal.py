"""The per-slot optimum: equal to brute force on tiny slots, bounded, never worse than greedy."""
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uav_mec_nodes.config import load_scenario
from uav_mec_nodes.env import UavMecEnv
from uav_mec_nodes.model.slot import SlotDecisions, evaluate_slot_batch
from uav_mec_nodes.policies.greedy import GreedyOptimum, SlotProblem
from uav_mec_nodes.policies.optimal import evaluate_tasks, slot_optimum

FLIGHT = 'w_fly * flight energy is the same for every decision of a slot'


def _env(users: int, uavs: int, seed: int, dead_uav: bool = False, dnn='random'):
    failures = dict(failures__model='schedule', failures__max_failures=1, failures__num_failures=1,
                    failures__schedule=((0, 0),)) if dead_uav else \
        dict(failures__model='none', failures__max_failures=0, failures__num_failures=0)
    cfg = load_scenario().replace(scenario__num_users=users, scenario__num_uavs=uavs, scenario__dnn_assignment=dnn,
                                  **failures)
    env = UavMecEnv(cfg)
    env.reset(seed=seed)
    if dead_uav:   # UAV 0 failed during slot 0: from slot 1 on it is down at the slot's start
        env.step_decisions(*GreedyOptimum().act(env))
    return env


def _brute_force(env):
    """(late tasks, tasks' energy) of every decision of the slot, exactly; the lexicographic least."""
    problem = SlotProblem(env)
    n_users = env.num_users
    per_user = [[(j, phi) for j in np.flatnonzero(problem.alive) for phi in range(1, problem.num_layers[i] + 1)]
                for i in range(n_users)]
    state, fly = env.slot_inputs()
    combos = list(itertools.product(*per_user))
    best = (np.inf, np.inf)
    for start in range(0, len(combos), 2000):
        chunk = combos[start:start + 2000]
        decisions = [SlotDecisions(np.array([phi for _, phi in c]), np.array([j for j, _ in c]),
                                   np.full(n_users, -1)) for c in chunk]
        for r in evaluate_slot_batch(env.cfg, env.arrays, decisions, [state] * len(chunk), [fly] * len(chunk)):
            best = min(best, (int(np.count_nonzero(r.state)), r.e_tot - env.cfg.energy.w_fly * float(fly.sum())))
    return best, len(combos)


@pytest.mark.parametrize('users,seed', [(2, 0), (2, 1), (3, 2), (3, 3), (3, 4)])
def test_the_optimum_equals_brute_force_on_tiny_slots(users, seed):
    env = _env(users, 2, seed)
    (late, energy), n = _brute_force(env)
    assert n >= 64
    opt = slot_optimum(env)
    assert opt.late == opt.lower_late == late
    assert opt.lower_energy_j <= energy * (1 + 1e-9)          # a lower bound of every decision
    assert opt.energy_j == pytest.approx(energy, rel=1e-9)    # and the best decision found


def test_a_crowded_uav_makes_late_tasks_and_the_optimum_counts_them_exactly():
    """Ten users on one UAV cannot all be on time: the least late count is proved and reached."""
    env = _env(10, 1, 3, dnn='round_robin')
    opt = slot_optimum(env)
    greedy_late, greedy_energy = evaluate_tasks(env, GreedyOptimum().act(env)[0])
    assert opt.lower_late >= 1
    assert opt.late == opt.lower_late <= greedy_late
    assert opt.lower_energy_j <= opt.energy_j


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), users=st.integers(3, 9), slot=st.integers(0, 3), dead_uav=st.booleans())
def test_never_worse_than_greedy_and_below_every_decision(seed, users, slot, dead_uav):
    env = _env(users, 3, seed, dead_uav, dnn='round_robin')
    greedy = GreedyOptimum()
    for _ in range(slot):   # a few slots in, so the UAVs are not where they started
        env.step_decisions(*greedy.act(env))
    opt = slot_optimum(env)
    greedy_late, greedy_energy = evaluate_tasks(env, greedy.act(env)[0])
    # lexicographic: no more late tasks, then no more energy; exactly, as greedy's decisions are its first incumbent
    assert (opt.late, opt.energy_j) <= (greedy_late, greedy_energy)
    assert (opt.lower_late, opt.lower_energy_j) <= (greedy_late, greedy_energy * (1 + 1e-9))
    assert (opt.lower_late, opt.lower_energy_j) <= (opt.late, opt.energy_j * (1 + 1e-9))


def test_the_solvers_debugging_lines_reach_neither_stdout_nor_stderr():
    import json

    from helpers import uav_mec
    # at I=4 HiGHS printed dozens of "HighsMipSolverData::..." lines an episode on fd 1 (they went to stderr)
    out = uav_mec('compare', '--users', 4, '--policies', 'flying-optimal', '--episodes', 2, '--seed', 1000100,
                  '--json', '--no-progress')
    assert 'Highs' not in out.stderr and 'Highs' not in out.stdout
    assert json.loads(out.stdout)['policies']['flying-optimal']['episodes'] == 2


def test_a_priced_tangent_lies_below_each_energy_curve_and_touches_it():
    """The tangents at CPU prices (the program's rows at a decision's prices): for every option and price,
    value - price u <= E(u) on the option's whole range of shares, and = E at the priced optimum's share."""
    from uav_mec_nodes.policies.optimal import EnergyCurves
    env = _env(6, 3, 11)
    curves = EnergyCurves(SlotProblem(env))
    options = np.flatnonzero(np.isfinite(curves.need_hz))
    # prices about those of the CPUs binding in this scenario (greedy's, times 1e-2 to 1e2), and 0
    _, greedy_price = curves.at(options[:1], curves.need_hz[options[:1]] * 1.001)
    for price in np.concatenate([[0.0], greedy_price[0] * np.logspace(-2, 2, 5)]):
        option, _, value, mu = curves.at_price(options, np.full(len(options), price))
        assert np.all(np.isfinite(value)) and np.all(mu == price)
        for frac in np.linspace(0.0, 1.0, 9) ** 2:
            f = curves.need_hz[options] * (1 + 1e-9) + (env.cfg.uavs.cpu_hz - curves.need_hz[options]) * frac
            energy, _ = curves.at(options, f)
            assert np.all(value - price * f <= energy * (1 + 1e-9))
        if price > 0:   # E at the share where E + price f is least, found by a fine grid, meets the line
            f = curves.need_hz[options, None] * (1 + 1e-9) + \
                (env.cfg.uavs.cpu_hz - curves.need_hz[options, None]) * np.linspace(0, 1, 400) ** 3
            energy = np.array([curves.at(options, f[:, k])[0] for k in range(f.shape[1])]).T
            assert np.all(np.min(energy + price * f, axis=1) >= value * (1 - 1e-9))
