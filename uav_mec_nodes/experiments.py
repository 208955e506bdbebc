"""The paper's experiments as resumable sweeps: which runs and evaluations each figure needs.

Layout under the results folder (default docs/results/):
  runs/<algo>-I<I>-J<J>-s<seed>/   one training run (train.csv, eval.csv, run.json; *.pt not in git)
  evals/<policy>-I<I>-J<J>-F<F>.json  `uav-mec evaluate --json` output of one policy at one point, on the
                                  held-out test episodes (evaluation.py: seeds 5000000.., 30 episodes); a
                                  learner is its run's best.pt (its best validation evaluation)
A run counts as finished when its eval.csv holds a row at its final step; a
sweep skips finished runs and evaluations, resumes interrupted runs from their
resume.pt, and can be stopped and restarted at any time. A run being trained
holds runs/<name>/training.lock (the trainer's pid), so several sweeps of the
same figure can share the cores: each trains the runs no live sweep holds.
Learners are retrained per point (fixed I and J per network; no padding).
"""
from __future__ import annotations

import csv
import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

from uav_mec_nodes.config import ScenarioConfig, load_scenario
from uav_mec_nodes.evaluation import TEST_EPISODES, TEST_SEED

ORBIT = 'orbit-'   # a learner whose motion action is the orbit guidance (modes.motion_action = orbit)
PAPER_LEARNERS = ('sac-per', 'sac', 'redq', 'sac-per-ua')   # sac-per-ua: ours, see learners/sac.py
LEARNERS = PAPER_LEARNERS + (ORBIT + 'sac-per', ORBIT + 'sac-per-ua')
BASELINE_POLICIES = ('offload-all', 'random-partition', 'greedy', 'flying-greedy')
# the flying reference with the per-slot optimum's offloading: about 0.5 s a slot at I=10, so the sweeps
# evaluate it at the default point (I=10, J=3, one failure) only
OPTIMUM_POLICIES = ('flying-optimal',)
OPTIMUM_POINT = (10, 3, 1)
NAMED_POLICIES = BASELINE_POLICIES + OPTIMUM_POLICIES   # evaluated by name, no training run
FIGURES = ('fig3', 'fig4', 'fig5', 'robustness')
# learners per figure: Fig. 5 retrains per J, so only the paper's SAC-PER and ours; the robustness
# figure re-evaluates the I=10, J=3 runs of Fig. 3 under more failures, so it costs no training; the
# orbit learners are trained at I=10, J=3 only
FIGURE_LEARNERS = dict(fig3=LEARNERS, fig4=PAPER_LEARNERS, fig5=('sac-per', 'sac-per-ua'), robustness=LEARNERS)
TRAIN_EVAL_EPISODES = 5   # validation episodes per training-time evaluation (runs before issue 13 used 3)
USERS_FIG4 = (4, 6, 8, 10, 12)
UAVS_FIG5 = (2, 3, 4, 5)
FAILURES_ROBUSTNESS = (0, 1, 2, 3)
DEFAULT_SEEDS = (0, 1, 2)


@dataclass(frozen=True)
class RunSpec:
    algo: str
    users: int
    uavs: int
    seed: int
    steps: int

    @property
    def name(self) -> str:
        return f'{self.algo}-I{self.users}-J{self.uavs}-s{self.seed}'


@dataclass(frozen=True)
class EvalSpec:
    policy: str          # a baseline name, or a RunSpec name (its best.pt)
    users: int
    uavs: int
    failures: int        # F_max = failures drawn per episode
    episodes: int = TEST_EPISODES
    seed: int = TEST_SEED

    @property
    def name(self) -> str:
        return f'{self.policy}-I{self.users}-J{self.uavs}-F{self.failures}'


def scenario(users: int, uavs: int, failures: int = 1, base: Optional[ScenarioConfig] = None) -> ScenarioConfig:
    cfg = base or load_scenario()
    return cfg.replace(scenario__num_users=users, scenario__num_uavs=uavs, failures__max_failures=failures,
                       failures__num_failures=failures)


