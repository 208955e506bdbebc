"""Run whole episodes of the environment with a policy and summarise them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np

from uav_mec_nodes.env.uav_mec_env import UavMecEnv
from uav_mec_nodes.model.slot import STATE_NAMES

ENERGY_PARTS = ('local_energy_j', 'tx_energy_j', 'flight_energy_j', 'uav_compute_energy_j',
                'migration_energy_j')


@dataclass
class EpisodeLog:
    """Per-slot records of one episode (lists of equal length T)."""
    seed: int
    policy: str
    slots: List[Dict] = field(default_factory=list)
    uav_positions: List[np.ndarray] = field(default_factory=list)   # (J, 3) at each slot's start
    user_positions: List[np.ndarray] = field(default_factory=list)  # (I, 3) at each slot's start
    fail_slots: np.ndarray = None

    def summary(self) -> Dict:
        total = {k: float(sum(s[k] for s in self.slots)) for k in ('e_tot', 'reward') + ENERGY_PARTS}
        counts = {f'tasks_{n}': int(sum(s[f'tasks_{n}'] for s in self.slots)) for n in STATE_NAMES}
        tasks = sum(counts.values())
        failed = [int(j) for j in np.flatnonzero(self.fail_slots < len(self.slots))]
        return dict(policy=self.policy, seed=self.seed, slots=len(self.slots), tasks=tasks, **total, **counts,
                    tasks_migrated=int(sum(s['tasks_migrated'] for s in self.slots)),
                    ignored_migrations=int(sum(s['ignored_migrations'] for s in self.slots)),
                    deadline_miss_rate=(counts['tasks_late'] + counts['tasks_dropped']) / max(tasks, 1),
                    failures=[{'uav': j, 'slot': int(self.fail_slots[j])} for j in failed])


def run_episode(env: UavMecEnv, policy, seed: int) -> EpisodeLog:
    """One full episode; the policy acts on the env's decoded interface."""
    env.reset(seed=seed)
    policy.reset(seed)
    log = EpisodeLog(seed=seed, policy=policy.name, fail_slots=env.fail_slots.copy())
    done = False
    while not done:
        log.uav_positions.append(env.uav_pos.copy())
        log.user_positions.append(env.users.position.copy())
        decisions, accel = policy.act(env)
        _, reward, done, _, info = env.step_decisions(decisions, accel)
        info['reward'] = reward
        log.slots.append({k: v for k, v in info.items() if not isinstance(v, np.ndarray)})
    return log


def format_summary(summary: Dict) -> str:
    """A plain-text table of one episode's summary."""
    rows = [('policy', summary['policy']), ('seed', summary['seed']), ('slots', summary['slots']),
            ('weighted energy e_tot [J]', f"{summary['e_tot']:.6g}"),
            ('  local compute [J]', f"{summary['local_energy_j']:.6g}"),
            ('  upload [J]', f"{summary['tx_energy_j']:.6g}"),
            ('  flight (unweighted) [J]', f"{summary['flight_energy_j']:.6g}"),
            ('  UAV compute (unweighted) [J]', f"{summary['uav_compute_energy_j']:.6g}"),
            ('  migration (unweighted) [J]', f"{summary['migration_energy_j']:.6g}"),
            ('tasks', summary['tasks']),
            ('  completed in time', summary['tasks_completed']),
            ('  completed late', summary['tasks_late']),
            ('  dropped', summary['tasks_dropped']),
            ('  migrated', summary['tasks_migrated']),
            ('deadline-miss rate', f"{summary['deadline_miss_rate']:.2%}"),
            ('UAV failures', ', '.join(f"UAV {f['uav']} in slot {f['slot']}" for f in summary['failures'])
             or 'none')]
    width = max(len(r[0]) for r in rows)
    return '\n'.join(f'{name:<{width}}  {value}' for name, value in rows)
