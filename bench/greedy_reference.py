"""The greedy policy's local search as it was before its energies were kept between moves (policies/greedy.py).

Kept as the reference that bench/greedy_latency.py times against in the same run and that
test/model/test_batched_and_greedy.py compares with slot by slot (the same decisions).
Not used by the package.
"""
import numpy as np

from uav_mec_nodes.policies.base import Policy, hover
from uav_mec_nodes.policies.greedy import LATE_PENALTY_J, SlotProblem, decisions_of, greedy_assignment, polish_order


def groups_energy(problem, groups) -> np.ndarray:
    """Exact energy of each group (uav, users, layers) sharing that UAV; late tasks penalised."""
    sizes = np.array([len(g[1]) for g in groups], np.int64)
    if sizes.sum() == 0:
        return np.zeros(len(groups))
    users = np.concatenate([g[1] for g in groups]).astype(np.int64)
    l_idx = np.concatenate([g[2] for g in groups]).astype(np.int64) - 1
    uavs = np.repeat([g[0] for g in groups], sizes)
    group = np.repeat(np.arange(len(groups)), sizes)
    e, ok, _ = problem.group_solution(problem.c_loc[users, l_idx], problem.c_off[users, l_idx],
                                      problem.bits[users, l_idx], problem.noise_over_gain[users, uavs], group)
    e = e + np.where(ok, 0.0, LATE_PENALTY_J)
    return np.bincount(group, weights=e, minlength=len(groups))


def polish(problem, serving, layer, max_moves: int, top_k: int = 6):
    """Best-improvement single-user moves, every group solved anew in every round."""
    energy, _, _ = problem.candidates()
    n_users, n_uavs, lmax = problem.shape
    flat_energy = energy.reshape(n_users, -1)
    order = polish_order(flat_energy, top_k)
    serving, layer = serving.copy(), layer.copy()
    users = np.arange(n_users)
    for _ in range(max_moves):
        current = groups_energy(problem, [(j, users[serving == j], layer[serving == j]) for j in range(n_uavs)])
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
        scores = groups_energy(problem, groups)
        gain = np.bincount(group_move, weights=[current[g[0]] - e for g, e in zip(groups, scores)],
                           minlength=len(moves))
        best = int(np.argmax(gain))
        if gain[best] <= 1e-12 * max(1.0, float(current.sum())):
            break
        i, serving[i], layer[i] = moves[best]
    return serving, layer


def reference_act(env):
    """GreedyOptimum().act(env) with the local search above."""
    problem = SlotProblem(env)
    serving, layer, _ = greedy_assignment(problem)
    serving, layer = polish(problem, serving, layer, 2 * env.num_users)
    return decisions_of(env, problem, serving, layer), hover(env)


class ReferenceGreedy(Policy):
    """The policy of reference_act (for the flying reference built on it)."""
    name = 'greedy-reference'

    def act(self, env):
        return reference_act(env)
