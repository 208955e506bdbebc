"""The per-slot optimum of the offloading decisions: a mixed-integer program (HiGHS via scipy.milp), bracketed.

For the slot's UAV positions, live UAVs and channels, each user i picks a
partition layer phi and a live serving UAV j; its task is then on time or
late. The objective is lexicographic: first the number of late tasks, then
the tasks' weighted energy, under each UAV's capacity (28i). This is the
env's own slot model (model/allocation.py):

- a task on UAV j is on time exactly when j gives it at least
  need = c_off / (delta - c_loc / f_max - t_tr(p_max)); j runs on time the
  tasks whose needs fit F_j, queueing its neediest (a threshold on need);
  queued tasks run after the slot at full local speed and p_max, sharing
  F_j in proportion to their cycles;
- with f of the UAV's CPU an on-time task costs at least E(f), the least
  energy of the task alone on a UAV of capacity f (the improved allocation
  of SPEC.md). E falls with f and is convex (the value of a convex program
  in its constraint's bound), and its slope is -mu, the CPU's price in the
  allocation's KKT conditions (the envelope theorem).

1. The least late count: which tasks' needs fit their UAVs (a small
   integer program; no discretisation, so exact).
2. At that count, the least energy, by outer approximation: each on-time
   option holds a continuous share u in [need, F] and pays at least every
   tangent of E it has: K per option on points denser near need, where E
   bends most, and tangents at greedy's CPU prices (each option at its
   UAV's price times 0.5-2: the line E(f*) - mu (u - f*) of the f* where
   E + mu f is least, which the priced allocation gives without inverting
   E's slope); near an optimum the tasks of a UAV share one price, so these
   are the tangents that matter. A late task pays its local and upload
   energy and its UAV share as if the largest other late tasks were queued
   with it. This is a relaxation, so its proved value (the solver's dual
   bound) is a lower bound on every decision's energy at that count.
3. The program's choice of layers and UAVs (and the same with its late
   tasks queued together on one UAV: a share's energy grows with its square,
   which the linear program does not see) is evaluated exactly by the env
   (the joint KKT split): an upper bound. Tangents at the shares and prices
   of the best decision so far and at the program's shares are added and 2-3
   repeat until the two meet (relative gap 1e-4), `ROUNDS` pass, or the
   tangents at the program's own shares would raise its value by less than
   STALL of the gap left (what keeps the bounds apart is then the late
   tasks' relaxation, which more tangents do not move). Single moves scored
   exactly (greedy's local search) polish the best. Greedy's own decisions
   are the first incumbent, so the result is never worse than greedy's
   (exact evaluation, lexicographic).

`SlotOptimum.gap` is what is left between the bounds. Both are for the slot
as planned: a UAV that fails during it drops or migrates its tasks, which
the exact evaluation counts for every policy alike. The migration target is
greedy's rule (the live UAV with the most capacity left): the planner does
not know which UAV will fail.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from uav_mec_nodes.model import allocation
from uav_mec_nodes.model.slot import COMPLETED, SlotDecisions, evaluate_slot
from uav_mec_nodes.policies.base import Policy, hover
from uav_mec_nodes.policies.greedy import SlotProblem, greedy_assignment, migration_targets, polish, polished_decisions

POINTS = 32            # K: tangents of E(f) per (user, UAV, layer) on a grid, to start with
PRICE_FACTORS = (0.5, 0.8, 1.0, 1.25, 2.0)   # tangents of every option at a decision's CPU prices times these
ROUNDS = 3             # outer-approximation rounds at most
STALL = 0.5            # stop when tangents at the program's shares would add less than this part of the gap left
TOLERANCE = 1e-4       # stop when the bounds are this close (relative)
_UJ = 1e6              # the programs' cost unit: HiGHS stops at an absolute gap of 1e-6, a slot's energy is ~1e-2 J
_ADMIT = 1e-9          # a task given exactly its need sits on the admission rule's edge: a hair more


@dataclass
class SlotOptimum:
    decisions: SlotDecisions
    late: int                 # late or dropped tasks of the decisions, exact evaluation
    energy_j: float           # the tasks' weighted energy of the decisions, exact evaluation (upper bound)
    lower_late: int           # the least number of late tasks any decision can have
    lower_energy_j: float     # at that late count, the least energy any decision can have
    rounds: int               # outer-approximation rounds run
    solve_s: float

    @property
    def gap(self) -> float:
        """Relative distance between the bounds (0: proved optimal), at equal late counts."""
        if self.late != self.lower_late:
            return float('inf')
        return (self.energy_j - self.lower_energy_j) / max(self.energy_j, 1e-300)


class EnergyCurves:
    """Every (user, UAV, layer) option of one slot, flat: its need, late energies and E(f) on demand."""

    def __init__(self, problem: SlotProblem):
        cfg = problem.cfg
        self.cfg, self.shape = cfg, problem.shape
        self.c_loc, self.c_off, self.bits = (np.broadcast_to(x[:, None, :], problem.shape).ravel()
                                             for x in (problem.c_loc, problem.c_off, problem.bits))
        self.nog = np.broadcast_to(problem.noise_over_gain[:, :, None], problem.shape).ravel()
        valid = (problem.valid_layer[:, None, :] & problem.alive[None, :, None]).ravel()
        self.valid = valid
        _, t_tr, need = allocation.min_uav_hz(self.c_loc, self.c_off, self.bits, self.nog, cfg.scenario.slot_s,
                                              cfg.users.cpu_max_hz, cfg.users.tx_power_max_w,
                                              cfg.channel.bandwidth_mu_uav_hz)
        self.need_hz = np.where(valid & (need * (1 + _ADMIT) <= cfg.uavs.cpu_hz), need, np.inf)
        # late: full local speed and p_max, then a share of the UAV's CPU after the slot
        self.late_floor_j = np.where(valid, cfg.compute.kappa * self.c_loc * cfg.users.cpu_max_hz ** 2
                                     + cfg.users.tx_power_max_w * t_tr, np.inf)
        biggest = np.max(np.where(problem.valid_layer, problem.c_off, 0.0), axis=1)
        self._largest_first = np.sort(biggest)[::-1]

    def at(self, option: np.ndarray, f_hz: np.ndarray):
        """(E(f), mu(f)) of options (flat indices) each alone on a UAV of capacity f_hz, in one call."""
        cfg, m = self.cfg, len(option)
        times, ok = allocation.improved_allocation(
            self.c_loc[option], self.c_off[option], self.bits[option], self.nog[option],
            np.full(m, cfg.scenario.slot_s), np.arange(m), m, f_hz, cfg.users.cpu_max_hz, cfg.users.tx_power_max_w,
            cfg.channel.bandwidth_mu_uav_hz, cfg.compute.kappa, cfg.energy.w_uav)
        energy = allocation.task_energy_j(self.c_loc[option], self.c_off[option], self.bits[option],
                                          self.nog[option], times, cfg.channel.bandwidth_mu_uav_hz,
                                          cfg.compute.kappa, cfg.energy.w_uav)
        return np.where(ok, energy, np.inf), times.cpu_price

    def at_price(self, option: np.ndarray, price: np.ndarray):
        """Tangents of options at CPU prices [J/Hz], as (option, 0, value, price): E(u) >= value - price u for
        every u, where value = min over f of E(f) + price f (the priced problem's optimum), wherever its f
        falls (beyond F too): a supporting line of the convex E, found without inverting E's slope."""
        cfg = self.cfg
        value = allocation.priced_task_energy_j(
            self.c_loc[option], self.c_off[option], self.bits[option], self.nog[option],
            np.full(len(option), cfg.scenario.slot_s), price, cfg.users.cpu_max_hz, cfg.users.tx_power_max_w,
            cfg.channel.bandwidth_mu_uav_hz, cfg.compute.kappa, cfg.energy.w_uav)
        return option, np.zeros(len(option)), value, np.asarray(price, float)

    def grid(self, points: int):
        """Tangents of every on-time option at `points` shares from need to F, denser near need."""
        option = np.repeat(np.flatnonzero(np.isfinite(self.need_hz)), points)
        base = self.need_hz[option] * (1 + _ADMIT)
        frac = np.tile((np.arange(points) / max(points - 1, 1)) ** 2, len(option) // points)
        f = base + (self.cfg.uavs.cpu_hz - base) * frac
        return (option, f) + self.at(option, f)

    def late_energy_j(self, late_tasks: int) -> np.ndarray:
        """The least energy of each option late in a decision of `late_tasks` late tasks: its UAV share as if the
        largest other late tasks were queued with it."""
        others = float(np.sum(self._largest_first[:max(late_tasks - 1, 0)]))
        with np.errstate(divide='ignore', invalid='ignore'):
            share = np.where(self.c_off > 0, self.cfg.uavs.cpu_hz * self.c_off / (self.c_off + others), 0.0)
        return self.late_floor_j + self.cfg.energy.w_uav * self.cfg.compute.kappa * self.c_off * share ** 2


@contextlib.contextmanager
def _solver_output_silenced():
    """HiGHS writes debugging lines of its MIP search to the process's stdout (fd 1) even with scipy's
    disp=False ("HighsMipSolverData::transformNewIntegerFeasibleSolution ...", dozens an episode): stdout is for
    results (`uav-mec gap --json`) and stderr for the progress bar and errors, so they go nowhere. What the
    solve returns (status, message) is checked by the caller."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


class _Rows:
    """A sparse constraint matrix built block by block: (row, column, value) triplets and each row's range."""

    def __init__(self):
        self.r, self.c, self.v, self.lo, self.hi = [], [], [], [], []
        self.n = 0

    def add(self, rows, cols, vals, lo, hi):
        """Rows 0..max(rows) of a block (rows[e], cols[e], vals[e] per entry), each within [lo, hi]."""
        rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
        m = int(rows.max()) + 1 if rows.size else 0
        self.r.append(self.n + rows)
        self.c.append(cols)
        self.v.append(np.broadcast_to(np.asarray(vals, float), rows.shape))
        self.lo.append(np.broadcast_to(np.asarray(lo, float), (m,)))
        self.hi.append(np.broadcast_to(np.asarray(hi, float), (m,)))
        self.n += m

    def solve(self, cost, integral, upper, time_limit_s: float):
        """(x, proved lower bound of the value)."""
        from scipy.optimize import Bounds, LinearConstraint, milp   # here: the CLI's parser imports this module
        from scipy.sparse import coo_matrix
        cat = np.concatenate
        matrix = coo_matrix((cat(self.v), (cat(self.r), cat(self.c))), shape=(self.n, len(cost))).tocsr()
        with _solver_output_silenced():
            result = milp(cost, integrality=integral, bounds=Bounds(np.zeros(len(cost)), upper),
                          constraints=[LinearConstraint(matrix, cat(self.lo), cat(self.hi))],
                          options=dict(time_limit=time_limit_s, mip_rel_gap=1e-7))
        if result.x is None:
            raise RuntimeError(f'the slot\'s program found no solution ({result.message})')
        bound = result.mip_dual_bound if result.mip_dual_bound is not None else result.fun
        return result.x, min(bound, result.fun)


@dataclass
class _Choice:
    serving: np.ndarray
    layer: np.ndarray
    late: np.ndarray       # (I,) bool: the tasks the program made late
    option: np.ndarray     # (I,) flat option index of each user's choice
    share_hz: np.ndarray   # (I,) the UAV CPU the program gave each on-time task (0: late)
    energy_j: np.ndarray   # (I,) the energy the program's tangents give each on-time task at its share (0: late)
    bound_j: float         # the solver's proved lower bound of the least energy


def least_late(curves: EnergyCurves, alive, time_limit_s: float = 30.0) -> int:
    """The least number of late tasks of any decision: on time are tasks whose needs fit their UAV's capacity."""
    n_users = curves.shape[0]
    on_idx = np.flatnonzero(np.isfinite(curves.need_hz))
    oi, oj, _ = np.unravel_index(on_idx, curves.shape)
    rows = _Rows()   # variables: x per on-time option, then y (late) per user
    rows.add(np.concatenate([oi, np.arange(n_users)]), np.arange(len(on_idx) + n_users), 1.0, 1.0, 1.0)
    rows.add((np.cumsum(alive) - 1)[oj], np.arange(len(on_idx)), curves.need_hz[on_idx] / curves.cfg.uavs.cpu_hz,
             -np.inf, 1.0)
    n_var = len(on_idx) + n_users
    x, _ = rows.solve(np.concatenate([np.zeros(len(on_idx)), np.ones(n_users)]), np.ones(n_var), np.ones(n_var),
                      time_limit_s)
    return int(round(x[len(on_idx):].sum()))


def least_energy(curves: EnergyCurves, tangents, alive, late_tasks: int, time_limit_s: float = 30.0) -> _Choice:
    """Step 2's program: the least energy with `late_tasks` late tasks, E above its `tangents` (option, f, E, mu)."""
    capacity = curves.cfg.uavs.cpu_hz
    n_users = curves.shape[0]
    row_of_uav = np.cumsum(alive) - 1
    n_live = int(alive.sum())
    on_idx = np.flatnonzero(np.isfinite(curves.need_hz))
    late_energy = curves.late_energy_j(late_tasks)
    late_idx = np.flatnonzero(np.isfinite(late_energy))
    (oi, oj, _), (li, lj, _) = np.unravel_index(on_idx, curves.shape), np.unravel_index(late_idx, curves.shape)
    n_on, n_late = len(on_idx), len(late_idx)
    # variables: per on-time option x (chosen), u (its share of F), z (its energy [uJ]); y per late option; tau per UAV
    x, u, z, y, tau = 0, n_on, 2 * n_on, 3 * n_on, 3 * n_on + n_late
    cost = np.concatenate([np.zeros(2 * n_on), np.ones(n_on), _UJ * late_energy[late_idx], np.zeros(n_live)])
    integral = np.concatenate([np.ones(n_on), np.zeros(2 * n_on), np.ones(n_late), np.zeros(n_live)])
    upper = np.concatenate([np.ones(2 * n_on), np.full(n_on, np.inf), np.ones(n_late), np.ones(n_live)])
    on = np.arange(n_on)
    need = curves.need_hz[on_idx] / capacity
    rows = _Rows()
    rows.add(np.concatenate([oi, li]), np.concatenate([x + on, y + np.arange(n_late)]), 1.0, 1.0, 1.0)  # one each
    rows.add(np.zeros(n_late), y + np.arange(n_late), 1.0, late_tasks, late_tasks)
    rows.add(np.concatenate([on, on]), np.concatenate([u + on, x + on]), np.concatenate([np.ones(n_on), -need]),
             0.0, np.inf)                                                       # u >= need x
    rows.add(np.concatenate([on, on]), np.concatenate([u + on, x + on]), np.concatenate([np.ones(n_on),
             -np.ones(n_on)]), -np.inf, 0.0)                                    # u <= x
    rows.add(row_of_uav[oj], u + on, 1.0, -np.inf, 1.0)                         # the UAV's shares within F
    # z >= E_k + slope_k (u - f_k / F) for every tangent k of the option (all three are 0 when x = 0)
    option, f_k, e_k, mu_k = tangents
    keep = np.isfinite(e_k)
    col = np.searchsorted(on_idx, option[keep])
    slope = -mu_k[keep] * capacity                                              # J per unit of u
    intercept = e_k[keep] - slope * f_k[keep] / capacity
    t = np.arange(len(col))
    rows.add(np.concatenate([t, t, t]), np.concatenate([z + col, u + col, x + col]),
             np.concatenate([np.ones(len(col)), -_UJ * slope, -_UJ * intercept]), 0.0, np.inf)
    # the env's admission queues a UAV's neediest tasks: a threshold tau_j (of F) parts on time from late
    rows.add(np.concatenate([on, on]), np.concatenate([x + on, tau + row_of_uav[oj]]),
             np.concatenate([need, -np.ones(n_on)]), -np.inf, 0.0)              # need x <= tau
    late_need = curves.need_hz[late_idx] / capacity
    finite = np.flatnonzero(np.isfinite(late_need))
    rows.add(np.concatenate([np.arange(len(finite))] * 2), np.concatenate([tau + row_of_uav[lj[finite]], y + finite]),
             1.0, -np.inf, 1.0 + late_need[finite])                             # tau <= need + 1 - y
    sol, bound = rows.solve(cost, integral, upper, time_limit_s)
    chosen_on = np.flatnonzero(sol[x:x + n_on] > 0.5)
    chosen_late = np.flatnonzero(sol[y:y + n_late] > 0.5)
    option_of = np.zeros(n_users, np.int64)
    share, energy = np.zeros(n_users), np.zeros(n_users)
    late = np.zeros(n_users, bool)
    option_of[oi[chosen_on]] = on_idx[chosen_on]
    share[oi[chosen_on]] = sol[u + chosen_on] * capacity
    energy[oi[chosen_on]] = sol[z + chosen_on] / _UJ
    option_of[li[chosen_late]] = late_idx[chosen_late]
    late[li[chosen_late]] = True
    _, serving, layer = np.unravel_index(option_of, curves.shape)
    return _Choice(serving, layer + 1, late, option_of, share, energy, bound / _UJ)


def _candidates(choice: _Choice, alive):
    """The program's decision, and the same with its late tasks queued together on one UAV.

    Queued tasks share their UAV's CPU after the slot, and the energy of a share
    grows with its square: a late task costs least in a crowded queue, which
    the program's bound per task does not see.
    """
    yield choice.serving, choice.layer
    if choice.late.sum() >= 2:
        for j in np.flatnonzero(alive):
            serving = choice.serving.copy()
            serving[choice.late] = j
            yield serving, choice.layer


def slot_optimum(env, points: int = POINTS, rounds: int = ROUNDS, time_limit_s: float = 30.0) -> SlotOptimum:
    """The optimum of the env's current slot (its positions, live UAVs and channels), bracketed."""
    start = time.perf_counter()
    problem = SlotProblem(env)
    alive = problem.alive
    users = np.arange(env.num_users)
    capacity = env.cfg.uavs.cpu_hz

    def exactly(serving, layer):
        need = curves.need_hz.reshape(problem.shape)[users, serving, layer - 1]
        used = np.bincount(serving, np.where(np.isfinite(need), need, 0.0), minlength=len(alive))
        decisions = SlotDecisions(layer, serving, migration_targets(env, serving,
                                                                    np.where(alive, capacity - used, -np.inf)))
        return evaluate_tasks(env, decisions), decisions

    curves = EnergyCurves(problem)
    if not alive.any():   # nothing to offload to: every decision drops every task alike
        (late, energy), decisions = exactly(np.zeros(env.num_users, np.int64), np.ones(env.num_users, np.int64))
        return SlotOptimum(decisions, late, energy, late, energy, 0, time.perf_counter() - start)
    # greedy's decisions (its migration targets too) are the first incumbent: never worse than greedy
    greedy = polished_decisions(env, problem, *greedy_assignment(problem)[:2], 2 * env.num_users)
    best, bound = (evaluate_tasks(env, greedy), greedy), -np.inf
    late_tasks = least_late(curves, alive, time_limit_s)
    tangents = _joined(curves.grid(points), decision_tangents(env, curves, greedy))
    for done in range(1, rounds + 1):
        choice = least_energy(curves, tangents, alive, late_tasks, time_limit_s)
        bound = max(bound, choice.bound_j)    # more tangents never lower it; the max guards the solver's tolerance
        best = min([best] + [exactly(*c) for c in _candidates(choice, alive)], key=lambda r: r[0])
        (late, energy), _ = best
        # tangents where the program put each on-time task: there its bound was below E by `below`
        chosen = ~choice.late
        option = choice.option[chosen]
        f = np.clip(choice.share_hz[chosen], curves.need_hz[option] * (1 + _ADMIT), capacity)
        at_shares = (option, f) + curves.at(option, f)
        below = float(np.sum(at_shares[2] - choice.energy_j[chosen]))
        if late == late_tasks and (energy - bound <= TOLERANCE * energy or below <= STALL * (energy - bound)):
            break   # proved; or the tangents are not what keeps the bounds apart (the late tasks' relaxation is)
        tangents = _joined(tangents, at_shares, decision_tangents(env, curves, best[1]))
    # the env's admission queues its neediest, which may differ from the program's late tasks: single moves,
    # scored exactly, settle it
    polished = exactly(*polish(problem, best[1].serving_uav, best[1].partition_layer, 2 * env.num_users))
    (late, energy), decisions = min(best, polished, key=lambda r: r[0])
    if late == late_tasks:   # a bound met exactly (the tangents at the decisions' prices) can pass it by rounding
        if bound > energy * (1 + 1e-9):
            raise RuntimeError(f'the slot optimum\'s bounds crossed: {bound!r} J above {energy!r} J')
        bound = min(bound, energy)
    return SlotOptimum(decisions, late, energy, late_tasks, bound, done, time.perf_counter() - start)


def _joined(*tangents):
    """Sets of tangents (option, f, E, mu) as one."""
    return tuple(np.concatenate(parts) for parts in zip(*tangents))


def decision_tangents(env, curves: EnergyCurves, decisions: SlotDecisions):
    """Tangents of E where the exact evaluation puts the decisions' on-time tasks (each at its share of its
    UAV), and of every option of each UAV at that UAV's CPU price there times PRICE_FACTORS.

    Near an optimum each UAV's tasks share one price (the allocation's KKT conditions), so a good decision's
    prices say where on each E the optimum's shares lie: the program's bound for those decisions is then
    their exact energy (up to the late tasks' relaxation), after one round instead of many.
    """
    result = _evaluated(env, decisions)
    users = np.arange(env.num_users)
    option = np.ravel_multi_index((users, decisions.serving_uav, decisions.partition_layer - 1), curves.shape)
    on = (result.state == COMPLETED) & np.isfinite(curves.need_hz[option]) & (result.uav_cpu_hz > 0)
    option = option[on]
    f = np.clip(result.uav_cpu_hz[on], curves.need_hz[option] * (1 + _ADMIT), env.cfg.uavs.cpu_hz)
    shares = (option, f) + curves.at(option, f)
    price = np.zeros(curves.shape[1])
    np.maximum.at(price, decisions.serving_uav[on], shares[3])   # one price a UAV; max: the solver's tolerance
    every = np.flatnonzero(np.isfinite(curves.need_hz))
    uav = np.unravel_index(every, curves.shape)[1]
    binds = price[uav] > 0
    # a slack UAV's price is 0: its tangent is each option's least energy on any CPU, once
    return _joined(shares, curves.at_price(every[~binds], np.zeros(int(np.sum(~binds)))),
                   *(curves.at_price(every[binds], price[uav[binds]] * factor) for factor in PRICE_FACTORS))


def _evaluated(env, decisions: SlotDecisions):
    state, fly = env.slot_inputs()
    return evaluate_slot(env.cfg, env.arrays, decisions, state, fly)


def evaluate_tasks(env, decisions: SlotDecisions):
    """(late or dropped tasks, the tasks' weighted energy) of decisions on the env's current slot, exactly."""
    result = _evaluated(env, decisions)
    tasks_energy = result.e_tot - env.cfg.energy.w_fly * float(np.sum(result.flight_energy_j))
    return int(np.count_nonzero(result.state != 0)), float(tasks_energy)


class SlotOptimal(Policy):
    """The per-slot optimum's decisions (the UAVs hover, as greedy's do)."""
    name = 'optimal'

    def __init__(self, points: int = POINTS):
        self.points = points
        self.last: Optional[SlotOptimum] = None

    def act(self, env):
        self.last = slot_optimum(env, self.points)
        return self.last.decisions, hover(env)
