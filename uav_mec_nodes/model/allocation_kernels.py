"""The improved allocation's solvers, compiled (numba): one task, one UAV at a time.

Each task's budget multiplier lambda depends only on its own UAV's CPU price mu, so
the solvers of model/allocation.py become scalar loops here: per task, safeguarded
Newton in log(lambda); per UAV whose CPU binds, safeguarded Newton in log(mu) with
its tasks' lambdas solved inside. The iterations, brackets and tolerances are those
of the numpy versions they replace (kept in bench/allocation_reference.py, which the
tests compare with); `allocate` runs the whole allocation, and only a caller's guess
of the prices (the greedy's) moves where its searches start. Compiled once per
machine and cached beside this file (scripts/bootstrap.sh: `compile_cached`).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

LN2 = math.log(2.0)
LOG_LAMBDA = (-80.0, 80.0)   # natural-log bracket of lambda [J/s]
LOG_MU = (-120.0, 40.0)      # natural-log bracket of mu [J/cycle]
_INV_E = math.exp(-1.0)


@njit(cache=True)
def lambert_w0(z: float) -> float:
    """The principal branch of Lambert's W for real z >= -1/e (z below is taken as -1/e)."""
    if z <= -_INV_E:
        return -1.0
    if z == 0.0:
        return 0.0
    if z > math.e:   # Newton on w + ln w = ln z: no overflow for large z
        lz = math.log(z)
        w = lz - math.log(lz)
        for _ in range(50):
            step = (w + math.log(w) - lz) / (1.0 + 1.0 / w)
            w -= step
            if abs(step) <= 4e-16 * w:
                break
        return w
    if z < -0.25:   # near the branch point: its series in p = sqrt(2 (e z + 1))
        p = math.sqrt(max(2.0 * (math.e * z + 1.0), 0.0))
        w = -1.0 + p - p * p / 3.0 + 11.0 / 72.0 * p * p * p
    else:
        w = math.log1p(z)
    for _ in range(50):   # Halley on w e^w = z
        ew = math.exp(w)
        f = w * ew - z
        denom = ew * (w + 1.0) - (w + 2.0) * f / (2.0 * w + 2.0)
        if denom == 0.0:
            break
        step = f / denom
        w -= step
        if abs(step) <= 4e-16 * (1.0 + abs(w)):
            break
    return w


@njit(cache=True)
def _cbrt(x: float) -> float:
    return math.copysign(abs(x) ** (1.0 / 3.0), x)


@njit(cache=True)
def _tx_time(lam, a, n, t_min):
    if a <= 0.0:
        return 0.0
    u = lambert_w0(max((lam / n - 1.0) / math.e, -_INV_E))
    t = a * LN2 / (1.0 + u) if u > -1.0 + 1e-15 else math.inf
    return max(t, t_min)


@njit(cache=True)
def _local_time(lam, c_loc, kappa, t_min):
    if c_loc <= 0.0:
        return 0.0
    return max(_cbrt(2.0 * kappa * c_loc ** 3 / lam), t_min)


@njit(cache=True)
def _uav_time(lam, mu, c_off, w_uav, kappa):
    """Positive root of lam t^3 - mu c t - 2 w2 kappa c^3 = 0 (Cardano / trigonometric, Newton-polished)."""
    if c_off <= 0.0:
        return 0.0
    p = -mu * c_off / lam
    q = -2.0 * w_uav * kappa * c_off ** 3 / lam
    disc = (q / 2.0) ** 2 + (p / 3.0) ** 3
    if disc >= 0.0:
        sq = math.sqrt(disc)
        t = _cbrt(-q / 2.0 + sq) + _cbrt(-q / 2.0 - sq)
    else:
        r = math.sqrt(max(-p / 3.0, 1e-300))
        t = 2.0 * r * math.cos(math.acos(min(max(3.0 * q / (2.0 * p) / r, -1.0), 1.0)) / 3.0)
    for _ in range(2):
        f = lam * t ** 3 - mu * c_off * t - 2.0 * w_uav * kappa * c_off ** 3
        df = 3.0 * lam * t ** 2 - mu * c_off
        if df > 0.0:
            t -= f / df
    return t


