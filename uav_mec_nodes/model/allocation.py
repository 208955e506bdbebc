"""Resource allocation of one slot: CPU frequencies and transmit time (SPEC.md).

Paper-faithful mode: the UAV CPU is split by the agent's shares, normalised over
the tasks each UAV computes (migrated tasks included, so (28i) holds on the UAV
that computes), and f_loc is a fraction of f_max.

Improved mode: for fixed partition, association and migration, the exact
minimum-energy split of each task's time budget delta - tau_mig between local
compute, upload and UAV compute:
    min  sum_i  kappa c_loc^3 / t_loc^2 + e_tr(t_tr) + w2 kappa c_off^3 / t_off^2
    s.t. t_loc + t_tr + t_off <= b_i  (multiplier lambda_i),
         sum_{i on k} c_off / t_off <= F_k  (multiplier mu_k),
         t_loc >= c_loc / f_max,  t_tr >= time at p_max,
with e_tr(t) = (sigma^2/|h|^2) t (2^(a/t) - 1), a = D / B1 (p_hat of (33) times t).
Every term is convex and decreasing, so the KKT conditions give each time in
closed form for given (lambda, mu): t_loc = (2 kappa c^3 / lambda)^(1/3);
t_tr = a ln2 / (1 + W0((lambda/n - 1)/e)) with Lambert's W; t_off the positive
root of lambda t^3 - mu c t - 2 w2 kappa c^3 = 0. lambda_i is found by bisection
so that the budget is used exactly, mu_k by bisection so that the CPU fits.
When a UAV's tasks cannot all meet the deadline even at full speed, that UAV
falls back to full speed: locals at f_max, uploads at p_max, and its CPU split
in proportion to the cycles (the tasks end late, counted, never silently).
The solvers are compiled scalar loops (model/allocation_kernels.py).
"""
from dataclasses import dataclass

import numpy as np

LN2 = np.log(2.0)


@dataclass
class TaskTimes:
    local_s: np.ndarray
    tx_s: np.ndarray
    uav_s: np.ndarray            # from the upload's end to the result (a queued task's wait included)
    uav_hz: np.ndarray = None    # f_ij; None: c_off / uav_s
    cpu_price: np.ndarray = None  # mu of the task's UAV [J/Hz]: the energy one more Hz of it would save (0: slack)
    log_lambda0: np.ndarray = None  # each task's log(lambda) at mu = 0 (NaN: late)


def min_uav_hz(c_loc, c_off, bits, noise_over_gain, budget_s, cpu_max_hz, p_max_w, bandwidth_hz):
    """(t_loc_min, t_tr_min, need): the fastest local and upload times, and the least UAV frequency
    that still meets the budget with them (inf where even those leave no time)."""
    a = bits / bandwidth_hz
    t_loc_min = np.where(c_loc > 0, c_loc / cpu_max_hz, 0.0)
    t_tr_min = np.where(a > 0, a / np.log2(1.0 + p_max_w / noise_over_gain), 0.0)
    slack = budget_s - t_loc_min - t_tr_min
    with np.errstate(over='ignore', divide='ignore', invalid='ignore'):
        need = np.where(slack > 0, c_off / np.maximum(slack, 1e-300), np.inf)
    return t_loc_min, t_tr_min, need


