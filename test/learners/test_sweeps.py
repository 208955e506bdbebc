"""Sweeps on Ray give the files of the same runs done one after the other: on a local Ray of two
workers, on a two-node `ray.cluster_utils.Cluster`, and when a worker is killed in the middle of a run."""
import csv
import json
import os
import signal
import subprocess
import time

import pytest
import torch

from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.experiments.plans import EvalSpec, RunSpec, evaluate_policy, run_setup
from uav_mec_nodes.learners.trainer import TrainSettings, train
from uav_mec_nodes.experiments.sweeps import sweep_plan

ray = pytest.importorskip('ray')    # a dependency (requirements.txt); skipped only outside the project's venv

OVERRIDES = dict(learning_starts=100, batch_size=64)
# a flat run and a set run (trained on episodes of every size of its range), 300 steps each
RUNS = [RunSpec('sac-per', 4, 3, 0, 300), RunSpec('set-sac-per-ua', 10, 3, 1, 300)]
EVALS = [EvalSpec(RUNS[0].name, 4, 3, 1, episodes=2), EvalSpec(RUNS[1].name, 6, 2, 1, episodes=2),
         EvalSpec(RUNS[1].name, 12, 5, 1, episodes=2), EvalSpec('offload-all', 4, 3, 1, episodes=2)]
NOT_COMPARED = {'wall_s', 'steps_per_s', 'cpu_s'}   # time, not numbers of the run


def _train_alone(run: RunSpec, folder, **overrides):
    learner, cfg = run_setup(run, **overrides)
    episodes = 8 if learner.network == 'set' else 5
    train(learner, cfg, TrainSettings(steps=run.steps, seed=run.seed, eval_every=1000, eval_episodes=episodes,
                                      progress=False), folder)


@pytest.fixture(scope='module')
def one_after_the_other(tmp_path_factory):
    """The reference: each run trained in one go in this process, then each evaluation."""
    root = tmp_path_factory.mktemp('sequential')
    for run in RUNS:
        _train_alone(run, root / 'runs' / run.name, **OVERRIDES)
    for ev in EVALS:
        path = None if ev.policy == 'offload-all' else root / 'runs' / ev.policy / 'best.pt'
        (root / ev.folder).mkdir(exist_ok=True)
        (root / ev.folder / f'{ev.name}.json').write_text(json.dumps(evaluate_policy(ev, path)))
    return root


def _rows(path):
    with open(path) as f:
        return [{k: v for k, v in row.items() if k not in NOT_COMPARED} for row in csv.DictReader(f)]


def assert_same_results(a, b, runs=RUNS, evals=EVALS):
    for run in runs:
        for name in ('train.csv', 'eval.csv'):
            rows = _rows(a / 'runs' / run.name / name)
            assert rows and rows == _rows(b / 'runs' / run.name / name), (run.name, name)
        for name in ('best.pt', 'checkpoint.pt'):
            mine = torch.load(a / 'runs' / run.name / name, weights_only=True)['actor']
            theirs = torch.load(b / 'runs' / run.name / name, weights_only=True)['actor']
            assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    for ev in evals:
        mine = json.loads((a / ev.folder / f'{ev.name}.json').read_text())
        theirs = json.loads((b / ev.folder / f'{ev.name}.json').read_text())
        assert {k: v for k, v in mine.items() if k not in NOT_COMPARED} == \
            {k: v for k, v in theirs.items() if k not in NOT_COMPARED}


@pytest.fixture
def no_ray():
    yield
    ray.shutdown()


def test_a_sweep_on_two_local_workers_equals_the_runs_one_after_the_other(tmp_path, one_after_the_other, no_ray):
    lines = []
    # pieces of 120 steps: each run goes through the workers in three tasks, resumed from its resume.pt
    done = sweep_plan(RUNS, EVALS, tmp_path, workers=2, chunk_steps=120, learner_overrides=OVERRIDES,
                      progress=lines.append)
    assert (done.runs_trained, done.pieces, done.evals_done) == (2, 6, 4)
    assert_same_results(tmp_path, one_after_the_other)
    assert lines[0].startswith('[sweep] runs: 0 done, 2 running, 0 queued; evaluations: 0 done, 0 running, 4 queued')
    assert lines[-1] == '[sweep] runs: 2 done, 0 running, 0 queued; evaluations: 4 done, 0 running, 0 queued'
    # finished: a second sweep does nothing and writes nothing
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob('*') if p.is_file()}
    again = sweep_plan(RUNS, EVALS, tmp_path, workers=2, chunk_steps=120, learner_overrides=OVERRIDES)
    assert (again.runs_trained, again.pieces, again.evals_done) == (0, 0, 0)
    assert before == {p: p.stat().st_mtime_ns for p in tmp_path.rglob('*') if p.is_file()}