@njit(cache=True)
def _times_and_slope(lam, mu, c_loc, c_off, a, n, t_loc_min, t_tr_min, kappa, w_uav):
    """The task's three times, and their sum's derivative in log(lambda) (0 for a term at its bound)."""
    t_loc = _local_time(lam, c_loc, kappa, t_loc_min)
    t_tr = _tx_time(lam, a, n, t_tr_min)
    t_off = _uav_time(lam, mu, c_off, w_uav, kappa)
    slope = 0.0
    if c_loc > 0.0 and t_loc > t_loc_min:
        slope -= t_loc / 3.0
    if a > 0.0 and t_tr > t_tr_min and math.isfinite(t_tr):
        e2 = n * 2.0 ** (a / t_tr) * (a * LN2) ** 2 / t_tr ** 3      # e_tr''(t)
        slope -= lam / e2
    if c_off > 0.0:
        slope -= lam * t_off ** 3 / (3.0 * lam * t_off ** 2 - mu * c_off)
    return t_loc, t_tr, t_off, slope


@njit(cache=True)
def _solve_lambda(mu, budget, c_loc, c_off, a, n, t_loc_min, t_tr_min, kappa, w_uav, x0, tol, max_iter):
    """solve_lambda, with t_off and the slope at the returned log(lambda) (the CPU-price solver needs them:
    they come from the last evaluation instead of a second one), and whether it met the tolerance there (a
    search started at a point where it did stops at once: allocate's second pass skips it)."""
    lo, hi = LOG_LAMBDA
    if math.isnan(x0):
        x0 = 0.0
        if budget > 0.0:
            s = c_loc + _cbrt(w_uav) * c_off
            if s > 0.0:
                x0 = math.log(2.0 * kappa * s ** 3 / budget ** 3)
    x = min(max(x0, lo + 1.0), hi - 1.0)
    f, slope, t_off = math.inf, 0.0, 0.0
    for _ in range(max_iter):
        t_loc, t_tr, t_off, slope = _times_and_slope(math.exp(x), mu, c_loc, c_off, a, n, t_loc_min, t_tr_min,
                                                     kappa, w_uav)
        f = t_loc + t_tr + t_off - budget
        if f > 0.0:
            lo = x
        else:
            hi = x
        done = abs(f) <= tol * budget
        if done or hi - lo < 1e-14:
            break
        newton = x - f / slope if slope != 0.0 else math.nan
        x = newton if (math.isfinite(newton) and lo < newton < hi) else 0.5 * (lo + hi)
    if abs(f) <= tol * budget:
        return x, slope, t_off, True
    # bracket collapsed: keep the side within budget
    _, _, t_off, slope = _times_and_slope(math.exp(hi), mu, c_loc, c_off, a, n, t_loc_min, t_tr_min, kappa, w_uav)
    return hi, slope, t_off, False


@njit(cache=True)
def solve_lambda(mu, budget, c_loc, c_off, a, n, t_loc_min, t_tr_min, kappa, w_uav, x0, tol=1e-12,
                 max_iter=200):
    """log(lambda) with t_loc + t_tr + t_off = budget (within tol relative); safeguarded Newton from x0
    (NaN: the compute terms' closed form)."""
    return _solve_lambda(mu, budget, c_loc, c_off, a, n, t_loc_min, t_tr_min, kappa, w_uav, x0, tol, max_iter)[0]


