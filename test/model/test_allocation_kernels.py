"""The compiled allocation solvers give the numpy solvers' allocation (bench/allocation_reference.py)."""
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.special import lambertw

from uav_mec_nodes.model import allocation_kernels as kernels
from uav_mec_nodes.model.allocation import improved_allocation, task_energy_j

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'bench'))
from allocation_reference import improved_allocation_reference  # noqa: E402

KAPPA, W_UAV, B1 = 1e-28, 1e-3, 1e6


def _problem(rng):
    """Random tasks on 1-5 UAVs: some all-local or all-offloaded, noise/gain over six decades, tight budgets."""
    n, j = int(rng.integers(1, 40)), int(rng.integers(1, 6))
    return (rng.uniform(0, 5e8, n) * (rng.random(n) < 0.8), rng.uniform(0, 3e9, n) * (rng.random(n) < 0.9),
            rng.uniform(1e4, 5e6, n) * (rng.random(n) < 0.9), 10 ** rng.uniform(-14, -8, n),
            rng.uniform(0.05, 1.0, n), rng.integers(0, j, n), j, rng.uniform(2e9, 2e10), 1e9, 0.5, B1, KAPPA, W_UAV)


def test_the_compiled_solvers_allocate_as_the_numpy_ones_on_many_problems():
    rng = np.random.default_rng(1)
    binding = 0
    for _ in range(400):
        args = _problem(rng)
        ref, ok_ref = improved_allocation_reference(*args)
        new, ok_new = improved_allocation(*args)
        np.testing.assert_array_equal(ok_new, ok_ref)
        e_ref = task_energy_j(*args[:4], ref, B1, KAPPA, W_UAV)
        e_new = task_energy_j(*args[:4], new, B1, KAPPA, W_UAV)
        np.testing.assert_allclose(e_new.sum(), e_ref.sum(), rtol=1e-12, atol=0)
        np.testing.assert_allclose(e_new, e_ref, rtol=1e-9, atol=1e-300)
        for name in ('local_s', 'tx_s', 'uav_s', 'uav_hz'):
            np.testing.assert_allclose(getattr(new, name), getattr(ref, name), rtol=1e-9, atol=0, err_msg=name)
        binding += bool((ref.cpu_price > 0).any())
    assert binding > 100   # the CPU-price solver was exercised, not only the budgets


def test_the_compiled_allocation_takes_the_steps_of_the_numpy_one_around_the_same_solvers():
    """allocation_kernels.allocate (the default) against improved_allocation's numpy steps around the compiled
    solvers: the same admission, the same times to rounding (math.exp and np.exp may differ in the last bit)."""
    rng = np.random.default_rng(2)
    late_tasks = binding = 0
    for _ in range(400):
        args = _problem(rng)
        new, ok_new = improved_allocation(*args)
        ref, ok_ref = improved_allocation(*args, solvers=kernels)
        np.testing.assert_array_equal(ok_new, ok_ref)
        for name in ('local_s', 'tx_s', 'uav_s', 'uav_hz', 'cpu_price', 'log_lambda0'):
            np.testing.assert_allclose(getattr(new, name), getattr(ref, name), rtol=1e-13, atol=0, err_msg=name)
        late_tasks += int((~ok_ref).sum())
        binding += bool((ref.cpu_price > 0).any())
    assert late_tasks > 100 and binding > 100   # queued tasks and CPU prices were both exercised
    empty = improved_allocation(*(np.zeros(0),) * 5, np.zeros(0, np.int64), 2, 1e9, 1e9, 0.5, B1, KAPPA, W_UAV)
    assert empty[0].local_s.shape == (0,) and empty[1].shape == (0,)


