"""One slot: decisions + state -> every task's latency, energy and terminal state.

Puts together (18)-(27) with the failure timing of SPEC.md:
  * association only to UAVs alive at the slot's start;
  * a serving UAV that fails during the slot hands the tail layers (D_phi bits,
    (22) with r_jk) to its migration target, which must survive the slot; the
    target's CPU computes them, so (28i) is checked where the work runs;
  * a migration decision for a UAV that did not fail is ignored and counted;
  * every task ends COMPLETED, LATE (tau > delta (1 + tol)) or DROPPED with a reason,
    and a dropped task keeps the energy it already spent (local, upload).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from uav_mec_nodes.errors import ActionError
from uav_mec_nodes.model import allocation, channel, power
from uav_mec_nodes.model.dnn_profiles import ProfileArrays
from uav_mec_nodes.model.task_states import (  # noqa: F401 (the model's names for them)
    COMPLETED, DROP_NO_TARGET, DROP_NONE, DROP_REASONS, DROP_SERVING_DOWN, DROPPED, LATE, NO_MIGRATION, STATE_NAMES)


@dataclass
class SlotDecisions:
    """Decisions of one slot for I users (0-based UAV ids, 1-based partition layers)."""
    partition_layer: np.ndarray             # phi_i in 1..L_k
    serving_uav: np.ndarray                 # j with alpha_ij = 1
    migration_target: np.ndarray            # k with beta_ijk = 1, or NO_MIGRATION
    cpu_share: Optional[np.ndarray] = None  # paper mode: weight of the task on its UAV's CPU, > 0
    local_cpu_fraction: Optional[np.ndarray] = None  # paper mode: f_loc / f_max in (0, 1]
    tx_power_w: Optional[np.ndarray] = None  # None or NaN entries: optimal power (33)-(35)


@dataclass
class SlotState:
    """What the slot's physics needs besides the decisions."""
    dnn_type: np.ndarray                    # (I,) k
    mu_uav_gain: np.ndarray                 # (I, J) |h_ij|^2
    uav_uav_rate_bps: np.ndarray            # (J, J) r_jk
    alive_start: np.ndarray                 # (J,) s_j(t-1)
    alive_end: np.ndarray                   # (J,) s_j(t)


@dataclass
class SlotResult:
    """Per task (I,) arrays and slot totals. Times [s], energies [J], frequencies [Hz]."""
    state: np.ndarray
    drop_reason: np.ndarray
    computing_uav: np.ndarray
    migrated: np.ndarray
    local_time_s: np.ndarray
    tx_time_s: np.ndarray
    migration_time_s: np.ndarray
    uav_time_s: np.ndarray
    latency_s: np.ndarray
    local_energy_j: np.ndarray
    tx_energy_j: np.ndarray
    migration_energy_j: np.ndarray
    uav_energy_j: np.ndarray
    tx_power_w: np.ndarray
    local_cpu_hz: np.ndarray
    uav_cpu_hz: np.ndarray
    uav_load_hz: np.ndarray                 # (J,) sum of f_ij computed on each UAV within the slot
    ignored_migrations: int = 0
    migration_ignored: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # (I,) per task
    flight_energy_j: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (J,)
    e_tot: float = 0.0

    @property
    def counts(self) -> dict:
        per_state = np.bincount(np.asarray(self.state, np.int64), minlength=len(STATE_NAMES))
        return {name: int(per_state[s]) for s, name in enumerate(STATE_NAMES)}

    def totals(self) -> dict:
        return dict(e_tot=self.e_tot, local_energy_j=float(self.local_energy_j.sum()),
                    tx_energy_j=float(self.tx_energy_j.sum()),
                    flight_energy_j=float(self.flight_energy_j.sum()),
                    uav_compute_energy_j=float(self.uav_energy_j.sum()),
                    migration_energy_j=float(self.migration_energy_j.sum()),
                    tasks_migrated=int(self.migrated.sum()), ignored_migrations=self.ignored_migrations,
                    **{f'tasks_{k}': v for k, v in self.counts.items()})


