"""How policies are compared: seed sets no choice looks at, and paired confidence intervals.

Seeds, in three disjoint sets:
- training episodes: seed * 100003 + episode (learners/trainer.py), below 1,000,000 for any
  training seed under 9;
- validation: VALIDATION_SEED.. (1,000,000..): training-time evaluations and every choice
  (checkpoints, hyper-parameters, which seed to ship) look at these only;
- test: TEST_SEED.. (5,000,000..5,000,029 by default, TEST_EPISODES = 30): reported numbers only.

Policies are compared on the same test seeds, so the difference to a reference is paired by
seed: its mean, the standard deviation of the differences and a 95% t-interval.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence

import numpy as np

VALIDATION_SEED = 1_000_000
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


def measure(log, cfg) -> EpisodeMeasures:
    """The measures of one episode (episode.EpisodeLog)."""
    summary = log.summary()
    area = cfg.scenario.area_m
    near, live_slots, distances = 0, 0, []
    for t, (q, users, serving) in enumerate(zip(log.uav_positions, log.user_positions, log.serving)):
        live = log.fail_slots >= t
        xy = q[live, :2]
        near += int(np.count_nonzero(np.any((xy < BORDER_M) | (xy > area - BORDER_M), axis=1)))
        live_slots += int(live.sum())
        distances.append(np.linalg.norm(users - q[serving], axis=1))
    return EpisodeMeasures(seed=log.seed, energy_j=summary['e_tot'], deadline_miss_rate=summary['deadline_miss_rate'],
                           border_fraction=near / max(live_slots, 1),
                           user_distance_m=float(np.mean(np.concatenate(distances))),
                           safety_interventions=summary['safety_interventions'])


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
    from uav_mec_nodes.episode import run_episode
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
            energy_per_episode=energy.tolist())
    return out