def test_each_tasks_multiplier_at_mu_0_from_its_solve_alone_gives_the_same_allocation_to_the_bit():
    """The greedy solves every option alone first and passes each one's log(lambda) at mu = 0
    (TaskTimes.log_lambda0) to the groups it joins (lambda_start): the first search of each task then
    ends at once, and the allocation is the one found without it, to the bit; NaN where a task is late."""
    rng = np.random.default_rng(4)
    for _ in range(200):
        args = _problem(rng)
        n = len(args[0])
        alone, ok_alone = improved_allocation(*args[:5], np.arange(n), n, *args[7:])   # each task its own UAV
        assert np.all(np.isnan(alone.log_lambda0[~ok_alone])) and np.all(np.isfinite(alone.log_lambda0[ok_alone]))
        for guess in (None, np.full(args[6], 1e-20)):   # cold, and as the greedy calls it (a price guess)
            plain, ok_plain = improved_allocation(*args, cpu_price_start=guess)
            given, ok_given = improved_allocation(*args, cpu_price_start=guess, lambda_start=alone.log_lambda0)
            np.testing.assert_array_equal(ok_given, ok_plain)
            for name in ('local_s', 'tx_s', 'uav_s', 'uav_hz', 'cpu_price', 'log_lambda0'):
                np.testing.assert_array_equal(getattr(given, name), getattr(plain, name), err_msg=name)
    # guesses of another size are refused before the kernel, which reads them without checks
    args = _problem(rng)
    with pytest.raises(ValueError, match=r'lambda_start must have shape'):
        improved_allocation(*args, lambda_start=np.zeros(len(args[0]) + 1))
    with pytest.raises(ValueError, match=r'cpu_price_start must have shape'):
        improved_allocation(*args, cpu_price_start=np.zeros(args[6] + 1))


def test_a_cpu_price_guess_changes_where_the_search_starts_not_what_it_finds():
    """cpu_price_start (the greedy's: the price of the UAV's group before a move; the multiplier searches
    then also start where the ones before them ended) gives the allocation found without it to the
    searches' tolerance (|log(used / F)| <= 1e-11, where a price is flat: on 2,000 such
    problems at most 1e-8 in a price, 4e-10 in a time, 2e-10 in the energy); the same admission; the numpy
    steps ignore it. The greedy's decisions with and without it are compared in the greedy tests."""
    rng = np.random.default_rng(3)
    binding = 0
    for _ in range(300):
        args = _problem(rng)
        cold, ok_cold = improved_allocation(*args)
        num_uavs = args[6]
        price = np.zeros(num_uavs)
        np.maximum.at(price, args[5], cold.cpu_price)
        guess = np.where(rng.random(num_uavs) < 0.8, price * 10 ** rng.uniform(-1, 1, num_uavs), np.nan)
        warm, ok_warm = improved_allocation(*args, cpu_price_start=guess)
        np.testing.assert_array_equal(ok_warm, ok_cold)
        e_cold = task_energy_j(*args[:4], cold, B1, KAPPA, W_UAV)
        e_warm = task_energy_j(*args[:4], warm, B1, KAPPA, W_UAV)
        np.testing.assert_allclose(e_warm.sum(), e_cold.sum(), rtol=1e-9, atol=0)
        for name in ('local_s', 'tx_s', 'uav_s', 'uav_hz'):
            np.testing.assert_allclose(getattr(warm, name), getattr(cold, name), rtol=5e-9, atol=0, err_msg=name)
        np.testing.assert_allclose(warm.cpu_price, cold.cpu_price, rtol=1e-7, atol=0)
        reference, _ = improved_allocation_reference(*args, cpu_price_start=guess)
        np.testing.assert_allclose(reference.cpu_price, improved_allocation_reference(*args)[0].cpu_price,
                                   rtol=0, atol=0)
        binding += bool((price > 0).any())
    assert binding > 80


def test_lambert_w_matches_scipy_over_its_range():
    near = -np.exp(-1.0) + np.logspace(-12, -1, 40)     # the branch point, where W is sqrt-steep
    z = np.concatenate([np.linspace(-0.3, 3.0, 80), np.logspace(0, 60, 80)])
    w = lambda values: np.array([kernels.lambert_w0(float(v)) for v in values])
    np.testing.assert_allclose(w(z), np.real(lambertw(z)), rtol=1e-13, atol=0)
    np.testing.assert_allclose(w(near), np.real(lambertw(near)), rtol=0, atol=1e-7)
    assert kernels.lambert_w0(-1.0) == -1.0 and kernels.lambert_w0(0.0) == 0.0


def test_greedy_and_the_flying_reference_decide_as_with_the_numpy_solvers():
    """Every decision of greedy and flying-greedy (the flying reference), 20 slots each with a failure, and
    every slot's e_tot, are those made with the numpy solvers."""
    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.env import UavMecEnv
    from uav_mec_nodes.model import allocation
    from uav_mec_nodes.policies import make_policy
    cfg = load_scenario().replace(scenario__num_slots=20, failures__model='schedule', failures__schedule=((1, 7),))
    compiled = allocation.improved_allocation

    def episode(policy_name, seed):
        env, policy = UavMecEnv(cfg), make_policy(policy_name)
        env.reset(seed=seed)
        policy.reset(seed)
        out = []
        for _ in range(cfg.scenario.num_slots):
            d, accel = policy.act(env)
            info = env.step_decisions(d, accel)[4]
            out.append((d.partition_layer.tolist(), d.serving_uav.tolist(), d.migration_target.tolist(),
                        np.asarray(accel).tolist(), info['e_tot']))
        return out

    for name, seed in (('greedy', 5), ('flying-greedy', 6)):
        new = episode(name, seed)
        allocation.improved_allocation = improved_allocation_reference
        try:
            ref = episode(name, seed)
        finally:
            allocation.improved_allocation = compiled
        for t, (a, b) in enumerate(zip(new, ref)):
            assert a[:4] == b[:4], (name, t)
            assert a[4] == pytest.approx(b[4], rel=1e-12, abs=0), (name, t)


