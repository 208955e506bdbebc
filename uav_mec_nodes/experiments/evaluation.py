"""How policies are compared: seed sets no choice looks at, and paired confidence intervals.

Seeds, in three disjoint sets:
- training episodes: seed * 100003 + episode (learners/trainer.py), below 1,000,000 for any
  training seed under 9;
- validation: VALIDATION_SEED.. (1,000,000..): training-time evaluations (which keep each run's
  best.pt) and every choice (checkpoints, hyper-parameters, which seed to ship: `uav-mec select`,
  on SELECTION_SEED.., episodes no training-time evaluation used) look at these only;
- test: TEST_SEED.. (5,000,000..5,000,029 by default, TEST_EPISODES = 30): reported numbers only.

Policies are compared on the same test seeds, so the difference to a reference is paired by
seed: its mean, the standard deviation of the differences and a 95% t-interval.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

VALIDATION_SEED = 1_000_000
SELECTION_SEED = VALIDATION_SEED + 100   # `uav-mec select`: validation episodes training never evaluated on
TEST_SEED = 5_000_000
TEST_EPISODES = 30
BORDER_M = 10.0     # a UAV-slot this close to the area's border counts as on the border


@dataclass
class EpisodeMeasures:
    """One episode of one policy: what a comparison reports."""
    seed: int
    energy_j: float
    deadline_miss_rate: float
    border_fraction: float         # live UAV-slots within BORDER_M of the area's border
    user_distance_m: float         # mean distance from a user to its serving UAV
    safety_interventions: int
    flight_above_floor_j: float    # w_fly * (flight energy - the least any motion from rest spends), in e_tot's J


def flight_floor_j(log, cfg) -> float:
    """The least flight energy (27) any motion could spend in the episode: every UAV that (27) charges in a slot
    at guidance.least_flight_energy_j, weighted by w_fly."""
    from uav_mec_nodes.model.guidance import least_flight_energy_j
    charged = [int(log.alive_at_start(t).sum()) if cfg.energy.fly_energy_of_failed == 'down'
               else len(log.uav_positions[t]) for t in range(len(log.slots))]
    return cfg.energy.w_fly * sum(n * least_flight_energy_j(t, cfg) for t, n in enumerate(charged))


def measure(log, cfg) -> EpisodeMeasures:
    """The measures of one episode (episode.EpisodeLog)."""
    summary = log.summary()
    area = cfg.scenario.area_m
    near, live_slots, distances = 0, 0, []
    for t, (q, users, serving) in enumerate(zip(log.uav_positions, log.user_positions, log.serving)):
        live = log.alive_at_start(t)
        xy = q[live, :2]
        near += int(np.count_nonzero(np.any((xy < BORDER_M) | (xy > area - BORDER_M), axis=1)))
        live_slots += int(live.sum())
        distances.append(np.linalg.norm(users - q[serving], axis=1))
    return EpisodeMeasures(seed=log.seed, energy_j=summary['e_tot'], deadline_miss_rate=summary['deadline_miss_rate'],
                           border_fraction=near / max(live_slots, 1),
                           user_distance_m=float(np.mean(np.concatenate(distances))),
                           safety_interventions=summary['safety_interventions'],
                           flight_above_floor_j=cfg.energy.w_fly * summary['flight_energy_j']
                           - flight_floor_j(log, cfg))


def paired_difference(values: Sequence[float], reference: Sequence[float], level: float = 0.95) -> Dict[str, float]:
    """Mean of values - reference (paired by seed), the differences' std and a t-interval."""
    from scipy import stats
    d = np.asarray(values, float) - np.asarray(reference, float)
    n = len(d)
    mean = float(d.mean())
    std = float(d.std(ddof=1)) if n > 1 else 0.0
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * std / np.sqrt(n)) if n > 1 else float('inf')
    return dict(mean=mean, std=std, low=mean - half, high=mean + half, n=n)


def compare(env, policies: Dict[str, object], reference: str, seeds: List[int], on_slot=None) -> Dict[str, dict]:
    """Every policy on the same seeds; per policy the measures' means and the paired differences to `reference`."""
    from uav_mec_nodes.experiments.episode import run_episode
    runs = {name: [measure(run_episode(env, policy, seed, on_slot), env.cfg) for seed in seeds]
            for name, policy in policies.items()}
    ref = runs[reference]
    out = {}
    for name, episodes in runs.items():
        energy = np.array([e.energy_j for e in episodes])
        misses = np.array([e.deadline_miss_rate for e in episodes])
        out[name] = dict(
            episodes=len(episodes), energy_mean_j=float(energy.mean()),
            energy_std_j=float(energy.std(ddof=1)) if len(energy) > 1 else 0.0,
            deadline_miss_rate=float(misses.mean()),
            energy_vs_reference_j=paired_difference(energy, [e.energy_j for e in ref]),
            misses_vs_reference=paired_difference(misses, [e.deadline_miss_rate for e in ref]),
            border_fraction=float(np.mean([e.border_fraction for e in episodes])),
            user_distance_m=float(np.mean([e.user_distance_m for e in episodes])),
            safety_interventions=int(sum(e.safety_interventions for e in episodes)),
            flight_above_floor_j=float(np.mean([e.flight_above_floor_j for e in episodes])),
            energy_per_episode=energy.tolist())
    return out


