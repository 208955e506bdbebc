"""model/slot.py's evaluate_slot around the allocation, compiled (numba): one task at a time.

At I=10 the slot's fifty-odd numpy calls before and after the allocation cost more
than the arithmetic in them; here they are two calls, the same operations in the same
order on every task, so the numbers are those of the numpy expressions they replace
(the sums of e_tot stay in numpy: its pairwise summation is not a sequential one).
Compiled once per machine and cached beside this file (scripts/bootstrap.sh; with no cache,
when a graph's accounting starts: slot.load_kernels).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from uav_mec_nodes.model.task_states import COMPLETED, DROP_NO_TARGET, DROP_NONE, DROP_SERVING_DOWN, DROPPED, LATE


@njit(cache=True, boundscheck=True, error_model='numpy')   # bad indices raise; x / 0 is inf, as in numpy
def tasks_of_slot(dnn_type, partition_layer, serving_uav, migration_target, alive_start, alive_end, cum_flops,
                  num_layers, input_bits, mu_uav_gain, uav_uav_rate_bps, flops_per_cycle, uav_tx_power_w):
    """Each task's cycles, bits and channel, and where its slot goes (SPEC.md's failure timing).

    Returns (c_loc, c_off, bits, gain, drop_reason, migrated, migration_ignored, computing_uav,
    migration_time_s, migration_energy_j), each (I,).
    """
    n = len(dnn_type)
    c_loc, c_off, bits, gain = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    drop, computing = np.empty(n, np.int64), np.empty(n, np.int64)
    migrated, ignored = np.empty(n, np.bool_), np.empty(n, np.bool_)
    t_mig, e_mig = np.zeros(n), np.zeros(n)
    for i in range(n):
        k, phi, j, target = dnn_type[i], partition_layer[i], serving_uav[i], migration_target[i]
        w_loc = cum_flops[k, phi - 1]
        c_loc[i] = w_loc / flops_per_cycle
        c_off[i] = (cum_flops[k, num_layers[k]] - w_loc) / flops_per_cycle
        bits[i] = input_bits[k, phi]
        gain[i] = mu_uav_gain[i, j]
        up = alive_start[j]
        failing = up and not alive_end[j]
        target_ok = target >= 0 and target != j and alive_end[max(target, 0)]
        migrated[i] = failing and target_ok
        drop[i] = DROP_NONE if up else DROP_SERVING_DOWN
        if drop[i] == DROP_NONE and failing and not target_ok:
            drop[i] = DROP_NO_TARGET
        ignored[i] = target >= 0 and not failing and drop[i] == DROP_NONE
        computing[i] = target if migrated[i] else j
        if migrated[i]:   # the tail layers' D_phi bits over the UAV-UAV link, (22)
            t_mig[i] = bits[i] / uav_uav_rate_bps[j, target]
            e_mig[i] = uav_tx_power_w * t_mig[i]
    return c_loc, c_off, bits, gain, drop, migrated, ignored, computing, t_mig, e_mig


@njit(cache=True, boundscheck=True, error_model='numpy')   # bad indices raise; x / 0 is inf, as in numpy
def outcomes_of_slot(c_loc, c_off, local_cpu_hz, uav_cpu_hz, tx_power_w, local_time_s, tx_time_s, migration_time_s,
                     uav_time_s, active, queued, computing_uav, num_uavs, kappa, slot_s, deadline_tolerance):
    """Energies (19), (21), (25), latency, terminal state and UAV load of each task, given its times.

    Returns (local_energy_j, tx_energy_j, uav_energy_j, uav_time_s, latency_s, state, uav_load_hz (J,));
    a dropped task's UAV time and energy are 0.
    """
    n = len(c_loc)
    e_loc, e_tr, e_off = np.empty(n), np.empty(n), np.empty(n)
    t_off, latency, state = np.empty(n), np.empty(n), np.empty(n, np.int64)
    load = np.zeros(num_uavs)
    for i in range(n):
        e_loc[i] = kappa * local_cpu_hz[i] ** 2 * c_loc[i]
        e_tr[i] = tx_power_w[i] * tx_time_s[i]
        e_off[i] = kappa * uav_cpu_hz[i] ** 2 * c_off[i] if active[i] else 0.0
        t_off[i] = uav_time_s[i] if active[i] else 0.0
        latency[i] = local_time_s[i] + tx_time_s[i] + migration_time_s[i] + t_off[i]
        if not active[i]:
            state[i] = DROPPED
        else:
            state[i] = COMPLETED if latency[i] <= slot_s * (1.0 + deadline_tolerance) else LATE
            if not queued[i]:   # queued tasks use the CPU after the slot's budget
                load[computing_uav[i]] += uav_cpu_hz[i]
    return e_loc, e_tr, e_off, t_off, latency, state, load


def compile_cached() -> None:
    """Compile both kernels into numba's cache with a small slot (scripts/bootstrap.sh calls it)."""
    cum = np.array([[0.0, 1e9, 2e9]])
    out = tasks_of_slot(np.zeros(2, np.int64), np.array([1, 2], np.int64), np.zeros(2, np.int64),
                        np.array([1, -1], np.int64), np.ones(2, np.bool_), np.array([False, True]), cum,
                        np.array([2], np.int64), np.array([[8e5, 4e5, 1e3]]), np.ones((2, 2)), np.ones((2, 2)),
                        4.0, 1.0)
    ones = np.ones(2)
    outcomes_of_slot(out[0], out[1], ones, ones, ones, ones, ones, ones, ones, np.ones(2, np.bool_),
                     np.zeros(2, np.bool_), out[7], 2, 1e-28, 1.0, 1e-9)
