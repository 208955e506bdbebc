"""Per-slot greedy optimum: the reference the learners must reach on energy.

For the positions, channels and live UAVs of the current slot (no knowledge
of future failures), it picks each user's partition layer and serving UAV:

1. Candidate table. For every user i, live UAV j and partition layer phi the
   task alone is solved exactly (the improved allocation of SPEC.md with the
   task as the only one on a UAV of capacity f_uav): its least weighted
   energy E[i, j, phi], and the least UAV frequency it needs to meet the
   deadline at all, need[i, j, phi] = c_off / (delta - c_loc / f_max - t_tx(p_max)).
2. Capacity-aware greedy (longest task first, as in LPT scheduling): each
   user takes the cheapest candidate whose `need` still fits the remaining
   capacity of its UAV; if none fits, the one that overloads least.
   Because the per-UAV sum of `need` stays within f_uav whenever possible,
   the joint allocation the env then computes (exact KKT on the chosen
   decisions) can meet every deadline.
3. Local search (up to 2 I moves a slot, `polish_moves`): single-user moves (other UAV or
   other layer) scored by the exact joint energy of the two UAVs involved;
   the best improving move is applied until none improves. Scores count a
   task that would miss its deadline as `LATE_PENALTY_J`, so deadlines come
   first. Each group's energy is solved once a slot, and a move is scored
   only where a bound on its gain (weak duality on the UAVs' CPU prices)
   says it could improve: the moves taken are those of scoring every move. A group's CPU-price
   search starts at the price of its UAV's group as it is (one task more or less), and each
   multiplier search where the one before it ended: the same allocation within the searches'
   tolerances, in fewer steps.

The migration target is the live UAV, other than the serving one, with the
most capacity left (f_uav minus the `need` of its users; ties: the faster UAV-UAV link), so a
failure's tail layers land where there is room. UAVs hover (brake to zero
velocity), as in the baselines.
"""
from __future__ import annotations

import numpy as np

from uav_mec_nodes.model import allocation
from uav_mec_nodes.model.slot import NO_MIGRATION, SlotDecisions
from uav_mec_nodes.policies.base import Policy, hover

LATE_PENALTY_J = 1e3