def improved_allocation(c_loc, c_off, bits, noise_over_gain, budget_s, computing_uav, num_uavs,
                        cpu_uav_hz, cpu_max_hz, p_max_w, bandwidth_hz, kappa, w_uav, solvers=None,
                        cpu_price_start=None, lambda_start=None):
    """Exact time split for the active tasks (all arrays (N,), computing_uav in 0..J-1).

    cpu_uav_hz is F_j, one for every UAV or (J,). Returns (TaskTimes, feasible (N,) bool): feasible is
    False for the tasks made late by the admission (full local speed, p_max, their proportional CPU share).
    `solvers`: None for model/allocation_kernels.py's `allocate` (every step compiled), or a module with
    admit, solve_lambdas, times_of and solve_mu as there, run by the numpy steps below (the benchmark
    passes its reference; the tests compare the two). `cpu_price_start` (J,): a guess of each UAV's CPU
    price [J/cycle] (NaN or 0: none) where the compiled search starts instead of 1e-20; given, each
    search also starts where the one before it ended (the multipliers): the allocation is the same within
    the searches' tolerances, in fewer steps, not to the bit. `lambda_start` (N,): each task's log(lambda) at
    mu = 0 if known (TaskTimes.log_lambda0 of the same task and budget, from an earlier call; NaN: unknown),
    where its first multiplier search starts: that search then ends at its first step, with the same answer
    to the bit (the same search ran before). The numpy steps use neither guess (both return log_lambda0).
    """
    # a fresh array: a broadcast view is read-only, which numba compiles as another type (~14 s at first use)
    cpu_uav_hz = np.array(np.broadcast_to(np.asarray(cpu_uav_hz, float), (num_uavs,)))
    if solvers is None:   # the compiled solvers, with the steps below in the same call (numba loads only here)
        from uav_mec_nodes.model import allocation_kernels
        guesses = dict(cpu_price_start=(cpu_price_start, num_uavs), lambda_start=(lambda_start, len(c_loc)))
        for name, (guess, size) in guesses.items():
            if guess is not None and np.shape(guess) != (size,):   # the kernel reads them unchecked
                raise ValueError(f'improved_allocation: {name} must have shape ({size},), got {np.shape(guess)}')
        # contiguous and writable, the one type compile_cached compiled: numba types a read-only array apart
        as_float = (np.require(x, float, 'CW') for x in (c_loc, c_off, bits, noise_over_gain, budget_s))
        times = allocation_kernels.allocate(
            *as_float, np.require(computing_uav, np.int64, 'CW'), int(num_uavs), cpu_uav_hz,
            float(cpu_max_hz), float(p_max_w), float(bandwidth_hz), float(kappa), float(w_uav),
            np.full(num_uavs, np.nan) if cpu_price_start is None else np.require(cpu_price_start, float, 'CW'),
            cpu_price_start is not None,
            np.full(len(c_loc), np.nan) if lambda_start is None else np.require(lambda_start, float, 'CW'))
        return TaskTimes(*times[:5], log_lambda0=times[6]), ~times[5]
    # the same steps in numpy around a module of solvers (the benchmark's and the tests' reference)
    n_tasks = len(c_loc)
    a = bits / bandwidth_hz
    t_loc_min, t_tr_min, need = min_uav_hz(c_loc, c_off, bits, noise_over_gain, budget_s, cpu_max_hz, p_max_w,
                                           bandwidth_hz)
    # deadline-first admission per UAV: a task that cannot meet its deadline even alone is late; while a
    # UAV's admitted tasks need more than it has, the one needing most is queued (late). Admitted tasks
    # split the whole CPU within the slot; queued ones run after the budget on the full CPU, shared in
    # proportion to their cycles, so they finish late but finish.
    late = solvers.admit(need, computing_uav.astype(np.int64), num_uavs, np.ascontiguousarray(cpu_uav_hz)) \
        if n_tasks else np.zeros(0, bool)
    ok = ~late
    args = (c_loc, c_off, a, noise_over_gain, t_loc_min, t_tr_min)

    t_loc, t_tr, t_off = t_loc_min.copy(), t_tr_min.copy(), np.zeros(n_tasks)
    price, log_lambda0 = np.zeros(n_tasks), np.full(n_tasks, np.nan)
    if ok.any():
        ok = slice(None) if ok.all() else ok   # all admitted (most slots): views, not copies
        sub = tuple(np.ascontiguousarray(x[ok], dtype=float) for x in args) + (float(kappa), float(w_uav))
        k, budget = computing_uav[ok].astype(np.int64), np.ascontiguousarray(budget_s[ok], dtype=float)
        m = len(budget)
        start = np.full(m, np.nan)   # each lambda from the compute terms' closed form
        mu_task = np.zeros(m)
        log_lambda0[ok] = solvers.solve_lambdas(mu_task, budget, *sub, start)
        times = solvers.times_of(np.exp(log_lambda0[ok]), mu_task, *sub)
        used = np.bincount(k, weights=np.where(sub[1] > 0, sub[1] / np.maximum(times[2], 1e-300), 0.0),
                           minlength=num_uavs)
        binding = used > cpu_uav_hz
        if binding.any():
            mu = solvers.solve_mu(binding, k, budget, *sub, np.ascontiguousarray(cpu_uav_hz, dtype=float))
            mu_task = mu[k]
            lam = np.exp(solvers.solve_lambdas(mu_task, budget, *sub, start))
            times = solvers.times_of(lam, mu_task, *sub)
            price[ok] = mu_task
        t_loc[ok], t_tr[ok], t_off[ok] = times
    with np.errstate(divide='ignore', invalid='ignore', over='ignore'):
        f_off = np.where(c_off > 0, c_off / np.maximum(t_off, 1e-300), 0.0)
    if late.any():
        queued = np.bincount(computing_uav[late], weights=c_off[late], minlength=num_uavs)
        on = computing_uav[late]
        f_off[late] = cpu_uav_hz[on] * c_off[late] / np.maximum(queued[on], 1e-300)
        wait = np.maximum(budget_s[late] - t_loc[late] - t_tr[late], 0.0)
        t_off[late] = np.where(c_off[late] > 0, wait + c_off[late] / np.maximum(f_off[late], 1e-300), 0.0)
    return TaskTimes(t_loc, t_tr, t_off, f_off, price, log_lambda0), ~late


