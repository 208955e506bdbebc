"""A sweep on one Ray worker against the same sweep on two: the same numbers, and the wall-time ratio.

    .venv/bin/python bench/ray_sweep.py [--runs 4] [--steps 1200] [--chunk-steps 600]

A plan of `--runs` SAC-PER training runs (I=10, J=3, seeds 0..runs-1; learning
from step 200, 64-unit networks, so a run is a few tens of seconds) and one
held-out evaluation of each is swept twice through `uav_mec_nodes.experiments.sweeps`, on a
local Ray of one worker, then on a fresh local Ray of two, each into its own
folder. Before any timing is printed, every train.csv, eval.csv and policy
file and every evaluation of the two sweeps must be equal (the wall-clock
columns aside). Printed: the wall time of each sweep (Ray's start included, as
a user waits for it), and the speed-up 1-worker time / 2-worker time, which
is at most the number of free cores (this machine: 2).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault('OMP_NUM_THREADS', '1')

import torch  # noqa: E402

from uav_mec_nodes.experiments.plans import EvalSpec, RunSpec  # noqa: E402
from uav_mec_nodes.experiments.sweeps import sweep_plan  # noqa: E402

OVERRIDES = dict(learning_starts=200, hidden=(64, 64), batch_size=64)
CLOCK = {'wall_s', 'steps_per_s', 'cpu_s'}


def _rows(path: Path):
    with path.open() as f:
        return [{k: v for k, v in r.items() if k not in CLOCK} for r in csv.DictReader(f)]


def same_results(a: Path, b: Path, runs, evals) -> bool:
    for run in runs:
        for name in ('train.csv', 'eval.csv'):
            if _rows(a / 'runs' / run.name / name) != _rows(b / 'runs' / run.name / name):
                return False
        x = torch.load(a / 'runs' / run.name / 'best.pt', weights_only=True)['actor']
        y = torch.load(b / 'runs' / run.name / 'best.pt', weights_only=True)['actor']
        if not all(torch.equal(x[k], y[k]) for k in x):
            return False
    for ev in evals:
        x, y = (json.loads((r / ev.folder / f'{ev.name}.json').read_text()) for r in (a, b))
        if {k: v for k, v in x.items() if k not in CLOCK} != {k: v for k, v in y.items() if k not in CLOCK}:
            return False
    return True


def timed_sweep(workers: int, folder: Path, runs, evals, chunk_steps: int) -> float:
    import ray
    start = time.perf_counter()
    try:
        sweep_plan(runs, evals, folder, workers=workers, chunk_steps=chunk_steps, learner_overrides=OVERRIDES)
    finally:
        ray.shutdown()
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=4)
    parser.add_argument('--steps', type=int, default=1200)
    parser.add_argument('--chunk-steps', type=int, default=600)
    parser.add_argument('--episodes', type=int, default=3, help='test episodes of each evaluation')
    args = parser.parse_args(argv)
    runs = [RunSpec('sac-per', 10, 3, seed, args.steps) for seed in range(args.runs)]
    evals = [EvalSpec(r.name, 10, 3, 1, episodes=args.episodes) for r in runs]
    with tempfile.TemporaryDirectory(prefix='ray-sweep-bench-') as tmp:
        one = timed_sweep(1, Path(tmp) / 'one', runs, evals, args.chunk_steps)
        two = timed_sweep(2, Path(tmp) / 'two', runs, evals, args.chunk_steps)
        equal = same_results(Path(tmp) / 'one', Path(tmp) / 'two', runs, evals)
    print(f'{args.runs} runs x {args.steps} steps (pieces of {args.chunk_steps}) + {len(evals)} evaluations '
          f'on {os.cpu_count()} cores')
    print(f'same numbers on 1 and 2 workers: {"yes" if equal else "NO"}')
    print(f'wall time: 1 worker {one:.1f} s, 2 workers {two:.1f} s, speed-up 1/2 = {one / two:.2f}x')
    return 0 if equal else 1


if __name__ == '__main__':
    raise SystemExit(main())