def _check(decisions: SlotDecisions, state: SlotState, arrays: ProfileArrays, num_uavs: int, cfg):
    n = len(state.dnn_type)
    # the state's sizes agree (the compiled kernels index them without numpy's checks)
    for name, shape in (('mu_uav_gain', (n, num_uavs)), ('uav_uav_rate_bps', (num_uavs, num_uavs)),
                        ('alive_end', (num_uavs,))):
        if np.shape(getattr(state, name)) != shape:
            raise ValueError(f'SlotState.{name}: expected shape {shape}, got {np.shape(getattr(state, name))}')
    for name in ('partition_layer', 'serving_uav', 'migration_target'):
        value = np.asarray(getattr(decisions, name))
        if value.shape != (n,):
            raise ActionError(f'{name}: expected shape ({n},), got {value.shape}')
        if value.dtype.kind not in 'iub' and not np.isfinite(value).all():   # integers are finite
            raise ActionError(f'{name}: NaN or inf')
    phi = np.asarray(decisions.partition_layer)
    layers = arrays.num_layers[state.dnn_type]
    outside = (phi < 1) | (phi > layers)
    if outside.any():
        i = int(np.argmax(outside))
        raise ActionError(f'partition_layer[{i}]: must be in [1, {layers[i]}], got {phi[i]}')
    serving = np.asarray(decisions.serving_uav)
    if ((serving < 0) | (serving >= num_uavs)).any():
        raise ActionError(f'serving_uav: must be in [0, {num_uavs - 1}], got {serving.tolist()}')
    target = np.asarray(decisions.migration_target)
    if ((target < NO_MIGRATION) | (target >= num_uavs)).any():
        raise ActionError(f'migration_target: must be -1 or in [0, {num_uavs - 1}], got {target.tolist()}')
    for name, lo, hi in (('cpu_share', 0.0, np.inf), ('local_cpu_fraction', 0.0, 1.0),
                         ('tx_power_w', 0.0, cfg.users.tx_power_max_w)):
        value = getattr(decisions, name)
        if value is None:
            continue
        value = np.asarray(value, dtype=float)
        if value.shape != (n,):
            raise ActionError(f'{name}: expected shape ({n},), got {value.shape}')
        finite = value[~np.isnan(value)] if name == 'tx_power_w' else value
        if name != 'tx_power_w' and np.isnan(value).any():
            raise ActionError(f'{name}: NaN')
        bad = (finite <= lo) | (finite > hi) if name != 'tx_power_w' else (finite < lo) | (finite > hi)
        if np.any(bad):
            raise ActionError(f'{name}: must be in ({lo}, {hi}], got {finite[bad][0]}')