def priced_task_energy_j(c_loc, c_off, bits, noise_over_gain, budget_s, cpu_price, cpu_max_hz, p_max_w,
                         bandwidth_hz, kappa, w_uav):
    """Each task alone with its UAV's CPU priced at cpu_price [J/Hz] instead of capped: least weighted energy
    plus cpu_price times its UAV frequency (the task's term of the dual of the CPU constraint).

    By weak duality a UAV whose tasks' optimum has price mu gains at least this (at mu) from one more
    task, however the CPU is then shared: the greedy's local search bounds its moves with it.
    Tasks that cannot meet the budget at all get inf.
    """
    from uav_mec_nodes.model import allocation_kernels as solvers
    a = bits / bandwidth_hz
    t_loc_min, t_tr_min, need = min_uav_hz(c_loc, c_off, bits, noise_over_gain, budget_s, cpu_max_hz, p_max_w,
                                           bandwidth_hz)
    sub = tuple(np.ascontiguousarray(x, dtype=float) for x in (c_loc, c_off, a, noise_over_gain, t_loc_min,
                                                                 t_tr_min)) + (float(kappa), float(w_uav))
    price = np.ascontiguousarray(cpu_price, dtype=float)
    budget = np.ascontiguousarray(budget_s, dtype=float)
    lam = np.exp(solvers.solve_lambdas(price, budget, *sub, np.full(len(budget), np.nan)))
    times = TaskTimes(*solvers.times_of(lam, price, *sub))
    with np.errstate(divide='ignore', invalid='ignore', over='ignore'):
        f_off = np.where(c_off > 0, c_off / np.maximum(times.uav_s, 1e-300), 0.0)
    value = task_energy_j(c_loc, c_off, bits, noise_over_gain, times, bandwidth_hz, kappa, w_uav) + price * f_off
    return np.where(np.isfinite(need), value, np.inf)


def task_energy_j(c_loc, c_off, bits, noise_over_gain, times: TaskTimes, bandwidth_hz, kappa, w_uav):
    """Weighted energy of each task for given times: local (19), upload at p_hat (33), w2 * UAV (25)."""
    with np.errstate(divide='ignore', invalid='ignore', over='ignore'):
        e_loc = np.where(c_loc > 0, kappa * c_loc ** 3 / np.maximum(times.local_s, 1e-300) ** 2, 0.0)
        a = bits / bandwidth_hz
        e_tr = np.where(a > 0, noise_over_gain * times.tx_s * np.expm1(LN2 * a / np.maximum(times.tx_s, 1e-300)),
                        0.0)
        e_off = np.where(c_off > 0, w_uav * kappa * c_off ** 3 / np.maximum(times.uav_s, 1e-300) ** 2, 0.0)
    return e_loc + e_tr + e_off


def paper_allocation(c_off, cpu_share, computing_uav, num_uavs, cpu_uav_hz):
    """f_ij = F_k * share_i / sum of the shares of the tasks UAV k computes, eq. (28i)."""
    total = np.bincount(computing_uav, weights=cpu_share, minlength=num_uavs)
    return cpu_uav_hz * cpu_share / np.maximum(total[computing_uav], 1e-300)