class SlotProblem:
    """The per-task constants of one slot for every (user, UAV, partition layer)."""

    def __init__(self, env):
        cfg = env.cfg
        self.cfg = cfg
        arrays = env.arrays
        k = env.dnn_type
        n_users, n_uavs = env.num_users, env.num_uavs
        lmax = int(arrays.num_layers.max())
        phi = np.arange(1, lmax + 1)
        self.num_layers = arrays.num_layers[k]
        self.valid_layer = phi[None, :] <= self.num_layers[:, None]          # (I, L)
        phi_c = np.minimum(phi[None, :], self.num_layers[:, None])
        c0 = cfg.compute.flops_per_cycle
        w_loc = np.take_along_axis(arrays.cum_flops[k], phi_c - 1, axis=1)
        w_all = arrays.cum_flops[k, self.num_layers]
        self.c_loc = w_loc / c0                                              # (I, L)
        self.c_off = (w_all[:, None] - w_loc) / c0
        self.bits = np.take_along_axis(arrays.input_bits[k], phi_c, axis=1)
        self.noise_over_gain = cfg.noise_mu_uav_w / env.mu_uav_gain          # (I, J)
        self.alive = env.alive_start.copy()
        self.shape = (n_users, n_uavs, lmax)
        self._candidates = None

    def candidates(self):
        """(energy, need_hz, feasible) of every (i, j, phi), each task alone; inf where invalid."""
        if self._candidates is None:
            self._candidates = self._solve_candidates()
        return self._candidates

    def _solve_candidates(self):
        c_loc = np.broadcast_to(self.c_loc[:, None, :], self.shape).ravel()
        c_off = np.broadcast_to(self.c_off[:, None, :], self.shape).ravel()
        bits = np.broadcast_to(self.bits[:, None, :], self.shape).ravel()
        nog = np.broadcast_to(self.noise_over_gain[:, :, None], self.shape).ravel()
        # only the options there are: a layer past a user's DNN (a quarter of the table at the default DNNs)
        # repeats its last one, and a dead UAV serves no one; each option is a group of its own, so the others'
        # solves are the same without them, to the bit
        valid = (self.valid_layer[:, None, :] & self.alive[None, :, None]).ravel()
        at = np.flatnonzero(valid)
        # a price guess (NaN: none) for each option's group makes the searches warm: an option whose CPU binds
        # alone starts its price search at its price alone (allocation_kernels._alone_price): those searches
        # take a quarter of the time at I=100, J=30; the others' times are those of the cold call, to the bit
        solved, ok, times = self.group_solution(c_loc[at], c_off[at], bits[at], nog[at], np.arange(at.size),
                                                np.full(at.size, np.nan))
        energy, feasible, log_lambda0 = np.full(c_loc.size, np.inf), np.zeros(c_loc.size, bool), \
            np.full(c_loc.size, np.nan)
        energy[at], feasible[at], log_lambda0[at] = solved, ok, times.log_lambda0
        # each option's multiplier at mu = 0, the same in every group it joins: where their searches start
        self._log_lambda0 = log_lambda0.reshape(self.shape)
        need = np.where(valid, self.need_hz(c_loc, c_off, bits, nog), np.inf)
        return energy.reshape(self.shape), need.reshape(self.shape), feasible.reshape(self.shape)

    def need_hz(self, c_loc, c_off, bits, nog):
        cfg = self.cfg
        return allocation.min_uav_hz(c_loc, c_off, bits, nog, cfg.scenario.slot_s, cfg.users.cpu_max_hz,
                                     cfg.users.tx_power_max_w, cfg.channel.bandwidth_mu_uav_hz)[2]

    def log_lambda0(self, users, uavs, l_idx):
        """Each option's log(lambda) at mu = 0 (its solve alone, candidates()): NaN where it is late alone or is
        no option (a layer past the user's DNN, a dead UAV: a group's search then starts at its closed form)."""
        self.candidates()
        return self._log_lambda0[users, uavs, l_idx]

    def group_solution(self, c_loc, c_off, bits, nog, group, price_start=None, lambda_start=None):
        """Exact joint energy of tasks sharing a UAV, per task (group ids are virtual UAVs), whether each is on
        time, and the allocation's times (with each task's CPU price); price_start: a guess of each
        group's CPU price where its CPU binds (the same answer within the solver's tolerance, in fewer steps);
        lambda_start: each task's log_lambda0 if known (the same answer to the bit, fewer steps)."""
        cfg = self.cfg
        n_groups = int(group.max()) + 1 if group.size else 0
        if price_start is not None:   # one a group; the groups after the last task's are empty
            price_start = price_start[:n_groups]
        times, ok = allocation.improved_allocation(
            c_loc, c_off, bits, nog, np.full(c_loc.size, cfg.scenario.slot_s), group, n_groups,
            cfg.uavs.cpu_hz, cfg.users.cpu_max_hz, cfg.users.tx_power_max_w, cfg.channel.bandwidth_mu_uav_hz,
            cfg.compute.kappa, cfg.energy.w_uav, cpu_price_start=price_start, lambda_start=lambda_start)
        energy = allocation.task_energy_j(c_loc, c_off, bits, nog, times, cfg.channel.bandwidth_mu_uav_hz,
                                          cfg.compute.kappa, cfg.energy.w_uav)
        return energy, ok, times

    def priced_energy(self, users, uavs, layers, cpu_price):
        """allocation.priced_task_energy_j of user i at layer phi on UAV j, its CPU at cpu_price."""
        cfg, l_idx = self.cfg, layers - 1
        return allocation.priced_task_energy_j(
            self.c_loc[users, l_idx], self.c_off[users, l_idx], self.bits[users, l_idx],
            self.noise_over_gain[users, uavs], np.full(len(users), cfg.scenario.slot_s), cpu_price,
            cfg.users.cpu_max_hz, cfg.users.tx_power_max_w, cfg.channel.bandwidth_mu_uav_hz, cfg.compute.kappa,
            cfg.energy.w_uav)


