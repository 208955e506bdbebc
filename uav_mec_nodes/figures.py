"""Figures of the paper (Fig. 3, 4, 5) and a failure-robustness figure, as PNG + CSV.

Reads what `uav-mec sweep` wrote under the results folder and plots whatever
is there (a point with no data yet is left out and reported), so figures can
be redrawn after each piece of a long sweep.
"""
from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Dict, List

import numpy as np

from uav_mec_nodes.experiments import (BASELINE_POLICIES, DEFAULT_SEEDS, FAILURES_ROBUSTNESS, LEARNERS,
                                       UAVS_FIG5, USERS_FIG4, iter_evals)

LABELS = {'sac-per': 'SAC-PER', 'sac': 'SAC', 'redq': 'REDQ', 'offload-all': 'offload all',
          'random-partition': 'random partitioning', 'greedy': 'per-slot greedy (reference)'}
STYLE = {'greedy': dict(color='black', linestyle='--'), 'offload-all': dict(color='tab:gray'),
         'random-partition': dict(color='tab:brown'), 'sac-per': dict(color='tab:blue'),
         'sac': dict(color='tab:orange'), 'redq': dict(color='tab:green')}


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _write_csv(path: Path, header, rows) -> None:
    with path.open('w', newline='') as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def _policy_kind(name: str) -> str:
    return name.split('-I')[0] if any(name.startswith(a + '-I') for a in LEARNERS) else name


