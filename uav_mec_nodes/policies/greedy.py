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
   first.

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
        energy, feasible = self.group_energy(c_loc, c_off, bits, nog, np.arange(c_loc.size))
        need = self.need_hz(c_loc, c_off, bits, nog)
        valid = (self.valid_layer[:, None, :] & self.alive[None, :, None]).ravel()
        energy = np.where(valid, energy, np.inf).reshape(self.shape)
        need = np.where(valid, need, np.inf).reshape(self.shape)
        return energy, need, (feasible & valid).reshape(self.shape)

    def need_hz(self, c_loc, c_off, bits, nog):
        cfg = self.cfg
        return allocation.min_uav_hz(c_loc, c_off, bits, nog, cfg.scenario.slot_s, cfg.users.cpu_max_hz,
                                     cfg.users.tx_power_max_w, cfg.channel.bandwidth_mu_uav_hz)[2]

    def group_energy(self, c_loc, c_off, bits, nog, group):
        """Exact joint energy of tasks sharing a UAV, per task; group ids are virtual UAVs."""
        cfg = self.cfg
        n_groups = int(group.max()) + 1 if group.size else 0
        times, ok = allocation.improved_allocation(
            c_loc, c_off, bits, nog, np.full(c_loc.size, cfg.scenario.slot_s), group, n_groups,
            cfg.uavs.cpu_hz, cfg.users.cpu_max_hz, cfg.users.tx_power_max_w, cfg.channel.bandwidth_mu_uav_hz,
            cfg.compute.kappa, cfg.energy.w_uav)
        energy = allocation.task_energy_j(c_loc, c_off, bits, nog, times, cfg.channel.bandwidth_mu_uav_hz,
                                          cfg.compute.kappa, cfg.energy.w_uav)
        return energy, ok


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


def polish(problem: SlotProblem, serving, layer, max_moves: int, top_k: int = 6):
    """Step 3: best-improvement single-user moves, scored by exact two-UAV energies."""
    energy, _, _ = problem.candidates()
    n_users, n_uavs, lmax = problem.shape
    flat_energy = energy.reshape(n_users, -1)
    order = np.argsort(flat_energy, axis=1)[:, :top_k]  # each user's alone-cheapest (UAV, layer) pairs
    serving, layer = serving.copy(), layer.copy()
    users = np.arange(n_users)
    for _ in range(max_moves):
        current = _groups_energy(problem, [(j, users[serving == j], layer[serving == j]) for j in range(n_uavs)])
        moves, groups, group_move = [], [], []
        for i in range(n_users):
            for flat in order[i]:
                j2, l2 = divmod(int(flat), lmax)
                if not np.isfinite(flat_energy[i, flat]) or (j2 == serving[i] and l2 + 1 == layer[i]):
                    continue
                s2, p2 = serving.copy(), layer.copy()
                s2[i], p2[i] = j2, l2 + 1
                for j in {int(serving[i]), j2}:
                    groups.append((j, users[s2 == j], p2[s2 == j]))
                    group_move.append(len(moves))
                moves.append((i, j2, l2 + 1))
        if not moves:
            break
        scores = _groups_energy(problem, groups)
        gain = np.bincount(group_move, weights=[current[g[0]] - e for g, e in zip(groups, scores)],
                           minlength=len(moves))
        best = int(np.argmax(gain))
        if gain[best] <= 1e-12 * max(1.0, float(current.sum())):
            break
        i, serving[i], layer[i] = moves[best]
    return serving, layer


def _groups_energy(problem: SlotProblem, groups) -> np.ndarray:
    """Exact energy of each group (uav, users, layers) sharing that UAV; late tasks penalised."""
    sizes = np.array([len(g[1]) for g in groups], np.int64)
    if sizes.sum() == 0:
        return np.zeros(len(groups))
    users = np.concatenate([g[1] for g in groups]).astype(np.int64)
    l_idx = np.concatenate([g[2] for g in groups]).astype(np.int64) - 1
    uavs = np.repeat([g[0] for g in groups], sizes)
    group = np.repeat(np.arange(len(groups)), sizes)
    e, ok = problem.group_energy(problem.c_loc[users, l_idx], problem.c_off[users, l_idx],
                                 problem.bits[users, l_idx], problem.noise_over_gain[users, uavs], group)
    e = e + np.where(ok, 0.0, LATE_PENALTY_J)
    return np.bincount(group, weights=e, minlength=len(groups))


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
