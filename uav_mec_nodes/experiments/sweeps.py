"""Sweeps on Ray: every training run and evaluation of a figure is a Ray task.

The driver (this module, in the `uav-mec sweep` process) owns the results
folder; tasks own nothing. A training run goes through the cluster in pieces
(`chunk_steps` environment steps, ending at a resume point): each piece is a
task that gets the run's files as bytes, trains on from its resume.pt in a
temporary folder of whatever node it lands on, and returns the files, which
the driver writes into runs/<name>/ (each file whole, by rename). So nodes
need no shared disk, a killed worker costs at most one piece (Ray runs the
task again from the same bytes, and the trainer's resume is exact), and a
sweep stopped at any point resumes from what the driver wrote. Evaluations
are tasks that return their JSON. Every task declares one CPU and runs torch
on one thread, so the numbers of a run do not depend on where or beside what
it ran: one worker or many, one machine or a cluster, give the same files.

`ray.init()` starts a local Ray on this machine by default (`workers` CPUs);
`address` joins a running cluster (`ray start --head` on one machine, `ray
start --address HEAD:6379` on the others, each with this package installed).
"""
from __future__ import annotations

import json
import os
import signal
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.experiments.plans import (NAMED_POLICIES, TRAIN_EVAL_EPISODES, EvalSpec, RunSpec, evaluate_policy,
                                       last_wall_s, plan, policy_file, run_finished, run_setup)

RUN_FILES = ('run.json', 'train.csv', 'eval.csv', 'checkpoint.pt', 'best.pt', 'resume.pt')   # resume.pt last
CHUNK_STEPS = 5_000
ONE_THREAD = {'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1', 'OPENBLAS_NUM_THREADS': '1'}


def train_piece(run: RunSpec, files: Dict[str, bytes], chunk_steps: int, learner_overrides: dict) -> Dict[str, bytes]:
    """Train `run` on from the state in `files` (empty: from the start) to its next resume point at least
    chunk_steps later (or its end); the run's files after it."""
    from uav_mec_nodes.learners.trainer import TrainSettings, train
    with tempfile.TemporaryDirectory(prefix='uav-mec-run-') as tmp:
        folder = Path(tmp) / run.name
        folder.mkdir()
        for name, data in files.items():
            (folder / name).write_bytes(data)
        learner, cfg = run_setup(run, **learner_overrides)
        episodes = 8 if learner.network == 'set' else TRAIN_EVAL_EPISODES   # a set run: one per Fig. 4/5 size
        train(learner, cfg, TrainSettings(steps=run.steps, seed=run.seed, eval_every=1000, eval_episodes=episodes,
                                          checkpoint_every=chunk_steps, chunk_steps=chunk_steps, progress=False),
              folder, resume='resume.pt' in files)
        return {name: (folder / name).read_bytes() for name in RUN_FILES if (folder / name).exists()}


def evaluate_piece(ev: EvalSpec, policy: Optional[bytes]) -> dict:
    """One evaluation; a learner's policy file comes as bytes (nodes share no disk)."""
    start = time.process_time()
    if policy is None:
        result = evaluate_policy(ev)
    else:
        with tempfile.TemporaryDirectory(prefix='uav-mec-eval-') as tmp:
            path = Path(tmp) / 'policy.pt'
            path.write_bytes(policy)
            result = evaluate_policy(ev, path)
    result['cpu_s'] = time.process_time() - start
    return result


class PieceBook:
    """Where each task started (a Ray actor on the driver's node): a node that drops off the network is
    counted dead by Ray within seconds, but a task that ran there can wait minutes for Ray to run it again
    (seen: 7 min after a cut link); the driver runs its pieces again itself."""

    def __init__(self):
        self.nodes: Dict[int, str] = {}

    def started(self, key: int, node_id: str) -> None:
        self.nodes[key] = node_id

    def where(self) -> Dict[int, str]:
        return dict(self.nodes)


def _booked(book, key: int, piece: Callable, *args):
    """Run `piece` as a task, first telling the book on which node."""
    import ray
    ray.get(book.started.remote(key, ray.get_runtime_context().get_node_id()))   # booked before it works
    return piece(*args)


def _write_whole(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + '.tmp')
    tmp.write_bytes(data)
    tmp.replace(path)


def read_run(folder: Path) -> Dict[str, bytes]:
    """A run's files for its next piece; a run with logs but no resume.pt (a fresh clone: *.pt are not in
    git) starts again."""
    if not (folder / 'resume.pt').exists():
        return {}
    return {name: (folder / name).read_bytes() for name in RUN_FILES if (folder / name).exists()}


@dataclass
class SweepResult:
    runs_trained: int = 0
    pieces: int = 0
    evals_done: int = 0
    train_s: float = 0.0     # wall time of the runs' training (their train.csv), this sweep's part
    eval_s: float = 0.0      # CPU time of the evaluations done
    skipped: List[str] = field(default_factory=list)


