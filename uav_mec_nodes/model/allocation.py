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
"""
from dataclasses import dataclass

import numpy as np
from scipy.special import lambertw

LN2 = np.log(2.0)
_LOG_LAMBDA = (-80.0, 80.0)   # natural-log bracket of lambda [J/s]
_LOG_MU = (-120.0, 40.0)      # natural-log bracket of mu [J/cycle]


@dataclass
class TaskTimes:
    local_s: np.ndarray
    tx_s: np.ndarray
    uav_s: np.ndarray


def _tx_time(lam, a, n, t_min):
    """t_tr solving -de_tr/dt = lambda (see module docstring), at least t_min."""
    with np.errstate(divide='ignore', invalid='ignore', over='ignore'):
        z = (lam / n - 1.0) / np.e
        u = np.real(lambertw(np.maximum(z, -1.0 / np.e)))
        t = np.where(u > -1.0 + 1e-15, a * LN2 / (1.0 + u), np.inf)
    return np.where(a > 0, np.maximum(t, t_min), 0.0)


def _local_time(lam, c_loc, kappa, t_min):
    t = np.cbrt(2.0 * kappa * c_loc ** 3 / lam)
    return np.where(c_loc > 0, np.maximum(t, t_min), 0.0)


def _uav_time(lam, mu, c_off, w_uav, kappa):
    """Positive root of lam t^3 - mu c t - 2 w2 kappa c^3 = 0 (Cardano / trigonometric)."""
    p = -mu * c_off / lam
    q = -2.0 * w_uav * kappa * c_off ** 3 / lam
    disc = (q / 2.0) ** 2 + (p / 3.0) ** 3
    with np.errstate(invalid='ignore', divide='ignore'):
        sq = np.sqrt(np.maximum(disc, 0.0))
        cardano = np.cbrt(-q / 2.0 + sq) + np.cbrt(-q / 2.0 - sq)
        r = np.sqrt(np.maximum(-p / 3.0, 1e-300))
        trig = 2.0 * r * np.cos(np.arccos(np.clip(3.0 * q / (2.0 * p) / r, -1.0, 1.0)) / 3.0)
    t = np.where(disc >= 0, cardano, trig)
    # Newton polish: the closed forms lose digits when one term dominates
    for _ in range(2):
        f = lam * t ** 3 - mu * c_off * t - 2.0 * w_uav * kappa * c_off ** 3
        df = 3.0 * lam * t ** 2 - mu * c_off
        t = np.where(df > 0, t - f / np.where(df > 0, df, 1.0), t)
    return np.where(c_off > 0, t, 0.0)


def _times(lam, mu_task, c_loc, c_off, a, n, t_loc_min, t_tr_min, kappa, w_uav):
    return (_local_time(lam, c_loc, kappa, t_loc_min), _tx_time(lam, a, n, t_tr_min),
            _uav_time(lam, mu_task, c_off, w_uav, kappa))


def _solve_lambda(mu_task, budget, args, iters=80):
    """Per task, lambda with t_loc + t_tr + t_off = budget (bisection on log lambda)."""
    lo = np.full(budget.shape, _LOG_LAMBDA[0])
    hi = np.full(budget.shape, _LOG_LAMBDA[1])
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        total = sum(_times(np.exp(mid), mu_task, *args))
        too_slow = total > budget       # need a larger lambda (shorter times)
        lo = np.where(too_slow, mid, lo)
        hi = np.where(too_slow, hi, mid)
    return np.exp(hi)  # hi side: the budget is met


def improved_allocation(c_loc, c_off, bits, noise_over_gain, budget_s, computing_uav, num_uavs,
                        cpu_uav_hz, cpu_max_hz, p_max_w, bandwidth_hz, kappa, w_uav):
    """Exact time split for the active tasks (all arrays (N,), computing_uav in 0..J-1).

    Returns (TaskTimes, feasible (N,) bool): feasible is False for tasks of UAVs
    that fell back to full speed.
    """
    n_tasks = len(c_loc)
    a = bits / bandwidth_hz
    t_loc_min = np.where(c_loc > 0, c_loc / cpu_max_hz, 0.0)
    t_tr_min = np.where(a > 0, a / np.log2(1.0 + p_max_w / noise_over_gain), 0.0)
    slack = budget_s - t_loc_min - t_tr_min
    with np.errstate(over='ignore', divide='ignore'):
        need = np.where(slack > 0, c_off / np.maximum(slack, 1e-300), np.inf)
    load = np.bincount(computing_uav, weights=need, minlength=num_uavs) if n_tasks else np.zeros(num_uavs)
    uav_ok = load <= cpu_uav_hz * (1 - 1e-12)
    ok = uav_ok[computing_uav] if n_tasks else np.zeros(0, bool)
    args = (c_loc, c_off, a, noise_over_gain, t_loc_min, t_tr_min)

    t_loc, t_tr, t_off = t_loc_min.copy(), t_tr_min.copy(), np.zeros(n_tasks)
    if ok.any():
        sub = tuple(x[ok] for x in args) + (kappa, w_uav)
        k = computing_uav[ok]
        lam = _solve_lambda(np.zeros(ok.sum()), budget_s[ok], sub)
        times = _times(lam, 0.0, *sub)
        used = np.bincount(k, weights=np.where(sub[1] > 0, sub[1] / np.maximum(times[2], 1e-300), 0.0),
                           minlength=num_uavs)
        binding = used > cpu_uav_hz
        if binding.any():
            lo = np.full(num_uavs, _LOG_MU[0])
            hi = np.full(num_uavs, _LOG_MU[1])
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                mu = np.where(binding, np.exp(mid), 0.0)
                lam = _solve_lambda(mu[k], budget_s[ok], sub, iters=60)
                t3 = _uav_time(lam, mu[k], sub[1], w_uav, kappa)
                used = np.bincount(k, weights=sub[1] / np.maximum(t3, 1e-300), minlength=num_uavs)
                over = used > cpu_uav_hz
                lo = np.where(over, mid, lo)
                hi = np.where(over, hi, mid)
            mu = np.where(binding, np.exp(hi), 0.0)
            lam = _solve_lambda(mu[k], budget_s[ok], sub)
            times = _times(lam, mu[k], *sub)
        t_loc[ok], t_tr[ok], t_off[ok] = times
    bad = ~ok
    if bad.any():
        cycles_on = np.bincount(computing_uav[bad], weights=c_off[bad], minlength=num_uavs)
        f = cpu_uav_hz * c_off[bad] / np.maximum(cycles_on[computing_uav[bad]], 1e-300)
        t_off[bad] = np.where(c_off[bad] > 0, c_off[bad] / np.maximum(f, 1e-300), 0.0)
    return TaskTimes(t_loc, t_tr, t_off), ok


def paper_allocation(c_off, cpu_share, computing_uav, num_uavs, cpu_uav_hz):
    """f_ij = F_k * share_i / sum of the shares of the tasks UAV k computes, eq. (28i)."""
    total = np.bincount(computing_uav, weights=cpu_share, minlength=num_uavs)
    return cpu_uav_hz * cpu_share / np.maximum(total[computing_uav], 1e-300)
