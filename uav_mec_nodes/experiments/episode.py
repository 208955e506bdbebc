"""Run whole episodes of the environment with a policy and summarise them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import numpy as np

from uav_mec_nodes.env.uav_mec_env import UavMecEnv
from uav_mec_nodes.model import failures
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
    serving: List[np.ndarray] = field(default_factory=list)         # (I,) each user's serving UAV, per slot
    fail_slots: np.ndarray = None
    lost_slots: np.ndarray = None   # model.failures: lost between slot-1 and slot (None: none)

    def alive_at_start(self, t: int) -> np.ndarray:
        return failures.alive_at_start(self.fail_slots, t, self.lost_slots)

    def summary(self) -> Dict:
        total = {k: float(sum(s[k] for s in self.slots)) for k in ('e_tot', 'reward') + ENERGY_PARTS}
        counts = {f'tasks_{n}': int(sum(s[f'tasks_{n}'] for s in self.slots)) for n in STATE_NAMES}
        tasks = sum(counts.values())
        failed = [int(j) for j in np.flatnonzero(self.fail_slots < len(self.slots))]
        lost = [] if self.lost_slots is None else [int(j) for j in np.flatnonzero(self.lost_slots < len(self.slots))]
        return dict(policy=self.policy, seed=self.seed, slots=len(self.slots), tasks=tasks, **total, **counts,
                    tasks_migrated=int(sum(s['tasks_migrated'] for s in self.slots)),
                    ignored_migrations=int(sum(s['ignored_migrations'] for s in self.slots)),
                    safety_interventions=int(sum(s['safety_interventions'] for s in self.slots)),
                    deadline_miss_rate=(counts['tasks_late'] + counts['tasks_dropped']) / max(tasks, 1),
                    failures=[{'uav': j, 'slot': int(self.fail_slots[j])} for j in failed] +
                    [{'uav': j, 'slot': int(self.lost_slots[j]), 'lost': True} for j in lost])


def run_episode(env: UavMecEnv, policy, seed: int, on_slot: Optional[Callable[[], None]] = None) -> EpisodeLog:
    """One full episode; the policy acts on the env's decoded interface; on_slot() after each slot."""
    env.reset(seed=seed)
    policy.reset(seed)
    log = EpisodeLog(seed=seed, policy=policy.name, fail_slots=env.fail_slots.copy(),
                     lost_slots=env.lost_slots.copy())
    done = False
    while not done:
        log.uav_positions.append(env.uav_pos.copy())
        log.user_positions.append(env.users.position.copy())
        decisions, accel = policy.act(env)
        log.serving.append(np.asarray(decisions.serving_uav).copy())
        _, reward, done, _, info = env.step_decisions(decisions, accel)
        info['reward'] = reward
        log.slots.append({k: v for k, v in info.items() if not isinstance(v, np.ndarray)})
        if on_slot is not None:
            on_slot()
    return log


def summarize_episodes(env: UavMecEnv, policy, seed: int, episodes: int,
                       on_slot: Optional[Callable[[], None]] = None) -> Dict:
    """Run episodes with seeds seed..seed+episodes-1 and summarise them (uav-mec evaluate's output)."""
    summaries = [run_episode(env, policy, seed + n, on_slot).summary() for n in range(episodes)]
    energy = np.array([s['e_tot'] for s in summaries])
    tasks = sum(s['tasks'] for s in summaries)
    return dict(
        policy=policy.name, episodes=episodes, seed=seed,
        users=env.num_users, uavs=env.num_uavs, max_failures=env.cfg.failures.max_failures,
        energy_mean=float(energy.mean()), energy_std=float(energy.std(ddof=1)) if len(energy) > 1 else 0.0,
        deadline_miss_rate=sum(s['tasks_late'] + s['tasks_dropped'] for s in summaries) / tasks,
        tasks=tasks, tasks_completed=sum(s['tasks_completed'] for s in summaries),
        tasks_late=sum(s['tasks_late'] for s in summaries),
        tasks_dropped=sum(s['tasks_dropped'] for s in summaries),
        tasks_migrated=sum(s['tasks_migrated'] for s in summaries),
        failures_injected=sum(len(s['failures']) for s in summaries),
        energy_per_episode=energy.tolist())


def _failure_how(failure: dict) -> str:
    """' (mode)', with the reason where the graph detected the failure (not injected): why it counted it down."""
    if 'mode' not in failure:
        return ''
    detected = failure['mode'] in ('lease lost', 'reported by PX4') and failure.get('reason')
    return f" ({failure['mode']}: {failure['reason']})" if detected else f" ({failure['mode']})"


def _failure_when(failure: dict) -> str:
    if failure.get('lost'):   # model.failures: served slot-1 to the end, down from slot on
        return f"UAV {failure['uav']} lost before slot {failure['slot']}"
    return f"UAV {failure['uav']} in slot {failure['slot']}"


def format_summary(summary: Dict) -> str:
    """A plain-text table of one episode's summary."""
    seed = '-' if summary['seed'] is None else summary['seed']   # a bag of `ros2 bag record` has no /run_info
    slots = summary['slots']
    if summary.get('slots_planned', slots) != slots:
        slots = f"{slots} of {summary['slots_planned']} (the run stopped early)"
    rows = [('policy', summary['policy']), ('seed', seed), ('slots', slots),
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
            ('UAV failures', ', '.join(_failure_when(f) + _failure_how(f)
                                       for f in summary['failures']) or 'none')]
    if isinstance(summary.get('safety_interventions'), dict):
        changed = {k: n for k, n in summary['safety_interventions'].items() if n}
        rows.append(('safety layer interventions', ', '.join(f'{k}: {n}' for k, n in changed.items()) + ' UAV-slots'
                     if changed else 'none'))
    if 'stray_input' in summary:
        strays = summary['stray_input']
        rows.append(('stray input ignored', f"{sum(strays.values())} messages ("
                     + ', '.join(f'{t}: {n}' for t, n in strays.items()) + ')' if strays else 'none'))
    if 'decision_time_median_s' in summary:
        rows.append(('planner decision time median / p99',
                     f"{summary['decision_time_median_s'] * 1e3:.1f} / {summary['decision_time_p99_s'] * 1e3:.1f} ms"))
    width = max(len(r[0]) for r in rows)
    return '\n'.join(f'{name:<{width}}  {value}' for name, value in rows)