def start_ray(address: Optional[str], workers: Optional[int]):
    """Ray: join the cluster at `address`, or start a local one of `workers` CPUs (default: all)."""
    import ray
    if workers is not None and workers < 1:
        raise UserInputError(f'--workers: must be >= 1, got {workers}')
    if ray.is_initialized():
        return ray
    kwargs = dict(include_dashboard=False, log_to_driver=False, logging_level='ERROR',
                  runtime_env={'env_vars': ONE_THREAD})
    if address:
        if workers is not None:
            raise UserInputError('--workers: only for a local Ray; a cluster has the CPUs its nodes declared')
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise UserInputError(f'--address: no Ray cluster at {address} ({first}; a cluster started with '
                                 f'RAY_AUTH_MODE=token needs it and its token here too)') from None
    else:
        # 'local': a Ray of its own, even where RAY_ADDRESS or a `ray start` cluster is on this machine
        ray.init(address='local', num_cpus=workers or os.cpu_count() or 1, **kwargs)
    return ray


class _Progress:
    def __init__(self, label: str, log: Callable[[str], None]):
        self.label, self.log, self.last = label, log, None

    def show(self, runs: dict, evals: dict) -> None:
        line = (f"[{self.label}] runs: {runs['done']} done, {runs['running']} running, {runs['queued']} queued; "
                f"evaluations: {evals['done']} done, {evals['running']} running, {evals['queued']} queued")
        if line != self.last:
            self.last = line
            self.log(line)


def sweep(figure: str, results: Path, seeds=(0, 1, 2), steps: int = 20_000, *, address: Optional[str] = None,
          workers: Optional[int] = None, evals_only: bool = False, algos=None, baselines=None,
          chunk_steps: int = CHUNK_STEPS, learner_overrides: Optional[dict] = None, set_steps: Optional[int] = None,
          log: Callable[[str], None] = print, progress: Optional[Callable[[str], None]] = None) -> SweepResult:
    """Train the missing runs and do the missing evaluations of one figure on Ray."""
    from uav_mec_nodes.experiments.plans import LEARNERS, SET_STEPS
    runs, evals = plan(figure, seeds, steps, tuple(algos or LEARNERS), tuple(baselines or NAMED_POLICIES),
                       set_steps or SET_STEPS)
    return sweep_plan(runs, evals, results, label=figure, address=address, workers=workers, evals_only=evals_only,
                      chunk_steps=chunk_steps, learner_overrides=learner_overrides or {}, log=log, progress=progress)


def sweep_plan(runs: List[RunSpec], evals: List[EvalSpec], results: Path, *, label: str = 'sweep',
               address: Optional[str] = None, workers: Optional[int] = None, evals_only: bool = False,
               chunk_steps: int = CHUNK_STEPS, learner_overrides: Optional[dict] = None,
               log: Callable[[str], None] = print, progress: Optional[Callable[[str], None]] = None) -> SweepResult:
    """Run `runs` and `evals` (those not finished yet) as Ray tasks; `log` gets what the user must know
    (a run started again), `progress` the progress line whenever it changes."""
    if chunk_steps < 1:
        raise UserInputError(f'--chunk-steps: must be >= 1, got {chunk_steps}')
    overrides = learner_overrides or {}
    for run in runs:        # a bad setting fails here, once, not in every task
        run_setup(run, **overrides)
    finished_runs = {r.name for r in runs if run_finished(results / 'runs' / r.name, r.steps)}
    todo_runs = [] if evals_only else [r for r in runs if r.name not in finished_runs]
    todo_evals = [e for e in evals if not (results / e.folder / f'{e.name}.json').exists()]
    out = SweepResult()
    if not todo_runs and not todo_evals:
        return out
    ray = start_ray(address, workers)
    capacity = max(1, int(ray.cluster_resources().get('CPU', 1)))
    tasks = _Tasks(ray)
    in_flight: Dict = {}            # object ref -> ('run', RunSpec, wall_s before) or ('eval', EvalSpec)
    queued_runs = list(todo_runs)
    queued_evals = list(todo_evals)
    line = _Progress(label, progress or (lambda text: None))

    def ready_eval() -> Optional[EvalSpec]:
        for ev in queued_evals:
            if ev.policy in NAMED_POLICIES or ev.policy in finished_runs:
                return ev
        return None

    def submit() -> None:
        while len(in_flight) < capacity:
            if queued_runs:
                run = queued_runs.pop(0)
                folder = results / 'runs' / run.name
                files = read_run(folder)
                stale = [] if files else list(folder.glob('*.csv'))
                if stale:       # logs of a run whose resume state is gone (a fresh clone: *.pt are not in git)
                    log(f'[{label}] {run.name}: no resume.pt, starting it again')
                    for path in stale:
                        path.unlink()
                in_flight[tasks.submit(train_piece, run, files, chunk_steps, overrides)] = \
                    ('run', run, last_wall_s(folder))
                continue
            ev = ready_eval()
            if ev is None:
                return
            queued_evals.remove(ev)
            path = policy_file(ev, results)
            if path is not None and not path.exists():
                out.skipped.append(f"{ev.name}: its run's weights are not here (delete its eval.csv to retrain)")
                continue
            in_flight[tasks.submit(evaluate_piece, ev, None if path is None else path.read_bytes())] = ('eval', ev)

    def show() -> None:
        kinds = [v[0] for v in in_flight.values()]
        line.show(dict(done=len(finished_runs & {r.name for r in todo_runs}), running=kinds.count('run'),
                       queued=len(queued_runs)),
                  dict(done=out.evals_done, running=kinds.count('eval'), queued=len(queued_evals)))

    # signals set a flag while the sweep waits on Ray; in-flight pieces are then cancelled (their runs
    # resume from the last written resume.pt)
    with _signals_as_flag() as stopped:
        submit()
        show()
        while in_flight:
            if stopped:
                for ref in in_flight:
                    ray.cancel(ref, force=True)
                raise Interrupted(stopped[0])
            done, _ = ray.wait(list(in_flight), num_returns=1, timeout=0.2)
            for ref, node in tasks.on_lost_nodes([r for r in in_flight if r not in done]):   # a done one stays done
                what = in_flight.pop(ref)
                log(f'[{label}] {what[1].name}: node {node} is lost; its piece runs again elsewhere')
                in_flight[tasks.again(ref)] = what
            if done:
                tasks.done(done[0])
                _collect(ray, done[0], in_flight.pop(done[0]), results, out, finished_runs, queued_runs)
                submit()
                show()
    for ev in queued_evals:
        out.skipped.append(f'{ev.name}: its training run is not finished')
    return out