def greedy_assignment(problem: SlotProblem):
    """Steps 1-2: (serving_uav, partition_layer, remaining capacity per UAV [Hz])."""
    energy, need, _ = problem.candidates()
    n_users, n_uavs, lmax = problem.shape
    remaining = np.where(problem.alive, problem.cfg.uavs.cpu_hz, -np.inf)
    serving = np.zeros(n_users, np.int64)
    layer = np.ones(n_users, np.int64)
    total_cycles = problem.c_loc[:, 0] + problem.c_off[:, 0]
    for i in np.argsort(-total_cycles, kind='stable'):
        fits = need[i] <= remaining[:, None] * (1.0 + 1e-12)
        if fits.any():
            flat = int(np.argmin(np.where(fits, energy[i], np.inf)))
        else:
            over = np.where(np.isfinite(need[i]), need[i] - remaining[:, None], np.inf)
            flat = int(np.lexsort((energy[i].ravel(), over.ravel()))[0])
        j, l_idx = divmod(flat, lmax)
        serving[i], layer[i] = j, l_idx + 1
        if np.isfinite(need[i, j, l_idx]):
            remaining[j] -= need[i, j, l_idx]
    return serving, layer, remaining


def polish_order(flat_energy: np.ndarray, top_k: int) -> np.ndarray:
    """Each user's alone-cheapest (UAV, layer) pairs, as flat indices into (J, L): the moves step 3 tries."""
    return np.argsort(flat_energy, axis=1)[:, :top_k]