@njit(cache=True)
def solve_lambdas(mu, budget, c_loc, c_off, a, n, t_loc_min, t_tr_min, kappa, w_uav, x0):
    out = np.empty(len(budget))
    for i in range(len(budget)):
        out[i] = solve_lambda(mu[i], budget[i], c_loc[i], c_off[i], a[i], n[i], t_loc_min[i], t_tr_min[i],
                              kappa, w_uav, x0[i])
    return out


@njit(cache=True)
def times_of(lam, mu, c_loc, c_off, a, n, t_loc_min, t_tr_min, kappa, w_uav):
    """(t_loc, t_tr, t_off) of every task for given multipliers."""
    m = len(lam)
    t_loc, t_tr, t_off = np.empty(m), np.empty(m), np.empty(m)
    for i in range(m):
        t_loc[i] = _local_time(lam[i], c_loc[i], kappa, t_loc_min[i])
        t_tr[i] = _tx_time(lam[i], a[i], n[i], t_tr_min[i])
        t_off[i] = _uav_time(lam[i], mu[i], c_off[i], w_uav, kappa)
    return t_loc, t_tr, t_off


@njit(cache=True)
def _tasks_by_uav(uav_of_task, num_uavs):
    """Task indices grouped by UAV, ascending within each, and where each UAV's run starts
    (by_uav[first[k]:first[k + 1]]): one pass, where a search per UAV costs UAVs x tasks."""
    by_uav = np.argsort(uav_of_task, kind='mergesort')   # stable: ascending task order per UAV
    first = np.zeros(num_uavs + 1, np.int64)
    for i in range(len(uav_of_task)):
        first[uav_of_task[i] + 1] += 1
    for k in range(num_uavs):
        first[k + 1] += first[k]
    return by_uav, first


@njit(cache=True)
def admit(need, computing_uav, num_uavs, cpu_uav_hz):
    """Deadline-first admission per UAV (model/allocation.py's improved_allocation): late (N,) bool.

    A task that cannot meet its deadline even alone (need = inf) is late. While a UAV's
    admitted tasks need more than it has, the one needing most becomes late (queued).
    """
    n = len(need)
    late = np.empty(n, np.bool_)
    load = np.zeros(num_uavs)
    for i in range(n):
        late[i] = not math.isfinite(need[i])
        if not late[i]:
            load[computing_uav[i]] += need[i]
    by_uav, first = _tasks_by_uav(computing_uav, num_uavs)
    for k in range(num_uavs):
        cap = cpu_uav_hz[k] * (1 - 1e-12)
        if not load[k] > cap:
            continue
        members = np.array([i for i in by_uav[first[k]:first[k + 1]] if not late[i]], np.int64)
        order = members[np.argsort(-need[members], kind='mergesort')]   # most demanding first, stable
        # the fewest most demanding tasks to queue so that the rest fits: the first m whose suffix fits
        suffix = np.empty(len(order))
        acc = 0.0
        for q in range(len(order) - 1, -1, -1):
            acc += need[order[q]]
            suffix[q] = acc
        m = len(order)
        for q in range(len(order)):
            if suffix[q] <= cap:
                m = q
                break
        for q in range(m):
            late[order[q]] = True
    return late


@njit(cache=True)
def _cpu_gap(y, tasks, x_warm, dx_dy, dy, budget, c_loc, c_off, a, n, t_loc_min, t_tr_min, kappa, w_uav, cpu_hz):
    """g(y) = log(used / F) of one UAV at mu = e^y, and dg/dy with each lambda keeping its budget. Each
    lambda's search starts at x_warm + dx_dy dy (dx_dy: its slope in y where it was last solved, 0 before;
    empty: x_warm alone), and dx_dy is set to the slope at y."""
    mu = math.exp(y)
    used, d_used = 0.0, 0.0
    for i in tasks:
        x0 = x_warm[i] + dx_dy[i] * dy if dx_dy.size else x_warm[i]
        x_warm[i], slope, t_off, _ = _solve_lambda(mu, budget[i], c_loc[i], c_off[i], a[i], n[i], t_loc_min[i],
                                                   t_tr_min[i], kappa, w_uav, x0, 1e-12, 200)
        if c_off[i] <= 0.0:
            continue
        lam = math.exp(x_warm[i])
        denom = 3.0 * lam * t_off ** 2 - mu * c_off[i]
        q = mu * c_off[i] * t_off / denom             # dt_off/dy at fixed lambda
        d_off = -lam * t_off ** 3 / denom              # dt_off/dx at fixed mu
        dt_dy = q - d_off * q / (slope if slope < 0.0 else -math.inf)
        if dx_dy.size:   # dx/dy keeping the budget
            dx_dy[i] = -q / (slope if slope < 0.0 else -math.inf)
        f = c_off[i] / max(t_off, 1e-300)
        used += f
        d_used += -f / t_off * dt_dy
    return math.log(max(used, 1e-300) / cpu_hz), d_used / used