def evaluate_slot(cfg, arrays: ProfileArrays, decisions: SlotDecisions, state: SlotState,
                  flight_energy_j: Optional[np.ndarray] = None) -> SlotResult:
    """Latency, energy and terminal state of every task of one slot, and e_tot (27)."""
    num_uavs = len(state.alive_start)
    _check(decisions, state, arrays, num_uavs, cfg)
    delta, tol = cfg.scenario.slot_s, cfg.modes.deadline_tolerance
    kappa, c0 = cfg.compute.kappa, cfg.compute.flops_per_cycle
    b1, noise = cfg.channel.bandwidth_mu_uav_hz, cfg.noise_mu_uav_w
    p_max, f_max, f_uav = cfg.users.tx_power_max_w, cfg.users.cpu_max_hz, cfg.uavs.cpu_hz
    from uav_mec_nodes.model import slot_kernels   # numba loads only where slots are evaluated
    n = len(state.dnn_type)
    # contiguous and writable, the one signature load_kernels compiled: numba types a read-only array (a bag's
    # buffer, a broadcast view) apart and would compile again in the first slot that passes one
    as_int, as_bool, as_float = ((lambda x, t=t: np.require(x, t, 'CW')) for t in (np.int64, np.bool_, float))
    c_loc, c_off, bits, gain, drop, migrated, ignored_mask, computing, t_mig, e_mig = slot_kernels.tasks_of_slot(
        as_int(state.dnn_type), as_int(decisions.partition_layer), as_int(decisions.serving_uav),
        as_int(decisions.migration_target), as_bool(state.alive_start), as_bool(state.alive_end),
        as_float(arrays.cum_flops), as_int(arrays.num_layers), as_float(arrays.input_bits),
        as_float(state.mu_uav_gain), as_float(state.uav_uav_rate_bps), float(c0), float(cfg.uavs.tx_power_w))
    ignored = int(ignored_mask.sum())
    active = drop == DROP_NONE

    t_loc, t_tr, t_off = np.zeros(n), np.zeros(n), np.zeros(n)
    f_loc, f_off, p = np.zeros(n), np.zeros(n), np.zeros(n)
    given = np.full(n, np.nan) if decisions.tx_power_w is None else np.asarray(decisions.tx_power_w, float)
    fixed = ~np.isnan(given)
    any_fixed = bool(fixed.any())   # none (most slots): what a given power changes below is skipped
    # a given transmit power fixes the upload time, which comes off the budget like migration, and leaves no
    # bits for the allocation to upload
    fixed_tx_s, upload_bits = np.zeros(n), bits
    if any_fixed:
        with np.errstate(divide='ignore'):
            t_tr_fixed = np.where(bits > 0, bits / channel.rate_bps(np.where(fixed, given, 0.0), gain, b1, noise),
                                  0.0)
        fixed_tx_s, upload_bits = np.where(fixed, t_tr_fixed, 0.0), np.where(fixed, 0.0, bits)
    if cfg.modes.resource_allocation == 'improved':
        a = slice(None) if active.all() else np.flatnonzero(active)   # a slice: views, not copies
        times, in_slot = allocation.improved_allocation(
            c_loc[a], c_off[a], upload_bits[a], noise / gain[a], delta - t_mig[a] - fixed_tx_s[a], computing[a],
            num_uavs, f_uav, f_max, p_max, b1, kappa, cfg.energy.w_uav)
        t_loc[a], t_tr[a], t_off[a] = times.local_s, times.tx_s, times.uav_s
        f_loc[a] = np.where(c_loc[a] > 0, c_loc[a] / np.maximum(t_loc[a], 1e-300), 0.0)
        f_off[a] = times.uav_hz
        queued = np.zeros(n, bool)
        queued[a] = ~in_slot
        p[a] = np.minimum(power.min_power_w(bits[a], t_tr[a], gain[a], b1, noise), p_max)
    else:
        share = np.ones(n) if decisions.cpu_share is None else np.asarray(decisions.cpu_share, float)
        frac = np.ones(n) if decisions.local_cpu_fraction is None else \
            np.asarray(decisions.local_cpu_fraction, float)
        f_loc = np.where(c_loc > 0, frac * f_max, 0.0)
        t_loc = np.where(c_loc > 0, c_loc / np.maximum(f_loc, 1e-300), 0.0)
        f_off = np.where(active, allocation.paper_allocation(c_off, np.where(active, share, 0.0), computing,
                                                            num_uavs, f_uav), 0.0)
        t_off = np.where(active & (c_off > 0), c_off / np.maximum(f_off, 1e-300), 0.0)
        budget = delta - t_loc - t_off - t_mig if cfg.modes.tx_time_budget == 'remaining' else \
            np.full(n, delta)
        p_hat = power.min_power_w(bits, budget, gain, b1, noise)
        if cfg.modes.power_solver == 'dinkelbach':
            p, _ = power.dinkelbach_power_w(bits, gain, b1, noise, p_hat, p_max)
        else:
            p = np.minimum(p_hat, p_max)
        p = np.where(bits > 0, p, 0.0)
        t_tr = np.where(bits > 0, bits / np.maximum(channel.rate_bps(p, gain, b1, noise), 1e-300), 0.0)
        queued = np.zeros(n, bool)
    if any_fixed:
        p = np.where(fixed, given, p)
        t_tr = np.where(fixed, t_tr_fixed, t_tr)

    e_loc, e_tr, e_off, t_off, latency, st, load = slot_kernels.outcomes_of_slot(
        c_loc, c_off, f_loc, f_off, p, t_loc, t_tr, t_mig, t_off, active, queued, computing, num_uavs, float(kappa),
        float(delta), float(tol))
    fly = np.zeros(num_uavs) if flight_energy_j is None else np.asarray(flight_energy_j, float)
    e_tot = float(e_loc.sum() + e_tr.sum() + cfg.energy.w_fly * fly.sum()
                  + cfg.energy.w_uav * (e_off.sum() + e_mig.sum()))
    return SlotResult(state=st, drop_reason=drop, computing_uav=np.where(active, computing, -1),
                      migrated=migrated, local_time_s=t_loc, tx_time_s=t_tr, migration_time_s=t_mig,
                      uav_time_s=t_off, latency_s=latency, local_energy_j=e_loc, tx_energy_j=e_tr,
                      migration_energy_j=e_mig, uav_energy_j=e_off, tx_power_w=p, local_cpu_hz=f_loc,
                      uav_cpu_hz=f_off, uav_load_hz=load, ignored_migrations=ignored,
                      migration_ignored=ignored_mask,
                      flight_energy_j=fly, e_tot=e_tot)


