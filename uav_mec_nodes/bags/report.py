"""A run's summary table and plots, from its bag alone (what `uav-mec run` prints and draws)."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Dict, List

import numpy as np

from uav_mec_nodes.graph import contract as c
from uav_mec_nodes.bags.io import read_bag
from uav_mec_nodes.model.slot import STATE_NAMES


def run_info(bag: Dict[str, List]):
    """The bag's /run_info (None for a bag of `ros2 bag record`, which has none)."""
    infos = bag.get(c.TOPIC_RUN_INFO, [])
    return infos[0] if infos else None


def recorded_scenario(info):
    """The ScenarioConfig a run's nodes ran, from its /run_info."""
    import yaml

    from uav_mec_nodes.config import from_dict
    return from_dict(yaml.safe_load(info.scenario_yaml))


def own_run(bag: Dict[str, List]) -> Dict[str, List]:
    """The bag with only the recorded run's messages.

    Our recorder writes nothing else, but a `ros2 bag record` of a shared domain can hold
    several runs: the run is then the one of /run_info or, without it, the one that
    published the most /slot_metrics. Messages of other runs are left out.
    """
    info = run_info(bag)
    metrics = bag.get(c.TOPIC_SLOT_METRICS, [])
    if info is not None:
        run = info.run_id
    elif metrics:
        run = Counter(getattr(m, 'run_id', '') for m in metrics).most_common(1)[0][0]
    else:
        return bag
    return {topic: [m for m in msgs if getattr(m, 'run_id', run) == run] for topic, msgs in bag.items()}


def _failure(uav: int, slot: int, mode: int, reason: str) -> dict:
    name = c.FAILURE_MODES[mode] if mode < len(c.FAILURE_MODES) else str(mode)
    out = {'uav': uav, 'slot': slot, 'mode': name, 'reason': reason}
    if name in c.LOST_MODES:   # its slot is the first it is down at the start of
        out['lost'] = True
    return out


def summarize(bag: Dict[str, List], policy: str, seed) -> dict:
    bag = own_run(bag)
    info = run_info(bag)
    scenario = recorded_scenario(info).scenario if info is not None else None
    num_uavs = scenario.num_uavs if scenario else None
    if info is not None and seed is None:
        seed = info.seed
    by_slot = {}
    for m in bag.get(c.TOPIC_SLOT_METRICS, []):
        by_slot.setdefault(m.slot, m)          # one per slot, whatever a bag holds twice
    by_task = {}
    for r in bag.get(c.TOPIC_TASK_REPORTS, []):
        by_task.setdefault((r.slot, r.user_id), r)
    # a stopped run's bag can end inside a slot: the summary is of the slots it holds whole
    users = scenario.num_users if scenario else None
    if users is None and bag.get(c.TOPIC_USERS):
        users = len(bag[c.TOPIC_USERS][0].positions)
    reported = Counter(t for t, _ in by_task)
    whole = {t for t in by_slot if users is None or reported[t] == users}
    metrics = [by_slot[t] for t in sorted(whole)]
    reports = [r for (t, _), r in by_task.items() if t in whole]
    states = Counter(r.terminal_state for r in reports)
    per_task = Counter((r.slot, r.user_id) for r in bag.get(c.TOPIC_TASK_REPORTS, []) if r.slot in whole)
    first = {}   # one failure per UAV: the first report (several nodes may report the same UAV down)
    for f in sorted(bag.get(c.TOPIC_FAILURES, []), key=lambda f: f.slot):
        if num_uavs is None or f.uav_id < num_uavs:
            first.setdefault(f.uav_id, (f.uav_id, f.slot, f.mode, f.reason))
    failures = sorted(first.values())
    tasks = len(per_task)
    parts = ('e_tot', 'reward', 'local_energy_j', 'tx_energy_j', 'flight_energy_j', 'uav_compute_energy_j',
             'migration_energy_j')
    strays = Counter()
    for s in bag.get(c.TOPIC_STRAY_INPUT, []):
        strays[s.topic] += s.count
    moves = {m.slot: m for m in bag.get(c.TOPIC_PLANT_COMMAND, []) if m.kind == c.PLANT_MOVE and m.slot in whole}
    out = dict(policy=policy, seed=seed, slots=len(metrics), tasks=tasks,
               **{p: float(sum(getattr(m, p) for m in metrics)) for p in parts},
               **{f'tasks_{name}': states.get(s, 0) for s, name in enumerate(STATE_NAMES)},
               tasks_migrated=sum(1 for r in reports if r.migrated),
               tasks_with_one_terminal_state=sum(1 for v in per_task.values() if v == 1),
               deadline_miss_rate=(states.get(1, 0) + states.get(2, 0)) / max(tasks, 1),
               failures=[_failure(u, s, m, why) for u, s, m, why in failures],
               stray_input=dict(sorted(strays.items())))
    if moves:   # the plant's commands were recorded: what the safety layer changed, in UAV-slots by kind
        from uav_mec_nodes.model.safety import count
        out['safety_interventions'] = count([f for m in moves.values() for f in m.safety_interventions])
        # live UAVs that held in place because their command never came (bags before this field: none)
        out['held_without_command'] = [{'uav': j, 'slot': t} for t, m in sorted(moves.items())
                                       for j, held in enumerate(getattr(m, 'held_without_command', ())) if held]
    if info is not None:
        out.update(run_id=info.run_id, domain_id=int(info.domain_id), slots_planned=scenario.num_slots)
    plans = bag.get(c.TOPIC_PLAN, [])
    if plans:
        times = np.array([p.decision_time_s for p in plans])
        out['decision_time_median_s'] = float(np.median(times))
        out['decision_time_p99_s'] = float(np.percentile(times, 99))
    return out