@njit(cache=True)
def solve_mu(binding, uav_of_task, budget, c_loc, c_off, a, n, t_loc_min, t_tr_min, kappa, w_uav, cpu_hz,
             tol=1e-11, max_iter=100):
    """Per UAV whose CPU binds, mu with sum c_off / t_off = F (within tol relative); 0 elsewhere."""
    return _solve_mu(binding, uav_of_task, budget, c_loc, c_off, a, n, t_loc_min, t_tr_min, kappa, w_uav, cpu_hz,
                     np.full(len(binding), math.nan), np.full(len(budget), math.nan), tol, max_iter, False)[0]


@njit(cache=True)
def _alone_price(budget, c_loc, c_off, a, n, t_loc_min, t_tr_min, kappa, w_uav, cpu_hz):
    """The CPU price of a task alone on a UAV whose CPU binds: it then runs at the whole CPU, t_off = c_off / F,
    its multiplier is that of the rest of its budget spent on the local and upload terms, and the price
    follows from t_off's cubic (_uav_time). NaN where that leaves no time."""
    t_off = c_off / cpu_hz
    rest = budget - t_off
    if not (c_off > 0.0 and rest > 0.0):
        return math.nan
    x = _solve_lambda(0.0, rest, c_loc, 0.0, a, n, t_loc_min, t_tr_min, kappa, w_uav, math.nan, 1e-12, 200)[0]
    return (math.exp(x) * t_off ** 3 - 2.0 * w_uav * kappa * c_off ** 3) / (c_off * t_off)


@njit(cache=True)
def _solve_mu(binding, uav_of_task, budget, c_loc, c_off, a, n, t_loc_min, t_tr_min, kappa, w_uav, cpu_hz,
              mu_start, x_start, tol, max_iter, predict):
    """solve_mu, each UAV's Newton started at mu_start (NaN or <= 0: at 1e-20 J/cycle) and each task's first
    multiplier solve at x_start (log lambda; NaN: its closed form). predict: each later multiplier solve
    starts where its tangent in log(mu) puts it, and a UAV of one task with no guess starts at that task's
    price alone (_alone_price); fewer Newton steps, the same answer within the tolerance, not to the bit.
    Returns (mu, each task's log lambda at the last price tried: at its UAV's mu where the
    CPU binds, x_start elsewhere)."""
    num_uavs = len(binding)
    mu = np.zeros(num_uavs)
    x_warm = x_start.copy()
    dx_dy = np.zeros(len(x_start) if predict else 0)
    by_uav, first = _tasks_by_uav(uav_of_task, num_uavs)
    for k in range(num_uavs):
        if not binding[k]:
            continue
        tasks = by_uav[first[k]:first[k + 1]]
        lo, hi = LOG_MU
        # J/cycle: the caller's guess, or the order of w2 kappa f^2 at GHz speeds
        guess = mu_start[k]
        if not guess > 0.0 and predict and len(tasks) == 1:
            i = tasks[0]
            guess = _alone_price(budget[i], c_loc[i], c_off[i], a[i], n[i], t_loc_min[i], t_tr_min[i], kappa,
                                 w_uav, cpu_hz[k])
        y = math.log(guess) if guess > 0.0 and math.isfinite(guess) else math.log(1e-20)
        y = min(max(y, lo + 1.0), hi - 1.0)
        g = math.inf
        y_last = y
        for _ in range(max_iter):
            g, dg = _cpu_gap(y, tasks, x_warm, dx_dy, y - y_last, budget, c_loc, c_off, a, n, t_loc_min,
                             t_tr_min, kappa, w_uav, cpu_hz[k])
            if g > 0.0:
                lo = y
            else:
                hi = y
            if abs(g) <= tol or hi - lo <= 1e-13:
                break
            newton = y - g / dg if dg != 0.0 else math.nan
            y_last = y
            y = newton if (math.isfinite(newton) and lo < newton < hi) else 0.5 * (lo + hi)
        mu[k] = math.exp(y if abs(g) <= tol else hi)
    return mu, x_warm