def run_setup(run: RunSpec):
    """(learner config, scenario) of a run: an orbit- learner is its algorithm with the orbit motion action."""
    from uav_mec_nodes.learners.sac import LearnerConfig
    cfg = scenario(run.users, run.uavs)
    if run.algo.startswith(ORBIT):
        return LearnerConfig.for_algo(run.algo[len(ORBIT):]), cfg.replace(modes__motion_action='orbit')
    return LearnerConfig.for_algo(run.algo), cfg


def plan(figure: str, seeds=DEFAULT_SEEDS, steps: int = 20_000, algos=LEARNERS,
         baselines=NAMED_POLICIES) -> Tuple[List[RunSpec], List[EvalSpec]]:
    """The training runs and evaluations a figure needs; `algos` keeps only those learners' runs,
    `baselines` only those policies without training."""
    from uav_mec_nodes.errors import UserInputError
    for flag, given, allowed in (('--algos', algos, LEARNERS), ('--baselines', baselines, NAMED_POLICIES)):
        unknown = sorted(set(given) - set(allowed))
        if unknown:
            raise UserInputError(f'{flag}: must be among {list(allowed)}, got {unknown}')
    runs: List[RunSpec] = []
    evals: List[EvalSpec] = []
    if figure == 'fig3':
        runs = [RunSpec(a, 10, 3, s, steps) for s in seeds for a in FIGURE_LEARNERS[figure]]
    elif figure == 'fig4':
        for users in USERS_FIG4:
            point = [RunSpec(a, users, 3, s, steps) for a in FIGURE_LEARNERS[figure] for s in seeds]
            runs += point
            evals += [EvalSpec(r.name, users, 3, 1) for r in point]
            evals += [EvalSpec(p, users, 3, 1) for p in BASELINE_POLICIES]
    elif figure == 'fig5':
        for uavs in UAVS_FIG5:
            point = [RunSpec(a, 10, uavs, s, steps) for a in FIGURE_LEARNERS[figure] for s in seeds]
            runs += point
            evals += [EvalSpec(r.name, 10, uavs, 1) for r in point]
            evals += [EvalSpec(p, 10, uavs, 1) for p in BASELINE_POLICIES]
    elif figure == 'robustness':
        point = [RunSpec(a, 10, 3, s, steps) for a in FIGURE_LEARNERS[figure] for s in seeds]
        runs = point
        for f in FAILURES_ROBUSTNESS:
            evals += [EvalSpec(r.name, 10, 3, f) for r in point]
            evals += [EvalSpec(p, 10, 3, f) for p in BASELINE_POLICIES]
    else:
        raise UserInputError(f'--figure: must be one of {list(FIGURES)}, got {figure!r}')
    if figure != 'fig3':
        evals += [EvalSpec(p, *OPTIMUM_POINT) for p in OPTIMUM_POLICIES]
    dropped = {r.name for r in runs if r.algo not in algos} | (set(NAMED_POLICIES) - set(baselines))
    return [r for r in runs if r.name not in dropped], [e for e in evals if e.policy not in dropped]


def run_finished(folder: Path, steps: int) -> bool:
    path = folder / 'eval.csv'
    if not path.exists():
        return False
    with path.open() as f:
        return any(int(row['step']) >= steps for row in csv.DictReader(f))


LOCK_NAME = 'training.lock'


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:     # alive, owned by someone else
        pass
    return True