def fig3(results: Path, out: Path) -> List[str]:
    """Evaluation reward against training steps, mean and spread over seeds, per learner."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    rows, notes, shown, conv = [], [], [], []
    for algo in LEARNERS:
        curves = {}
        for seed in DEFAULT_SEEDS:
            path = results / 'runs' / f'{algo}-I10-J3-s{seed}' / 'eval.csv'
            if path.exists():
                with path.open() as f:
                    curves[seed] = {int(r['step']): float(r['reward_mean']) for r in csv.DictReader(f)}
        if not curves:
            notes.append(f'fig3: no runs of {algo} yet')
            continue
        steps = sorted(set.intersection(*(set(c) for c in curves.values())))
        values = np.array([[curves[s][t] for t in steps] for s in curves])
        mean, std = values.mean(axis=0), values.std(axis=0)
        ax.plot(steps, mean, label=f'{LABELS[algo]} ({len(curves)} seeds)', **STYLE[algo])
        ax.fill_between(steps, mean - std, mean + std, alpha=0.2, color=STYLE[algo]['color'])
        rows += [(algo, t, m, sd, len(curves)) for t, m, sd in zip(steps, mean, std)]
        shown += [m for t, m in zip(steps, mean) if t >= 2000]
        conv.append((algo, convergence_step(steps, mean), float(np.mean(mean[-3:])), len(curves)))
    if shown:   # the first evaluation (random actions only) is far below: keep the learning visible
        span = max(shown) - min(shown)
        ax.set_ylim(min(shown) - 0.5 * span, max(shown) + 0.3 * span)
        ax.text(0.98, 0.02, 'evaluations before 2000 steps (random actions) are below the axis',
                transform=ax.transAxes, ha='right', fontsize=7)
    ax.set_xlabel('training steps (slots)')
    ax.set_ylabel('evaluation reward per episode')
    ax.set_title('Fig. 3: convergence (I=10, J=3, one failure)')
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / 'fig3_convergence.png', dpi=120)
    plt.close(fig)
    _write_csv(out / 'fig3_convergence.csv', ('algo', 'step', 'reward_mean', 'reward_std', 'seeds'), rows)
    _write_csv(out / 'fig3_convergence_steps.csv', ('algo', 'convergence_step', 'final_reward', 'seeds'), conv)
    return notes


def convergence_step(steps, mean, tolerance: float = 0.2, window: int = 3):
    """First evaluation step from which the seed-mean reward, smoothed over `window` evaluations
    (3-episode evaluations are noisy), stays within `tolerance` (relative) of the final reward
    (the mean of the last `window` evaluations)."""
    mean = np.asarray(mean, float)
    smooth = np.array([mean[max(0, k - window + 1):k + 1].mean() for k in range(len(mean))])
    final = float(np.mean(mean[-window:]))
    inside = np.abs(smooth - final) <= tolerance * abs(final)
    for k in range(len(steps)):
        if inside[k:].all():
            return int(steps[k])
    return int(steps[-1])


def _points(results: Path, x_key: str, fixed: Dict[str, int]) -> Dict[str, Dict[int, List[dict]]]:
    """policy kind -> x value -> list of eval results (several seeds for learners)."""
    out: Dict[str, Dict[int, List[dict]]] = defaultdict(lambda: defaultdict(list))
    for ev in iter_evals(results):
        if all(ev[k] == v for k, v in fixed.items()):
            out[_policy_kind(ev['policy'])][ev[x_key]].append(ev)
    return out


def _sweep_plot(results, out, name, title, x_key, xs, fixed, kinds, metric='energy_mean', ylabel=None):
    plt = _pyplot()
    data = _points(results, x_key, fixed)
    fig, ax = plt.subplots(figsize=(6, 4))
    rows, notes = [], []
    for kind in kinds:
        pts = [(x, data[kind][x]) for x in xs if data.get(kind, {}).get(x)]
        if not pts:
            notes.append(f'{name}: no evaluations of {kind} yet')
            continue
        x = [p[0] for p in pts]
        # learners: mean over seeds of each seed's mean; baselines: mean and std over episodes
        if kind in LEARNERS:
            per_seed = [[e[metric] for e in evs] for _, evs in pts]
            mean = np.array([np.mean(v) for v in per_seed])
            std = np.array([np.std(v) for v in per_seed])
            n = [len(v) for v in per_seed]
        else:
            mean = np.array([evs[0][metric] for _, evs in pts])
            std = np.array([evs[0]['energy_std'] if metric == 'energy_mean' else 0.0 for _, evs in pts])
            n = [evs[0]['episodes'] for _, evs in pts]
        ax.errorbar(x, mean, yerr=std, marker='o', capsize=3, label=LABELS[kind], **STYLE[kind])
        rows += [(kind, xi, m, sd, ni) for xi, m, sd, ni in zip(x, mean, std, n)]
    ax.set_xlabel({'users': 'number of users I', 'uavs': 'number of UAVs J',
                   'max_failures': 'UAV failures per episode (F_max)'}[x_key])
    ax.set_ylabel(ylabel or 'weighted energy e_tot per episode [J]')
    ax.set_title(title)
    if metric == 'energy_mean' and any(k == 'random-partition' for k in kinds):
        ax.set_yscale('log')
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / f'{name}.png', dpi=120)
    plt.close(fig)
    _write_csv(out / f'{name}.csv', ('policy', x_key, metric, 'std', 'n'), rows)
    return notes


def compute_cost(results: Path, out: Path) -> None:
    """cpu_time.csv: per figure, the training wall time of its runs so far (finished or not; one
    thread each) and the CPU time of its evaluations, from what the sweep wrote (a run counts in
    every figure that uses it)."""
    import json

    from uav_mec_nodes.experiments import FIGURES, plan, run_finished
    rows = []
    for figure in FIGURES:
        runs, evals = plan(figure)
        train_s, done = 0.0, 0
        for run in runs:
            path = results / 'runs' / run.name / 'train.csv'
            if path.exists():
                with path.open() as f:
                    last = list(csv.DictReader(f))[-1:]
                if last:
                    train_s += float(last[0]['wall_s'])
            done += run_finished(results / 'runs' / run.name, run.steps)
        eval_paths = [results / 'evals' / f'{e.name}.json' for e in evals]
        eval_s = sum(json.loads(p.read_text()).get('cpu_s', 0.0) for p in eval_paths if p.exists())
        rows.append((figure, done, len(runs), round(train_s), sum(p.exists() for p in eval_paths), len(evals),
                     round(eval_s)))
    _write_csv(out / 'cpu_time.csv', ('figure', 'runs_done', 'runs_planned', 'train_wall_s', 'evals_done',
                                      'evals_planned', 'eval_cpu_s'), rows)


def make_figures(results: Path, out: Path) -> List[str]:
    out.mkdir(parents=True, exist_ok=True)
    compute_cost(results, out)
    notes = fig3(results, out)
    notes += _sweep_plot(results, out, 'fig4_energy_vs_users', 'Fig. 4: energy vs users (J=3, one failure)',
                         'users', USERS_FIG4, dict(uavs=3, max_failures=1), LEARNERS + BASELINE_POLICIES)
    notes += _sweep_plot(results, out, 'fig5_energy_vs_uavs', 'Fig. 5: energy vs UAVs (I=10, one failure)',
                         'uavs', UAVS_FIG5, dict(users=10, max_failures=1), ('sac-per',) + BASELINE_POLICIES)
    kinds = ('sac-per',) + BASELINE_POLICIES
    notes += _sweep_plot(results, out, 'robustness_energy', 'Energy vs UAV failures (I=10, J=3)',
                         'max_failures', FAILURES_ROBUSTNESS, dict(users=10, uavs=3), kinds)
    notes += _sweep_plot(results, out, 'robustness_deadlines', 'Deadline misses vs UAV failures (I=10, J=3)',
                         'max_failures', FAILURES_ROBUSTNESS, dict(users=10, uavs=3), kinds,
                         metric='deadline_miss_rate', ylabel='deadline-miss rate')
    return notes