@dataclass
class SlotGap:
    """One slot of one policy against the per-slot optimum on the same state."""
    seed: int
    slot: int
    failure: bool              # a UAV fails during the slot: its drops count for every policy, not in the bound
    late: int                  # the policy's late or dropped tasks
    energy_j: float            # the policy's tasks' weighted energy (flight excluded: both fly the policy's motion)
    optimum_late: int
    optimum_energy_j: float
    lower_late: int            # the proved lower bound (the optimum's discretisation error is the difference)
    lower_energy_j: float
    solve_s: float

    @property
    def energy_gap(self) -> float:
        """(policy - optimum) / optimum of the tasks' energy, at equal late counts (else nan)."""
        if self.late != self.optimum_late:
            return float('nan')
        return (self.energy_j - self.optimum_energy_j) / max(self.optimum_energy_j, 1e-300)


def slot_gaps(env, policy, seeds: List[int], points: Optional[int] = None, on_slot=None) -> List[SlotGap]:
    """Every slot of the policy's episodes, with the optimum of the same slot's state beside its decisions."""
    from uav_mec_nodes.policies.optimal import POINTS, evaluate_tasks, slot_optimum
    rows = []
    for seed in seeds:
        env.reset(seed=seed)
        policy.reset(seed)
        done, t = False, 0
        while not done:
            decisions, motion = policy.act(env)
            late, energy = evaluate_tasks(env, decisions)
            opt = slot_optimum(env, points or POINTS)
            state, _ = env.slot_inputs()
            failure = bool(np.any(state.alive_start & ~state.alive_end))
            rows.append(SlotGap(seed, t, failure, late, energy, opt.late, opt.energy_j, opt.lower_late,
                                opt.lower_energy_j, opt.solve_s))
            _, _, done, _, _ = env.step_decisions(decisions, motion)
            t += 1
            if on_slot is not None:
                on_slot()
    return rows


def summarize_gaps(rows: Sequence[SlotGap]) -> Dict[str, float]:
    """A policy's slots against the optimum: late tasks, energy gap, and the bounds' own distance."""
    planned = [r for r in rows if not r.failure]
    same = [r for r in rows if r.late == r.optimum_late]
    gaps = np.array([r.energy_gap for r in same]) if same else np.array([np.nan])
    bound = np.array([(r.optimum_energy_j - r.lower_energy_j) / max(r.optimum_energy_j, 1e-300)
                      for r in planned if r.optimum_late == r.lower_late])
    solve = np.array([r.solve_s for r in rows])
    return dict(
        slots=len(rows), failure_slots=len(rows) - len(planned),
        late=sum(r.late for r in planned), optimum_late=sum(r.optimum_late for r in planned),
        lower_late=sum(r.lower_late for r in planned),
        failure_late=sum(r.late for r in rows if r.failure),
        failure_optimum_late=sum(r.optimum_late for r in rows if r.failure),
        slots_more_late=sum(r.late > r.optimum_late for r in rows),
        energy_j=float(sum(r.energy_j for r in rows)), optimum_energy_j=float(sum(r.optimum_energy_j for r in rows)),
        energy_gap_mean=float(np.nanmean(gaps)), energy_gap_median=float(np.nanmedian(gaps)),
        energy_gap_p95=float(np.nanpercentile(gaps, 95)),
        slots_at_optimum=int(np.count_nonzero(gaps <= 1e-6)),
        bound_gap_mean=float(bound.mean()) if bound.size else float('nan'),
        bound_gap_max=float(bound.max()) if bound.size else float('nan'),
        solve_median_s=float(np.median(solve)), solve_max_s=float(solve.max()))


def write_gaps_csv(path, rows: Dict[str, Sequence[SlotGap]]) -> None:
    """Every slot of every policy (`uav-mec gap --csv`)."""
    import csv
    from dataclasses import astuple, fields
    with open(path, 'w', newline='') as f:
        out = csv.writer(f)
        out.writerow(['policy'] + [x.name for x in fields(SlotGap)] + ['energy_gap'])
        for name, policy_rows in rows.items():
            for r in policy_rows:
                out.writerow([name] + [int(v) if isinstance(v, bool) else v for v in astuple(r)] + [r.energy_gap])


def select(env, policies: Dict[str, object], seeds: List[int], on_slot=None) -> List[dict]:
    """Policies ranked on validation episodes by mean reward (31) (energy, doubled per violated constraint):
    the choice of which to ship looks at no test episode."""
    from uav_mec_nodes.experiments.episode import run_episode
    rows = []
    for name, policy in policies.items():
        logs = [run_episode(env, policy, seed, on_slot).summary() for seed in seeds]
        rows.append(dict(policy=name, reward_mean=float(np.mean([s['reward'] for s in logs])),
                         energy_mean_j=float(np.mean([s['e_tot'] for s in logs])),
                         deadline_miss_rate=float(np.mean([s['deadline_miss_rate'] for s in logs]))))
    return sorted(rows, key=lambda r: -r['reward_mean'])


def select_over_sizes(envs, policies: Dict[str, object], seeds: List[int], on_slot=None) -> List[dict]:
    """`select` at several sizes (envs of other I and J), ranked by the mean over them of each size's means."""
    if len(envs) == 1:
        return select(envs[0], policies, seeds, on_slot)
    per_size = [{r['policy']: r for r in select(env, policies, seeds, on_slot)} for env in envs]
    rows = [dict(policy=name, **{k: float(np.mean([size[name][k] for size in per_size]))
                                 for k in ('reward_mean', 'energy_mean_j', 'deadline_miss_rate')})
            for name in policies]
    return sorted(rows, key=lambda r: -r['reward_mean'])