def load_kernels() -> None:
    """Load the compiled steps evaluate_slot runs (numba's cache; compile them where there is none), now
    instead of in the first slot: a graph's accounting calls it at start, so that a first slot does not hold
    up the nodes beside it (in one process, their heartbeats) while numba loads or compiles."""
    from uav_mec_nodes.model import allocation_kernels, slot_kernels
    allocation_kernels.compile_cached()
    slot_kernels.compile_cached()


_TASK_FIELDS = ('state', 'drop_reason', 'migrated', 'local_time_s', 'tx_time_s', 'migration_time_s', 'uav_time_s',
                'latency_s', 'local_energy_j', 'tx_energy_j', 'migration_energy_j', 'uav_energy_j', 'tx_power_w',
                'local_cpu_hz', 'uav_cpu_hz', 'migration_ignored')


def evaluate_slot_batch(cfg, arrays: ProfileArrays, decisions: Sequence[SlotDecisions],
                        states: Sequence[SlotState], flight_energy_j: Sequence[np.ndarray]) -> list:
    """evaluate_slot for B independent slots (same J) in one vectorised call.

    The slots are laid side by side as one slot of sum(I_b) users and B J UAVs
    whose channels are block-diagonal, so no task can reach another episode's
    UAV; the results are split back per slot.
    """
    n_b = [len(s.dnn_type) for s in states]
    num_uavs = len(states[0].alive_start)
    if any(len(s.alive_start) != num_uavs for s in states):
        raise ValueError('evaluate_slot_batch: every slot needs the same number of UAVs')
    total_users, total_uavs = sum(n_b), num_uavs * len(states)
    gain = np.zeros((total_users, total_uavs))
    rate = np.zeros((total_uavs, total_uavs))
    starts = np.concatenate([[0], np.cumsum(n_b)])
    for b, s in enumerate(states):
        u, j = slice(starts[b], starts[b + 1]), slice(b * num_uavs, (b + 1) * num_uavs)
        gain[u, j] = s.mu_uav_gain
        rate[j, j] = s.uav_uav_rate_bps
    offset = np.repeat(np.arange(len(states)) * num_uavs, n_b)
    cat = np.concatenate

    def optional(name):
        values = [getattr(d, name) for d in decisions]
        if all(v is None for v in values):
            return None
        return cat([np.full(n, np.nan if name == 'tx_power_w' else 1.0) if v is None else np.asarray(v, float)
                    for v, n in zip(values, n_b)])

    target = cat([np.asarray(d.migration_target, np.int64) for d in decisions])
    flat = SlotDecisions(cat([np.asarray(d.partition_layer, np.int64) for d in decisions]),
                         cat([np.asarray(d.serving_uav, np.int64) for d in decisions]) + offset,
                         np.where(target >= 0, target + offset, NO_MIGRATION),
                         optional('cpu_share'), optional('local_cpu_fraction'), optional('tx_power_w'))
    state = SlotState(cat([s.dnn_type for s in states]), gain, rate, cat([s.alive_start for s in states]),
                      cat([s.alive_end for s in states]))
    fly = cat([np.asarray(f, float) for f in flight_energy_j])
    r = evaluate_slot(cfg, arrays, flat, state, fly)
    out = []
    for b in range(len(states)):
        u, j = slice(starts[b], starts[b + 1]), slice(b * num_uavs, (b + 1) * num_uavs)
        parts = {name: getattr(r, name)[u] for name in _TASK_FIELDS}
        computing = r.computing_uav[u]
        e_tot = float(parts['local_energy_j'].sum() + parts['tx_energy_j'].sum()
                      + cfg.energy.w_fly * r.flight_energy_j[j].sum()
                      + cfg.energy.w_uav * (parts['uav_energy_j'].sum() + parts['migration_energy_j'].sum()))
        out.append(SlotResult(computing_uav=np.where(computing >= 0, computing - b * num_uavs, -1),
                              uav_load_hz=r.uav_load_hz[j], flight_energy_j=r.flight_energy_j[j],
                              ignored_migrations=int(parts['migration_ignored'].sum()), e_tot=e_tot, **parts))
    return out
