"""`uav-mec evaluate`, `slot`, `profiles` and `run` end to end."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

UAV_MEC = str(Path(sys.prefix) / 'bin' / 'uav-mec')
REPO_ROOT = Path(__file__).resolve().parents[1]


def uav_mec(*args, check=True):
    out = subprocess.run([UAV_MEC, *args], capture_output=True, text=True, timeout=300)
    if check:
        assert out.returncode == 0, out.stderr
    return out


@pytest.mark.parametrize('policy', ['offload-all', 'random-partition'])
def test_evaluate_is_reproducible(policy):
    args = ['evaluate', '--policy', policy, '--episodes', '2', '--seed', '5', '--json']
    first, second = json.loads(uav_mec(*args).stdout), json.loads(uav_mec(*args).stdout)
    assert first == second
    for key in ('policy', 'episodes', 'seed', 'energy_mean', 'energy_std', 'deadline_miss_rate',
                'tasks_completed', 'tasks_migrated', 'tasks_dropped', 'failures_injected'):
        assert key in first
    assert first['tasks'] == 2 * 60 * 10
    assert first['failures_injected'] == 2


def test_evaluate_bad_flags():
    out = uav_mec('evaluate', '--policy', 'offload-all', '--uavs', '2', '--max-failures', '3', check=False)
    assert out.returncode == 2 and 'failures.max_failures' in out.stderr


def test_slot_example_file():
    result = json.loads(uav_mec('slot', str(REPO_ROOT / 'examples' / 'slot_failure.json')).stdout)
    tasks = result['tasks']
    assert [t['state'] for t in tasks] == ['completed'] * 3
    migrated = tasks[1]
    assert migrated['migrated'] and migrated['computing_uav'] == 2 and migrated['migration_time_s'] > 0
    assert tasks[2]['tx_power_w'] == 0.1
    parts = sum(tasks[1][k] for k in ('local_time_s', 'tx_time_s', 'migration_time_s', 'uav_time_s'))
    assert parts == pytest.approx(tasks[1]['latency_s'])
    assert result['totals']['ignored_migrations'] == 1  # user 2 named a target, its UAV did not fail


def test_slot_bad_file(tmp_path):
    path = tmp_path / 'bad.json'
    spec = json.loads((REPO_ROOT / 'examples' / 'slot_failure.json').read_text())
    spec['users'][0]['dnn'] = 'resnet'
    path.write_text(json.dumps(spec))
    out = uav_mec('slot', str(path), check=False)
    assert out.returncode == 2 and "users[0].dnn: must be one of ['alexnet', 'vgg16', 'vgg13']" in out.stderr


def test_profiles_json():
    rows = json.loads(uav_mec('profiles', '--json').stdout)
    assert len(rows) == 8 + 16 + 13


def test_run_writes_summary(tmp_path):
    out = uav_mec('run', '--seed', '2', '--out', str(tmp_path))
    assert 'weighted energy e_tot' in out.stdout
    summary = json.loads((tmp_path / 'summary.json').read_text())
    assert summary['tasks'] == summary['tasks_completed'] + summary['tasks_late'] + summary['tasks_dropped'] == 600
    assert len(summary['failures']) == 1