class _Tasks:
    """Pieces as Ray tasks that book where they run, and run again those of a node Ray counts dead."""

    CHECK_S = 1.0    # how often the cluster's nodes are looked at

    def __init__(self, ray):
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
        self.ray = ray
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        self.book = ray.remote(num_cpus=0)(PieceBook).options(scheduling_strategy=here).remote()
        self.task = ray.remote(num_cpus=1, max_retries=3)(_booked)
        self.keys: Dict = {}        # object ref in flight -> (key, piece, args); args hold a run's files
        self.submitted = 0
        self.dead: set = set()
        self.checked = time.monotonic()

    def submit(self, piece: Callable, *args):
        key, self.submitted = self.submitted, self.submitted + 1
        ref = self.task.options(name=piece.__name__).remote(self.book, key, piece, *args)   # ray::train_piece
        self.keys[ref] = (key, piece, args)
        return ref

    def done(self, ref) -> None:
        """A finished task's arguments (a run's files as bytes) are not kept for the rest of the sweep."""
        self.keys.pop(ref, None)

    def again(self, ref):
        _, piece, args = self.keys.pop(ref)
        self.ray.cancel(ref, force=True)
        return self.submit(piece, *args)

    def on_lost_nodes(self, in_flight: List) -> List:
        """(ref, node address) of each task in flight that started on a node Ray now counts dead."""
        if time.monotonic() - self.checked < self.CHECK_S:
            return []
        self.checked = time.monotonic()
        newly = {n['NodeID']: n['NodeManagerAddress'] for n in self.ray.nodes()
                 if not n['Alive'] and n['NodeID'] not in self.dead}
        if not newly:
            return []
        self.dead |= set(newly)
        where = self.ray.get(self.book.where.remote())
        return [(ref, newly[where[self.keys[ref][0]]]) for ref in in_flight
                if where.get(self.keys[ref][0]) in newly]


class Interrupted(Exception):
    """The sweep was stopped by a signal (SIGINT, SIGTERM, SIGHUP); what finished is written."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def _signals_as_flag():
    """SIGINT, SIGTERM and SIGHUP only set a flag while the sweep waits on Ray: a KeyboardInterrupt raised
    inside Ray's C++ wait can be lost (seen: a Ctrl-C'd sweep ran to its end), a flag cannot."""
    caught: List[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return
    names = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    old = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in names}
    try:
        yield caught
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def _collect(ray, ref, what: tuple, results: Path, out: SweepResult, finished_runs: set, queued_runs: list) -> None:
    """Write what one finished task returned: a run's files (and queue its next piece) or an evaluation."""
    kind, spec, *rest = what
    try:
        value = ray.get(ref)
    except ray.exceptions.RayTaskError as exc:     # the task's own error (a bug or bad input): stop
        cause = exc.as_instanceof_cause()
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[-1]
        raise UserInputError(f'sweep: {spec.name} failed on a worker: {first}') from None
    if kind == 'run':
        folder = results / 'runs' / spec.name
        folder.mkdir(parents=True, exist_ok=True)
        for name in RUN_FILES:      # resume.pt last: a sweep stopped in between resumes from the old one
            if name in value:
                _write_whole(folder / name, value[name])
        out.pieces += 1
        out.train_s += last_wall_s(folder) - rest[0]
        if run_finished(folder, spec.steps):
            finished_runs.add(spec.name)
            out.runs_trained += 1
        else:
            queued_runs.insert(0, spec)     # its next piece, before runs not started
    else:
        path = results / spec.folder / f'{spec.name}.json'
        path.parent.mkdir(parents=True, exist_ok=True)
        out.eval_s += value['cpu_s']
        _write_whole(path, (json.dumps(value, indent=1) + '\n').encode())
        out.evals_done += 1