@contextmanager
def run_lock(folder: Path):
    """Yield True if this process now holds folder's training lock, False if a live process does.

    A lock left by a process that died (kill -9, a crash) is taken over.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                holder = int(path.read_text().strip() or 0)
            except (OSError, ValueError):
                holder = 0
            if holder > 0 and _pid_alive(holder):
                yield False
                return
            path.unlink(missing_ok=True)   # stale: its process is gone
            continue
        with os.fdopen(fd, 'w') as f:
            f.write(f'{os.getpid()}\n')
        try:
            yield True
        finally:
            path.unlink(missing_ok=True)
        return
    yield False     # another sweep took the stale lock between our two tries


def train_missing_runs(runs: List[RunSpec], results: Path, progress: bool = True, log=print,
                       label: str = 'sweep') -> Tuple[float, int]:
    """Train (or resume) each unfinished run that no other live sweep holds; returns (CPU s, runs trained)."""
    from uav_mec_nodes.learners.trainer import TrainSettings, train
    spent_s, trained = 0.0, 0
    for run in runs:
        folder = results / 'runs' / run.name
        if run_finished(folder, run.steps):
            continue
        with run_lock(folder) as held:
            if not held:
                log(f'[{label}] {run.name}: another sweep is training it, skipping')
                continue
            if run_finished(folder, run.steps):    # another sweep finished it between our check and the lock
                continue
            resume = (folder / 'resume.pt').exists()
            stale = list(folder.glob('*.csv'))
            if not resume and stale:
                # logs of a run whose resume state is gone (e.g. a fresh clone: *.pt are not in git)
                log(f'[{label}] {run.name}: no resume.pt, starting it again')
                for path in stale:
                    path.unlink()
            log(f'[{label}] training {run.name} ({run.steps} steps)')
            start = time.process_time()
            train(*run_setup(run),
                  TrainSettings(steps=run.steps, seed=run.seed, eval_every=1000, eval_episodes=TRAIN_EVAL_EPISODES,
                                checkpoint_every=5000, progress=progress),
                  folder, resume=resume)
            spent_s += time.process_time() - start
            trained += 1
    return spent_s, trained


def sweep(figure: str, results: Path, seeds=DEFAULT_SEEDS, steps: int = 20_000, progress: bool = True,
          log=print, evals_only: bool = False, algos=LEARNERS, baselines=NAMED_POLICIES) -> dict:
    """Train the missing runs and do the missing evaluations of one figure; returns CPU seconds spent.

    evals_only: train nothing; evaluate the baselines and the learners whose runs are finished.
    algos: only these learners (e.g. the cheap ones first; REDQ costs about 3x a SAC run).
    baselines: only these policies without training (e.g. leave out the slow greedy ones for now).
    """
    runs, evals = plan(figure, seeds, steps, algos, baselines)
    spent = dict(train_s=0.0, eval_s=0.0, runs_trained=0, evals_done=0)
    if not evals_only:
        spent['train_s'], spent['runs_trained'] = train_missing_runs(runs, results, progress, log, figure)
    for ev in evals:
        path = results / 'evals' / f'{ev.name}.json'
        if path.exists():
            continue
        if ev.policy not in NAMED_POLICIES and not run_finished(results / 'runs' / ev.policy, steps):
            log(f'[{figure}] skipping {ev.name}: its training run is not finished')
            continue
        if ev.policy not in NAMED_POLICIES and not any((results / 'runs' / ev.policy / f).exists()
                                                          for f in ('best.pt', 'checkpoint.pt')):
            # weights are not in git: a clone evaluates only the runs it trained itself
            log(f'[{figure}] skipping {ev.name}: its run\'s weights are not here (delete its eval.csv to retrain)')
            continue
        log(f'[{figure}] evaluating {ev.name} ({ev.episodes} episodes)')
        start = time.process_time()
        result = evaluate_policy(ev, results)
        spent['eval_s'] += time.process_time() - start
        result['cpu_s'] = time.process_time() - start
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix('.json.tmp')    # a sweep beside this one may read it: write it whole
        tmp.write_text(json.dumps(result, indent=1) + '\n')
        tmp.replace(path)
        spent['evals_done'] += 1
    return spent


def evaluate_policy(ev: EvalSpec, results: Path) -> dict:
    from uav_mec_nodes.env import UavMecEnv
    from uav_mec_nodes.episode import summarize_episodes
    from uav_mec_nodes.policies import make_policy
    name = ev.policy
    if name not in NAMED_POLICIES:   # the run's choice on validation episodes (a run from before best.pt: its last)
        run = results / 'runs' / ev.policy
        name = str(run / 'best.pt' if (run / 'best.pt').exists() else run / 'checkpoint.pt')
    env = UavMecEnv(scenario(ev.users, ev.uavs, ev.failures))
    result = summarize_episodes(env, make_policy(name), seed=ev.seed, episodes=ev.episodes)
    result['policy'] = ev.policy
    return result


def iter_evals(results: Path) -> Iterator[dict]:
    for path in sorted((results / 'evals').glob('*.json')):
        yield json.loads(path.read_text())
