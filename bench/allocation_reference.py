"""The improved allocation's numpy solvers as they were before the compiled ones (model/allocation_kernels.py).

Kept as the reference that bench/env_throughput.py times against in the same run and that
test/model/test_allocation_kernels.py compares with on many slots (equal energies to 1e-12).
Not used by the package.
"""
import numpy as np
from scipy.special import lambertw

from uav_mec_nodes.model.allocation import TaskTimes, _admit, min_uav_hz

LN2 = np.log(2.0)
_LOG_LAMBDA = (-80.0, 80.0)   # natural-log bracket of lambda [J/s]
_LOG_MU = (-120.0, 40.0)      # natural-log bracket of mu [J/cycle]


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


def _total_and_slope(lam, mu_task, args):
    """Sum of the three times and its derivative in log(lambda) (0 for terms held at a bound)."""
    c_loc, c_off, a, n, t_loc_min, t_tr_min, kappa, w_uav = args
    t_loc, t_tr, t_off = _times(lam, mu_task, *args)
    with np.errstate(divide='ignore', invalid='ignore', over='ignore'):
        d_loc = np.where((c_loc > 0) & (t_loc > t_loc_min), -t_loc / 3.0, 0.0)
        e2 = n * np.exp2(a / t_tr) * (a * LN2) ** 2 / t_tr ** 3       # e_tr''(t)
        d_tr = np.where((a > 0) & (t_tr > t_tr_min) & np.isfinite(t_tr), -lam / e2, 0.0)
        d_off = np.where(c_off > 0, -lam * t_off ** 3 / (3.0 * lam * t_off ** 2 - mu_task * c_off), 0.0)
    return t_loc + t_tr + t_off, d_loc + d_tr + d_off


def _solve_lambda(mu_task, budget, args, x0=None, tol=1e-12, max_iter=200):
    """Per task, lambda with t_loc + t_tr + t_off = budget (within tol relative).

    The total time falls monotonically in x = log(lambda): safeguarded Newton
    on x inside a bisection bracket, warm-started at x0. Returns (lambda, x).
    """
    lo = np.full(budget.shape, _LOG_LAMBDA[0])
    hi = np.full(budget.shape, _LOG_LAMBDA[1])
    if x0 is None:
        # the compute terms alone (no upload, no bounds) give lambda in closed form
        c_loc, c_off, kappa, w_uav = args[0], args[1], args[6], args[7]
        with np.errstate(divide='ignore'):
            x0 = np.log(2.0 * kappa * (c_loc + np.cbrt(w_uav) * c_off) ** 3 / budget ** 3)
        x0 = np.where(np.isfinite(x0), x0, 0.0)
    x = np.clip(x0, lo + 1.0, hi - 1.0)
    for _ in range(max_iter):
        total, slope = _total_and_slope(np.exp(x), mu_task, args)
        f = total - budget
        too_slow = f > 0
        lo = np.where(too_slow, x, lo)
        hi = np.where(too_slow, hi, x)
        done = np.abs(f) <= tol * budget
        if np.all(done | (hi - lo < 1e-14)):
            break
        with np.errstate(divide='ignore', invalid='ignore'):
            newton = x - f / slope
        inside = np.isfinite(newton) & (newton > lo) & (newton < hi)
        x = np.where(done, x, np.where(inside, newton, 0.5 * (lo + hi)))
    x = np.where(np.abs(f) <= tol * budget, x, hi)  # bracket collapsed: keep the side within budget
    return np.exp(x), x