def plot(bag: Dict[str, List], out: Path, energy_weights=None) -> List[Path]:
    """trajectories.png (UAVs, users, failure points) and energy.png (per-slot energy by part).

    energy_weights: the run's config `energy` section (default: the package defaults).
    """
    import matplotlib
    matplotlib.use('Agg')
    bag = own_run(bag)
    import matplotlib.pyplot as plt
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    world = bag.get(c.TOPIC_WORLD_UAVS, [])
    users = sorted(bag.get(c.TOPIC_USERS, []), key=lambda m: m.slot)
    fig, ax = plt.subplots(figsize=(6, 6))
    uav_ids = sorted({m.uav_id for m in world})
    failed = {f.uav_id: f.slot for f in bag.get(c.TOPIC_FAILURES, [])}
    for j in uav_ids:
        track = sorted((m.slot, m.position.x, m.position.y) for m in world if m.uav_id == j)
        xy = np.array([(x, y) for _, x, y in track])
        line, = ax.plot(xy[:, 0], xy[:, 1], '-', lw=2, label=f'UAV {j}')
        ax.plot(xy[0, 0], xy[0, 1], 'o', color=line.get_color())
        if j in failed:
            at = min(max(failed[j], 0), len(xy) - 1)
            ax.plot(xy[at, 0], xy[at, 1], 'X', ms=14, color='red', label=f'UAV {j} fails (slot {failed[j]})')
    if users:
        pos = np.array([[(p.x, p.y) for p in m.positions] for m in users])
        for i in range(pos.shape[1]):
            ax.plot(pos[:, i, 0], pos[:, i, 1], '-', lw=0.8, color='gray', alpha=0.7,
                    label='users' if i == 0 else None)
    ax.set_aspect('equal')
    paths.append(_save(plt, fig, ax, 'UAV and user trajectories', 'x [m]', 'y [m]', 'best',
                       out / 'trajectories.png'))

    metrics = sorted(bag.get(c.TOPIC_SLOT_METRICS, []), key=lambda m: m.slot)
    if metrics:
        if energy_weights is None:
            from uav_mec_nodes.config import load_scenario
            energy_weights = load_scenario().energy
        w = energy_weights
        slots = np.array([m.slot for m in metrics])
        parts = [('local compute', [m.local_energy_j for m in metrics]),
                 ('upload', [m.tx_energy_j for m in metrics]),
                 (f'flight x {w.w_fly:g}', [w.w_fly * m.flight_energy_j for m in metrics]),
                 (f'UAV compute x {w.w_uav:g}', [w.w_uav * m.uav_compute_energy_j for m in metrics]),
                 (f'migration x {w.w_uav:g}', [w.w_uav * m.migration_energy_j for m in metrics])]
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.stackplot(slots, *[np.array(v) for _, v in parts], labels=[n for n, _ in parts])
        for j, s in failed.items():
            ax.axvline(s, color='red', ls='--', lw=1)
            ax.text(s, ax.get_ylim()[1] * 0.95, f' UAV {j} fails', color='red', fontsize=8, va='top')
        paths.append(_save(plt, fig, ax, 'Per-slot energy by part, eq. (27)', 'slot',
                           'weighted energy e_tot per slot [J]', 'upper left', out / 'energy.png'))
    return paths


def _save(plt, fig, ax, title: str, xlabel: str, ylabel: str, legend_loc: str, path: Path) -> Path:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, loc=legend_loc)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def summarize_run(bag_path: Path, policy: str, seed: int, out: Path, energy_weights=None
                  ) -> tuple[dict, List[Path]]:
    bag = read_bag(bag_path)
    return summarize(bag, policy, seed), plot(bag, out, energy_weights)