def polish(problem: SlotProblem, serving, layer, max_moves: int, top_k: int = 6):
    """Step 3: best-improvement single-user moves, scored by exact two-UAV energies.

    The move taken is the first of those with the largest gain, as if every move were scored; but a
    move is scored only where an upper bound on its gain (MoveBounds) reaches the threshold of an
    improvement, and a group's energy, which depends only on the group, is solved once a slot
    (GroupEnergies).
    """
    energy, _, _ = problem.candidates()
    n_users, n_uavs, lmax = problem.shape
    flat_energy = energy.reshape(n_users, -1)
    tries = np.array([(i, int(flat) // lmax, int(flat) % lmax + 1)
                      for i, row in enumerate(polish_order(flat_energy, top_k)) for flat in row
                      if np.isfinite(flat_energy[i, flat])], np.int64).reshape(-1, 3)   # (user, uav, layer)
    book = GroupEnergies(problem)
    bounds = MoveBounds(problem, tries)
    serving, layer = serving.copy(), layer.copy()
    for _ in range(max_moves):
        keep = ~((tries[:, 1] == serving[tries[:, 0]]) & (tries[:, 2] == layer[tries[:, 0]]))
        moves = tries[keep]
        if not len(moves):
            break
        now = book.current(serving, layer)
        current = np.array([book.energy[g] for g in now])
        threshold = 1e-12 * max(1.0, float(current.sum()))
        # only a move above the threshold is taken: score, in one batch, those whose bound reaches it
        scored = np.flatnonzero(bounds.gains(keep, serving, layer, book, now) >= threshold)
        gain = np.full(len(moves), -np.inf)
        if len(scored):   # in Python ints and floats: numpy's scalars cost several times more here
            serving_now, energy_now = serving.tolist(), current.tolist()
            groups = [_move_groups(now, serving_now, *move) for move in moves[scored].tolist()]
            book.solve([g for pair in groups for g in pair])
            gain[scored] = [sum(energy_now[g[0]] - book.energy[g] for g in pair) for pair in groups]
        best = int(np.argmax(gain))   # the first of the best, as over all moves
        if gain[best] <= threshold:
            break
        i, serving[i], layer[i] = moves[best]
    return serving, layer


def _move_groups(now, serving, i, j2, layer2):
    """The groups of the UAVs a move of user i to (j2, layer2) changes, as they are after it (ints)."""
    j1 = serving[i]
    if j2 == j1:   # another layer on the same UAV
        return ((j1, tuple((u, layer2 if u == i else lu) for u, lu in now[j1][1])),)
    return ((j1, tuple(m for m in now[j1][1] if m[0] != i)), (j2, tuple(sorted(now[j2][1] + ((i, layer2),)))))


class GroupEnergies:
    """Exact energy of groups of tasks sharing a UAV, late tasks penalised, each group solved once.

    A group is (uav, ((user, layer), ...)) with users ascending: the key and the order the tasks are
    summed in. For each it also keeps what MoveBounds needs of the UAVs' groups as they are.
    """

    def __init__(self, problem: SlotProblem):
        self.problem = problem
        self.energy = {}
        self.detail = {}   # group -> (any task late, price, {user: energy + price * frequency})
        self.price_now = {}   # uav -> the CPU price of its group as it is: where a moved group's search starts

    def current(self, serving, layer) -> list:
        members = [[] for _ in range(self.problem.shape[1])]
        for i in range(len(serving)):
            members[serving[i]].append((i, int(layer[i])))
        now = [(j, tuple(m)) for j, m in enumerate(members)]
        self.solve(now)
        self.price_now = {j: self.detail[g][1] for j, g in enumerate(now)}
        return now

    def solve(self, groups) -> None:
        new = list(dict.fromkeys(g for g in groups if g not in self.energy))
        if not new:
            return
        sizes = np.array([len(g[1]) for g in new], np.int64)
        if sizes.sum() == 0:
            self.energy.update((g, 0.0) for g in new)
            self.detail.update((g, (False, 0.0, {})) for g in new)
            return
        pairs = np.array([m for g in new for m in g[1]], np.int64).reshape(-1, 2)
        users, l_idx = pairs[:, 0], pairs[:, 1] - 1
        uavs = np.repeat([g[0] for g in new], sizes)
        group = np.repeat(np.arange(len(new)), sizes)
        p = self.problem
        start = np.array([self.price_now.get(g[0], np.nan) for g in new])
        e, ok, times = p.group_solution(p.c_loc[users, l_idx], p.c_off[users, l_idx], p.bits[users, l_idx],
                                        p.noise_over_gain[users, uavs], group, start, p.log_lambda0(users, uavs, l_idx))
        self.energy.update(zip(new, np.bincount(group, weights=e + np.where(ok, 0.0, LATE_PENALTY_J),
                                                 minlength=len(new)).tolist()))
        # kept for every group: after a move, the groups it scored are the UAVs' groups as they are
        dual = (e + times.cpu_price * times.uav_hz).tolist()
        late, price, users = (~ok).tolist(), times.cpu_price.tolist(), users.tolist()
        for g, lo, hi in zip(new, (np.cumsum(sizes) - sizes).tolist(), np.cumsum(sizes).tolist()):
            self.detail[g] = (any(late[lo:hi]), price[lo] if hi > lo else 0.0, dict(zip(users[lo:hi], dual[lo:hi])))


class MoveBounds:
    """Upper bounds on the gain of each move of user i to (j2, phi), from the groups as they are.

    With no task late: leaving j1 saves at most i's energy plus j1's price times its frequency (weak
    duality), and at most what j1 costs less its other tasks' energies alone (none costs less than alone
    on the full CPU); joining costs at least i's energy alone on j2 and at least its priced energy at j2's
    price (another layer on j1: the duality at j1's price bounds the whole move). A move after which the
    tasks' needs exceed the CPU queues one (LATE_PENALTY_J); energies are never negative. Any other move
    where a task is or could become late is not bounded (inf).
    """
    MARGIN = 1e-9   # relative: what the solvers' tolerances (1e-11, 1e-12) could make a bound miss by, 100 times

    def __init__(self, problem: SlotProblem, tries):
        self.problem, self.tries = problem, tries
        self.cpu_hz = problem.cfg.uavs.cpu_hz

    def gains(self, keep, serving, layer, book: GroupEnergies, now) -> np.ndarray:
        users, uavs, layers = self.tries[keep].T
        j1 = serving[users]
        late, price, saved = zip(*(book.detail[g] for g in now))
        late, price = np.array(late), np.array(price)
        energy_alone, need, _ = self.problem.candidates()
        # the needs on each UAV after the move: finite ones summed, infinite ones (always late) counted
        need_now, need_new = need[np.arange(len(serving)), serving, layer - 1], need[users, uavs, layers - 1]
        finite_now, finite_new = np.isfinite(need_now), np.isfinite(need_new)
        load = np.bincount(serving, weights=np.where(finite_now, need_now, 0.0), minlength=len(now))
        unmet = np.bincount(serving, weights=~finite_now, minlength=len(now))
        same = uavs == j1
        mine = np.where(finite_now[users], need_now[users], 0.0)
        after = np.where(same, load[j1] - mine, load[uavs]) + np.where(finite_new, need_new, 0.0)
        after_unmet = np.where(same, unmet[j1] - ~finite_now[users], unmet[uavs]) + ~finite_new
        leave = np.array([saved[j].get(i, np.inf) for i, j in zip(users.tolist(), j1.tolist())])
        on_time = ~late[j1] & ~late[uavs] & (after_unmet == 0) & (after <= self.cpu_hz * (1 - 1e-9)) & \
            np.isfinite(leave)
        # admission queues a task once the needs exceed the CPU: then the move pays LATE_PENALTY_J at least,
        # and saves at most what both groups cost now
        queues = (after_unmet > 0) | (after > self.cpu_hz * (1 - 1e-12) * (1 + 1e-9))
        alone = energy_alone[users, uavs, layers - 1]
        priced = np.full(len(users), -np.inf)   # i's priced energy at the price of the UAV it goes to
        at_price = on_time & (price[uavs] > 0)
        if at_price.any():
            priced[at_price] = self.problem.priced_energy(users[at_price], uavs[at_price], layers[at_price],
                                                          price[uavs[at_price]])
        energy = np.array([book.energy[g] for g in now])
        # what j1 costs now less what its other tasks cost at least (each alone on the full CPU)
        energy_now = energy_alone[np.arange(len(serving)), serving, layer - 1]
        others = np.bincount(serving, weights=energy_now, minlength=len(now))[j1] - energy_now[users]
        emptied = np.where(np.isfinite(others), energy[j1] - others, np.inf)
        cross = np.minimum(leave, emptied) - np.maximum(alone, priced)
        # another layer on j1: duality at j1's price bounds the whole move, the rest its two halves
        same_uav = np.minimum(leave - np.maximum(alone, priced), emptied - alone)
        # relative to the sizes the bounds are made of: energies, and prices times the CPU
        margin = self.MARGIN * (float(energy.sum()) + float(price.sum()) * self.cpu_hz) + 1e-300
        most = energy[j1] + np.where(same, 0.0, energy[uavs]) - LATE_PENALTY_J
        bound = np.where(same, same_uav, cross)
        return np.where(on_time, bound, np.where(queues, most, np.inf)) + margin


class GreedyOptimum(Policy):
    """Per-slot greedy optimum (module docstring).

    `polish_moves`: most local-search moves per slot (None: 2 I; 0 skips step 3).
    """
    name = 'greedy'

    def __init__(self, polish_moves: int | None = None):
        self.polish_moves = polish_moves

    def act(self, env):
        problem = SlotProblem(env)
        serving, layer, remaining = greedy_assignment(problem)
        moves = 2 * env.num_users if self.polish_moves is None else self.polish_moves
        if moves > 0:
            return polished_decisions(env, problem, serving, layer, moves), hover(env)
        return SlotDecisions(layer, serving, migration_targets(env, serving, remaining)), hover(env)


def polished_decisions(env, problem: SlotProblem, serving, layer, moves: int) -> SlotDecisions:
    """Step 3 from any starting decisions, and the migration targets for the result."""
    serving, layer = polish(problem, np.asarray(serving), np.asarray(layer), moves)
    return decisions_of(env, problem, serving, layer)


def decisions_of(env, problem: SlotProblem, serving, layer) -> SlotDecisions:
    """The slot's decisions for these serving UAVs and layers: migration targets where room is left."""
    _, need, _ = problem.candidates()
    used = np.bincount(serving, weights=need[np.arange(len(serving)), serving, layer - 1], minlength=env.num_uavs)
    remaining = np.where(problem.alive, env.cfg.uavs.cpu_hz - used, -np.inf)
    return SlotDecisions(layer, serving, migration_targets(env, serving, remaining))


def migration_targets(env, serving, remaining_hz) -> np.ndarray:
    """Live UAV other than the serving one with the most capacity left; ties by link rate."""
    alive = env.alive_start
    n_users = len(serving)
    room = np.where(alive, remaining_hz, -np.inf)[None, :].repeat(n_users, axis=0)
    rate = env.uav_uav_rate[serving]
    room[np.arange(n_users), serving] = -np.inf
    score = np.where(np.isfinite(room), room + 1e-12 * rate, -np.inf)
    return np.where(np.isfinite(score).any(axis=1), np.argmax(score, axis=1), NO_MIGRATION)
