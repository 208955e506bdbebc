"""The improved allocation's numpy solvers as they were before the compiled ones (model/allocation_kernels.py).

Kept as the reference that bench/env_throughput.py times against in the same run and that
test/model/test_allocation_kernels.py compares with on many slots (equal energies to 1e-12).
Not used by the package.
"""
import sys

import numpy as np
from scipy.special import lambertw

from uav_mec_nodes.model.allocation import improved_allocation

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


# the interface of model/allocation_kernels.py, on the numpy solvers above
def admit(need, computing_uav, num_uavs, cpu_uav_hz):
    """Deadline-first admission per UAV: late (N,) bool (a search per late UAV, as before the kernel)."""
    late = ~np.isfinite(need)
    load = np.bincount(computing_uav, weights=np.where(late, 0.0, need), minlength=num_uavs)
    for k in np.flatnonzero(load > cpu_uav_hz * (1 - 1e-12)):
        members = np.flatnonzero((computing_uav == k) & ~late)
        order = members[np.argsort(-need[members], kind='stable')]
        fits = np.cumsum(need[order][::-1])[::-1] <= cpu_uav_hz[k] * (1 - 1e-12)  # fits[m]: order[m:] fits
        m = int(np.argmax(fits)) if fits.any() else len(order)
        late[order[:m]] = True
    return late


def solve_lambdas(mu, budget, c_loc, c_off, a, n, t_loc_min, t_tr_min, kappa, w_uav, x0):
    args = (c_loc, c_off, a, n, t_loc_min, t_tr_min, kappa, w_uav)
    return _solve_lambda(mu, budget, args, x0=None if np.isnan(x0).all() else x0)[1]


def times_of(lam, mu, c_loc, c_off, a, n, t_loc_min, t_tr_min, kappa, w_uav):
    return _times(lam, mu, c_loc, c_off, a, n, t_loc_min, t_tr_min, kappa, w_uav)


def solve_mu(binding, uav_of_task, budget, c_loc, c_off, a, n, t_loc_min, t_tr_min, kappa, w_uav, cpu_hz):
    args = (c_loc, c_off, a, n, t_loc_min, t_tr_min, kappa, w_uav)
    return _solve_mu(binding, uav_of_task, budget, args, cpu_hz, len(binding))


def improved_allocation_reference(*args, cpu_price_start=None, lambda_start=None):
    """model.allocation.improved_allocation on these solvers (each search from the same start as before issue
    21: a caller's guesses, cpu_price_start and lambda_start, are not used)."""
    return improved_allocation(*args, solvers=sys.modules[__name__])