def test_greedy_decides_as_todays_greedy_on_many_slots():
    """Greedy with its group energies kept between moves and the compiled solvers makes, slot by slot, the
    decisions of the greedy it replaced (bench/greedy_reference.py: every group solved anew, numpy solvers),
    at three sizes, through failures."""
    from greedy_reference import reference_act

    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.env import UavMecEnv
    from uav_mec_nodes.model import allocation
    from uav_mec_nodes.policies.greedy import GreedyOptimum
    compiled = allocation.improved_allocation
    slots = 0
    # the last: two UAVs for 14 users, overloaded (tasks queued late), where the search's bounds differ
    cases = ((10, 3, 11, ((1, 9),), 20), (10, 3, 12, ((0, 3), (2, 14)), 20), (20, 4, 13, ((3, 5),), 20),
             (6, 2, 14, ((1, 10),), 20), (14, 2, 15, ((1, 4),), 6))
    for num_users, num_uavs, seed, failures, num_slots in cases:
        cfg = load_scenario().replace(scenario__num_slots=num_slots, scenario__num_users=num_users,
                                      scenario__num_uavs=num_uavs, failures__model='schedule',
                                      failures__max_failures=len(failures), failures__schedule=failures)
        env, policy = UavMecEnv(cfg), GreedyOptimum()
        env.reset(seed=seed)
        policy.reset(seed)
        for t in range(cfg.scenario.num_slots):
            new, accel = policy.act(env)
            allocation.improved_allocation = improved_allocation_reference
            try:
                ref, accel_ref = reference_act(env)
            finally:
                allocation.improved_allocation = compiled
            for field in ('partition_layer', 'serving_uav', 'migration_target'):
                assert getattr(new, field).tolist() == getattr(ref, field).tolist(), (num_users, seed, t, field)
            np.testing.assert_array_equal(accel, accel_ref)
            env.step_decisions(new, accel)
            slots += 1
    assert slots == 86


def test_each_option_alone_with_a_nan_price_guess_is_the_cold_allocation_and_binds_at_its_price_alone():
    """The greedy's candidate table solves every option alone with a NaN price guess per option (warm
    searches): where an option's CPU binds alone its price search starts at its price alone
    (kernels._alone_price), which is the price the search finds to 1e-8; the allocation is the cold one to
    the searches' tolerance, and to the bit where the CPU does not bind (the second pass keeps those
    times: its search would stop where the first one ended)."""
    rng = np.random.default_rng(5)
    binding = 0
    for _ in range(200):
        args = _problem(rng)
        n = len(args[0])
        alone = (*args[:5], np.arange(n), n, *args[7:])
        cold, ok_cold = improved_allocation(*alone)
        warm, ok_warm = improved_allocation(*alone, cpu_price_start=np.full(n, np.nan))
        np.testing.assert_array_equal(ok_warm, ok_cold)
        free = cold.cpu_price == 0
        for name in ('local_s', 'tx_s', 'uav_s', 'uav_hz', 'cpu_price', 'log_lambda0'):
            np.testing.assert_array_equal(getattr(warm, name)[free], getattr(cold, name)[free], err_msg=name)
            np.testing.assert_allclose(getattr(warm, name), getattr(cold, name), rtol=5e-9, atol=0, err_msg=name)
        c_loc, c_off, bits, nog, budget = args[:5]
        a = bits / B1
        t_loc_min = np.where(c_loc > 0, c_loc / args[8], 0.0)
        t_tr_min = np.where(a > 0, a / np.log2(1.0 + args[9] / nog), 0.0)
        for i in np.flatnonzero(~free):
            guess = kernels._alone_price(budget[i], c_loc[i], c_off[i], a[i], nog[i], t_loc_min[i], t_tr_min[i],
                                         KAPPA, W_UAV, args[7])
            assert guess == pytest.approx(cold.cpu_price[i], rel=1e-8)
            binding += 1
    assert binding > 50