@njit(cache=True, error_model='numpy')   # x / 0 is inf (a channel too weak to upload at all), as in numpy
def allocate(c_loc, c_off, bits, noise_over_gain, budget_s, computing_uav, num_uavs, cpu_uav_hz, cpu_max_hz,
             p_max_w, bandwidth_hz, kappa, w_uav, cpu_price_start, warm, lambda_start):
    """model/allocation.py's improved_allocation on these solvers, whole, in one compiled call: its thirty-odd
    numpy calls around the solvers cost the env step more than the solvers themselves at I=10.

    Returns (t_loc, t_tr, t_off, f_off, cpu_price, late, log_lambda0), each (N,); the same steps in the
    same order (a test compares the two on many problems). warm: each search starts where the one before it
    ended (the price search at cpu_price_start, or for a UAV of one task with none at its price alone, each
    multiplier at mu = 0's and then where its tangent in log(mu) puts it; the last multipliers at the price
    search's): the same answer within the searches' tolerances in fewer steps, not to the bit (to the bit
    for the tasks of UAVs whose CPU does not bind). lambda_start: each task's log(lambda) at mu = 0 if known (a
    log_lambda0 returned before for the same task and budget; NaN: the closed form's start), where the first
    multiplier search starts; log_lambda0 is what that search found (NaN for tasks made late).
    """
    n_tasks = len(c_loc)
    a, t_loc_min, t_tr_min, need = np.empty(n_tasks), np.empty(n_tasks), np.empty(n_tasks), np.empty(n_tasks)
    for i in range(n_tasks):   # allocation.min_uav_hz
        a[i] = bits[i] / bandwidth_hz
        t_loc_min[i] = c_loc[i] / cpu_max_hz if c_loc[i] > 0 else 0.0
        t_tr_min[i] = a[i] / math.log2(1.0 + p_max_w / noise_over_gain[i]) if a[i] > 0 else 0.0
        slack = budget_s[i] - t_loc_min[i] - t_tr_min[i]
        need[i] = c_off[i] / max(slack, 1e-300) if slack > 0 else math.inf
    late = admit(need, computing_uav, num_uavs, cpu_uav_hz)
    t_loc, t_tr, t_off, price = t_loc_min.copy(), t_tr_min.copy(), np.zeros(n_tasks), np.zeros(n_tasks)
    log_lambda0 = np.full(n_tasks, math.nan)
    ok = np.flatnonzero(~late)
    if len(ok):
        sub = (c_loc[ok], c_off[ok], a[ok], noise_over_gain[ok], t_loc_min[ok], t_tr_min[ok])
        k, budget = computing_uav[ok], budget_s[ok]
        start, mu_task = np.full(len(ok), math.nan), np.zeros(len(ok))
        first_start = lambda_start[ok]
        x, met = np.empty(len(ok)), np.empty(len(ok), np.bool_)
        for q in range(len(ok)):   # solve_lambdas, with whether each search met its tolerance
            x[q], _, _, met[q] = _solve_lambda(0.0, budget[q], sub[0][q], sub[1][q], sub[2][q], sub[3][q],
                                               sub[4][q], sub[5][q], kappa, w_uav, first_start[q], 1e-12, 200)
        log_lambda0[ok] = x
        times = times_of(np.exp(x), mu_task, *sub, kappa, w_uav)
        used = np.zeros(num_uavs)
        for q in range(len(ok)):
            if sub[1][q] > 0:
                used[k[q]] += sub[1][q] / max(times[2][q], 1e-300)
        binding = used > cpu_uav_hz
        if binding.any():
            mu_start = cpu_price_start if warm else np.full(num_uavs, math.nan)
            x_start = x if warm else start
            mu, x_mu = _solve_mu(binding, k, budget, *sub, kappa, w_uav, cpu_uav_hz, mu_start, x_start, 1e-11,
                                 100, warm)
            mu_task = mu[k]
            x_start = x_mu if warm else start
            # a task of a UAV whose CPU does not bind keeps mu = 0, and its times stand (to the bit) where its
            # search again would repeat its first: from the same start, or from where that one met its
            # tolerance (inside the bracket's clamp), where it stops at its first step
            redo = np.empty(len(ok), np.bool_)
            for q in range(len(ok)):
                same_start = x_start[q] == first_start[q] or (math.isnan(x_start[q]) and math.isnan(first_start[q]))
                at_end = met[q] and x_start[q] == x[q] and LOG_LAMBDA[0] + 1.0 <= x[q] <= LOG_LAMBDA[1] - 1.0
                redo[q] = binding[k[q]] or not (same_start or at_end)
            r = np.flatnonzero(redo)
            sub_r = (sub[0][r], sub[1][r], sub[2][r], sub[3][r], sub[4][r], sub[5][r])
            lam = np.exp(solve_lambdas(mu_task[r], budget[r], *sub_r, kappa, w_uav, x_start[r]))
            for arr, part in zip(times, times_of(lam, mu_task[r], *sub_r, kappa, w_uav)):
                arr[r] = part
            price[ok] = mu_task
        t_loc[ok], t_tr[ok], t_off[ok] = times
    f_off = np.zeros(n_tasks)
    queued = np.zeros(num_uavs)
    for i in range(n_tasks):
        if c_off[i] > 0:
            f_off[i] = c_off[i] / max(t_off[i], 1e-300)
        if late[i]:
            queued[computing_uav[i]] += c_off[i]
    for i in range(n_tasks):   # queued tasks: the full CPU after the budget, shared in proportion to cycles
        if late[i]:
            on = computing_uav[i]
            f_off[i] = cpu_uav_hz[on] * c_off[i] / max(queued[on], 1e-300)
            wait = max(budget_s[i] - t_loc[i] - t_tr[i], 0.0)
            t_off[i] = wait + c_off[i] / max(f_off[i], 1e-300) if c_off[i] > 0 else 0.0
    return t_loc, t_tr, t_off, f_off, price, late, log_lambda0


def compile_cached() -> None:
    """Compile `allocate` and the solvers it calls into numba's cache (about 10 s once; loading it then takes
    0.3 s): scripts/bootstrap.sh calls this, so neither the first run nor several node processes at once
    compile. Two UAVs: one whose CPU binds, one with a task queued late."""
    n = 4
    allocate(np.full(n, 1e8), np.full(n, 3e9), np.full(n, 1e5), np.full(n, 1e-10), np.array([0.5, 0.5, 0.5, 1e-3]),
             np.array([0, 0, 1, 1], np.int64), 2, np.full(2, 1e10), 1e9, 0.5, 1e6, 1e-28, 1e-3, np.full(2, np.nan),
             False, np.full(n, np.nan))