def test_a_sweep_on_a_two_node_cluster_equals_the_runs_one_after_the_other(tmp_path, one_after_the_other, no_ray):
    from ray.cluster_utils import Cluster
    cluster = Cluster(initialize_head=True, head_node_args=dict(num_cpus=1))
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        done = sweep_plan(RUNS, EVALS, tmp_path, address=cluster.address, chunk_steps=120,
                          learner_overrides=OVERRIDES)
        nodes = [n for n in ray.nodes() if n['Alive']]
        # one CPU a node: two tasks at once ran on two nodes
        assert len(nodes) == 2 and all(n['Resources'].get('CPU') == 1 for n in nodes)
        assert (done.runs_trained, done.evals_done) == (2, 4)
        assert_same_results(tmp_path, one_after_the_other)
    finally:
        ray.shutdown()
        cluster.shutdown()


def _descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            with open(f'/proc/{pid}/stat') as f:
                pid = int(f.read().rsplit(')', 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
    return False


def test_a_killed_worker_s_run_resumes_and_finishes(tmp_path):
    """SIGKILL the worker training a run in the middle of the sweep: Ray runs the piece again from the
    bytes the driver gave it, and the run's files equal those of an uninterrupted run."""
    from helpers import UAV_MEC
    run = RunSpec('sac', 10, 3, 0, 600)
    proc = subprocess.Popen([UAV_MEC, 'sweep', '--figure', 'fig3', '--algos', 'sac', '--seeds', '0', '--steps', '600',
                             '--learning-starts', '100', '--chunk-steps', '120', '--workers', '1', '--results',
                             str(tmp_path), '--no-progress'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    killed = None
    try:
        deadline = time.monotonic() + 240
        while killed is None and time.monotonic() < deadline and proc.poll() is None:
            # after the first piece is written, the next one is being trained: kill its worker
            if (tmp_path / 'runs' / run.name / 'resume.pt').exists():
                pids = subprocess.run(['pgrep', '-f', 'ray::train_piece'], capture_output=True, text=True).stdout.split()
                pids = [p for p in pids if _descends_from(int(p), proc.pid)]   # this sweep's Ray, no other
                if pids:
                    killed = int(pids[0])
                    os.kill(killed, signal.SIGKILL)
            time.sleep(0.05)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert killed is not None, 'no worker was training when the first piece was written'
    assert proc.returncode == 0, err
    assert 'fig3: trained 1 run(s)' in out
    _train_alone(run, tmp_path / 'alone', learning_starts=100)
    for name in ('train.csv', 'eval.csv'):
        assert _rows(tmp_path / 'runs' / run.name / name) == _rows(tmp_path / 'alone' / name)
    mine = torch.load(tmp_path / 'runs' / run.name / 'checkpoint.pt', weights_only=True)['actor']
    theirs = torch.load(tmp_path / 'alone' / 'checkpoint.pt', weights_only=True)['actor']
    assert all(torch.equal(mine[k], theirs[k]) for k in mine)


def test_ctrl_c_stops_a_sweep_in_one_line_and_the_same_command_goes_on(tmp_path):
    from helpers import UAV_MEC
    run = RunSpec('sac', 10, 3, 1, 480)
    args = [UAV_MEC, 'sweep', '--figure', 'fig3', '--algos', 'sac', '--seeds', '1', '--steps', '480',
            '--learning-starts', '100', '--chunk-steps', '120', '--workers', '1', '--results', str(tmp_path),
            '--no-progress']
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not (tmp_path / 'runs' / run.name / 'resume.pt').exists() and time.monotonic() < deadline:
            assert proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and err.strip().splitlines()[-1].startswith(
        'uav-mec sweep: interrupted by SIGINT during fig3; every finished piece'), err
    assert not (tmp_path / 'runs' / run.name / 'eval.csv').exists() or \
        '480,' not in (tmp_path / 'runs' / run.name / 'eval.csv').read_text()
    again = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and 'fig3: trained 1 run(s)' in again.stdout, again.stderr
    _train_alone(run, tmp_path / 'alone', learning_starts=100)
    for name in ('train.csv', 'eval.csv'):
        assert _rows(tmp_path / 'runs' / run.name / name) == _rows(tmp_path / 'alone' / name)


def test_sweep_flags_are_checked_before_ray_starts(tmp_path):
    with pytest.raises(UserInputError, match=r'--chunk-steps: must be >= 1, got 0'):
        sweep_plan(RUNS, EVALS, tmp_path, chunk_steps=0)
    with pytest.raises(UserInputError, match=r'--workers: must be >= 1, got 0'):
        sweep_plan(RUNS, EVALS, tmp_path, workers=0)
    assert not ray.is_initialized()


# the driver of a sweep on host A of two (test/hosts.py): this file's runs and evaluations
CLUSTER_DRIVER = '''
import json, sys, time
sys.path.insert(0, sys.argv[3])
import ray
from test_sweeps import EVALS, OVERRIDES, RUNS
from uav_mec_nodes.experiments.sweeps import start_ray, sweep_plan
start_ray(sys.argv[2], None)
deadline = time.monotonic() + 60   # B's raylet in the cluster first: else A may train every piece alone
while sum(n["Alive"] for n in ray.nodes()) < 2 and time.monotonic() < deadline:
    time.sleep(0.2)
done = sweep_plan(RUNS, EVALS, __import__("pathlib").Path(sys.argv[1]), address=sys.argv[2], chunk_steps=120,
                  learner_overrides=OVERRIDES)
nodes = {n["NodeManagerAddress"]: n["Alive"] for n in ray.nodes()}
print(json.dumps(dict(runs=done.runs_trained, evals=done.evals_done, pieces=done.pieces, nodes=nodes)))
'''


def test_a_sweep_on_a_cluster_of_two_hosts_survives_the_worker_host_s_cut_link(tmp_path, one_after_the_other):
    """Head and driver on host A, a worker on host B (network namespaces joined by a veth pair); B's link is
    cut while it trains a piece: the sweep finishes on A with the files of the runs done one after the other."""
    import secrets
    import sys
    from pathlib import Path
    from hosts import two_hosts
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, RAY_AUTH_MODE='token', RAY_AUTH_TOKEN=secrets.token_hex(16), RAY_USAGE_STATS_ENABLED='0',
               # the head counts a silent node dead after about 2 s (defaults: about 30 s)
               RAY_health_check_period_ms='500', RAY_health_check_failure_threshold='4',
               RAY_health_check_timeout_ms='1000', OMP_NUM_THREADS='1')
    with two_hosts(tmp_path) as (a, b, cut):
        head = a.popen([bin_dir / 'ray', 'start', '--head', '--node-ip-address', a.address, '--port', '6379',
                        '--num-cpus', '1', '--include-dashboard', 'false', '--block'], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(5)
        worker = b.popen([bin_dir / 'ray', 'start', '--address', f'{a.address}:6379', '--node-ip-address',
                          b.address, '--num-cpus', '1', '--block'], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
        driver = a.popen([sys.executable, '-c', CLUSTER_DRIVER, tmp_path / 'cluster', f'{a.address}:6379',
                          Path(__file__).parent], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 240
        training_on_b, since = False, {}
        while not training_on_b and time.monotonic() < deadline and driver.poll() is None:
            # a piece that has trained on B for 1.5 s (past its booking): cut B off now
            now = time.monotonic()
            since = {pid: since.get(pid, now) for pid in b.processes() if 'ray::train_piece' in _cmdline(pid)}
            training_on_b = any(now - t >= 1.5 for t in since.values())
            time.sleep(0.1)
        cut()
        cut_at = time.monotonic()
        try:
            out, err = driver.communicate(timeout=600)
        finally:
            driver.kill()
        print(f'the sweep ended {time.monotonic() - cut_at:.0f} s after the cut')
        assert head.poll() is None   # B's raylet ends itself once it cannot reach the head; the head goes on
    assert training_on_b, f'host B never trained a piece; the driver said: {err[-1500:]}'
    assert driver.returncode == 0, err[-3000:]
    done = json.loads(out.strip().splitlines()[-1])
    assert (done['runs'], done['evals']) == (2, 4)
    assert done['nodes'] == {a.address: True, b.address: False}   # B counted dead, its pieces run again on A
    assert f'node {b.address} is lost; its piece runs again elsewhere' in out
    assert_same_results(tmp_path / 'cluster', one_after_the_other)


def _cmdline(pid: int) -> str:
    try:
        return open(f'/proc/{pid}/cmdline').read().replace('\0', ' ')
    except OSError:
        return ''