def _solve_mu(binding, k, budget, sub, cpu_uav_hz, num_uavs, tol=1e-11, max_iter=100):
    """Per UAV with a binding CPU, mu with sum c_off / t_off = f_uav (within tol relative).

    The used frequency falls monotonically in y = log(mu): safeguarded Newton
    on g(y) = log(used / f_uav) inside a bisection bracket. dg/dy includes
    each task's lambda moving to keep its budget (implicit differentiation),
    and lambda is warm-started from the previous iterate.
    """
    c_off, kappa, w_uav = sub[1], sub[6], sub[7]
    x_warm = None

    def g_and_slope(y):
        nonlocal x_warm
        mu = np.where(binding, np.exp(y), 0.0)[k]
        lam, x_warm = _solve_lambda(mu, budget, sub, x0=x_warm)
        _, slope = _total_and_slope(lam, mu, sub)
        t_off = _uav_time(lam, mu, c_off, w_uav, kappa)
        with np.errstate(divide='ignore', invalid='ignore'):
            denom = 3.0 * lam * t_off ** 2 - mu * c_off
            q = np.where(c_off > 0, mu * c_off * t_off / denom, 0.0)            # dt_off/dy at fixed lambda
            d_off = np.where(c_off > 0, -lam * t_off ** 3 / denom, 0.0)         # dt_off/dx at fixed mu
            dt_dy = q - d_off * q / np.where(slope < 0, slope, -np.inf)         # lambda keeps the budget
            f = np.where(c_off > 0, c_off / np.maximum(t_off, 1e-300), 0.0)
            used = np.bincount(k, weights=f, minlength=num_uavs)
            d_used = np.bincount(k, weights=np.where(c_off > 0, -f / t_off * dt_dy, 0.0), minlength=num_uavs)
            return np.log(np.maximum(used, 1e-300) / cpu_uav_hz), d_used / used

    lo, hi = np.full(num_uavs, _LOG_MU[0]), np.full(num_uavs, _LOG_MU[1])
    y = np.full(num_uavs, np.log(1e-20))  # J/cycle: the order of w2 kappa f^2 at GHz speeds
    for _ in range(max_iter):
        g, dg = g_and_slope(y)
        over = g > 0
        lo = np.where(binding & over, y, lo)
        hi = np.where(binding & ~over, y, hi)
        active = binding & (np.abs(g) > tol) & (hi - lo > 1e-13)
        if not active.any():
            break
        with np.errstate(divide='ignore', invalid='ignore'):
            newton = y - g / dg
        inside = np.isfinite(newton) & (newton > lo) & (newton < hi)
        y = np.where(active, np.where(inside, newton, 0.5 * (lo + hi)), y)
    y = np.where(np.abs(g) <= tol, y, hi)
    return np.where(binding, np.exp(y), 0.0)


def improved_allocation_reference(c_loc, c_off, bits, noise_over_gain, budget_s, computing_uav, num_uavs,
                        cpu_uav_hz, cpu_max_hz, p_max_w, bandwidth_hz, kappa, w_uav):
    """Exact time split for the active tasks (all arrays (N,), computing_uav in 0..J-1).

    cpu_uav_hz is F_j, one for every UAV or (J,). Returns (TaskTimes, feasible (N,) bool): feasible is False for the tasks
    made late by the admission of `_admit` (full local speed, p_max, their
    proportional CPU share).
    """
    n_tasks = len(c_loc)
    a = bits / bandwidth_hz
    t_loc_min, t_tr_min, need = min_uav_hz(c_loc, c_off, bits, noise_over_gain, budget_s, cpu_max_hz, p_max_w,
                                           bandwidth_hz)
    cpu_uav_hz = np.broadcast_to(np.asarray(cpu_uav_hz, float), (num_uavs,))
    late, capacity = _admit(need, c_off, computing_uav, num_uavs, cpu_uav_hz) if n_tasks else \
        (np.zeros(0, bool), cpu_uav_hz)
    ok = ~late
    args = (c_loc, c_off, a, noise_over_gain, t_loc_min, t_tr_min)

    t_loc, t_tr, t_off = t_loc_min.copy(), t_tr_min.copy(), np.zeros(n_tasks)
    price = np.zeros(n_tasks)
    if ok.any():
        sub = tuple(x[ok] for x in args) + (kappa, w_uav)
        k = computing_uav[ok]
        lam, _ = _solve_lambda(np.zeros(ok.sum()), budget_s[ok], sub)
        times = _times(lam, 0.0, *sub)
        used = np.bincount(k, weights=np.where(sub[1] > 0, sub[1] / np.maximum(times[2], 1e-300), 0.0),
                           minlength=num_uavs)
        binding = used > capacity
        if binding.any():
            mu = _solve_mu(binding, k, budget_s[ok], sub, capacity, num_uavs)
            lam, _ = _solve_lambda(mu[k], budget_s[ok], sub)
            times = _times(lam, mu[k], *sub)
            price[ok] = mu[k]
        t_loc[ok], t_tr[ok], t_off[ok] = times
    with np.errstate(divide='ignore', invalid='ignore', over='ignore'):
        f_off = np.where(c_off > 0, c_off / np.maximum(t_off, 1e-300), 0.0)
    if late.any():
        queued = np.bincount(computing_uav[late], weights=c_off[late], minlength=num_uavs)
        on = computing_uav[late]
        f_off[late] = cpu_uav_hz[on] * c_off[late] / np.maximum(queued[on], 1e-300)
        wait = np.maximum(budget_s[late] - t_loc[late] - t_tr[late], 0.0)
        t_off[late] = np.where(c_off[late] > 0, wait + c_off[late] / np.maximum(f_off[late], 1e-300), 0.0)
    return TaskTimes(t_loc, t_tr, t_off, f_off, price), ok
