"""The benchmark scripts run, and their reference implementations agree with the package."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'bench'))

import env_throughput  # noqa: E402

from uav_mec_nodes.config import load_scenario  # noqa: E402
from uav_mec_nodes.env import UavMecEnv  # noqa: E402
from uav_mec_nodes.model.slot import evaluate_slot  # noqa: E402


def test_loop_reference_equals_vectorised_slot_with_failures():
    cfg = load_scenario().replace(modes__resource_allocation='paper', scenario__num_users=25,
                                  failures__model='schedule', failures__schedule=((0, 0),))
    env = UavMecEnv(cfg)
    env.reset(seed=4)
    rng = np.random.default_rng(4)
    for _ in range(5):
        decisions, accel = env.decode_action(rng.uniform(-1, 1, env.action_dim))
        state, fly = env.slot_inputs()
        vector = evaluate_slot(cfg, env.arrays, decisions, state, fly).e_tot
        assert np.isclose(env_throughput.loop_slot_e_tot(cfg, env.arrays, decisions, state, fly), vector,
                          rtol=1e-9)
        env.step_decisions(decisions, accel)


def _cells(row: str):
    """A markdown table row's cells as numbers."""
    return [float(c) if '.' in c else int(c) for c in (c.strip() for c in row.strip().strip('|').split('|'))]


def test_env_throughput_quick_run(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / 'bench' / 'env_throughput.py'), '--quick', '--seconds',
                          '0.02', '--batch', '2'], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    row = [line for line in out.stdout.splitlines() if line.startswith('|') and '10 |' in line and
           len(line.split('|')) == 12]
    assert len(row) == 1
    # measured rates, and ratios that are those rates' (as printed: 1 or 2 decimals)
    i, j, loop, vector, env, batched, improved, *ratios = _cells(row[0])
    assert (i, j) == (10, 3) and min(loop, vector, env, batched, improved) > 0
    for printed, rate, decimals in zip(ratios, (vector, env, batched), (1, 2, 1)):
        assert abs(printed - rate / loop) <= 0.5 * 10 ** -decimals + 1e-9, (printed, rate / loop)
    # the improved step against the numpy solvers it replaced: same e_tot (checked by the script), both timed
    row = [line for line in out.stdout.splitlines() if line.startswith('| ') and len(line.split('|')) == 7]
    assert 'target at I=10: 0.5 ms a step' in out.stdout and len(row) == 2, out.stdout   # header and I=10
    i, compiled, reference, ratio, met = [c.strip() for c in row[1].strip().strip('|').split('|')]
    assert i == '10' and float(compiled) > 0 and float(reference) > 0 and met in ('yes', 'no')
    assert abs(float(ratio) - float(reference) / float(compiled)) <= 0.05 + 0.01 * float(ratio)


def test_greedy_latency_quick_run(tmp_path):
    """Same decisions as the greedy it replaced on every slot (the script exits otherwise), both timed."""
    out = subprocess.run([sys.executable, str(ROOT / 'bench' / 'greedy_latency.py'), '--quick', '--slots', '3'],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = [_row(line) for line in out.stdout.splitlines() if line.startswith('| ') and 'policy' not in line]
    assert [r[:3] for r in rows] == [['greedy', '10', '3'], ['flying-greedy', '10', '3']], out.stdout
    for name, _, _, new, reference, ratio, met in rows:
        assert float(new) > 0 and float(reference) > 0
        assert abs(float(ratio) - float(reference) / float(new)) <= 0.05 + 0.01 * float(ratio)
        assert met == (('yes' if float(new) <= 5.0 else 'no') if name == 'greedy' else '-')


def _row(line: str) -> list:
    return [c.strip() for c in line.strip().strip('|').split('|')]


def test_learner_updates_quick_run(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / 'bench' / 'learner_updates.py'), '--updates', '3', '--fill',
                          '300', '--loop-steps', '20', '--set-updates', '2'], capture_output=True, text=True,
                         cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr
    assert '| our SAC-PER |' in out.stdout and '| SB3 SAC | ' in out.stdout and '| our REDQ' in out.stdout
    # the training loops: each ratio is of the rates printed beside it
    loop_part, set_part = out.stdout.split('training loop', 1)[1].split('set networks', 1)
    loops = [_row(line) for line in loop_part.splitlines() if line.startswith('| ') and 'steps/s' not in line]
    assert [r[0] for r in loops] == ['SB3 SAC learn()', 'our SAC', 'our SAC-PER'], out.stdout
    for name, rate, ratio in loops:
        assert float(rate) > 0 and abs(float(ratio) - float(rate) / float(loops[0][1])) <= 0.01
    # the set networks: every learner, and a run's update time is its updates times the time of one
    sets = [_row(line) for line in set_part.splitlines() if line.startswith('| set ')]
    assert [r[0] for r in sets] == ['set sac-per', 'set sac', 'set redq', 'set sac-per-ua'], out.stdout
    for _, ms, ratio, updates, seconds in sets:
        assert float(ms) > 0 and float(ratio) > 0
        assert abs(float(seconds) - int(updates) * float(ms) / 1e3) <= 0.5 + 0.01 * float(seconds)
    assert int(sets[2][3]) == 2 * int(sets[0][3])   # REDQ: two updates a step


def test_optimal_slot_quick_run(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / 'bench' / 'optimal_slot.py'), '--slots', '1', '--sizes', '4'],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    row = [line for line in out.stdout.splitlines() if line.startswith('| 4 |')]
    assert len(row) == 1 and len(row[0].split('|')) == 12
    cells = [c.strip() for c in row[0].strip('|').split('|')]
    solve_median, solve_max = (float(x) for x in cells[1].split('/'))
    greedy_median, ratio = float(cells[2]), float(cells[3])
    assert 0 < solve_median <= solve_max and greedy_median > 0
    # the ratio is of the measured times (printed rounded to 2 decimals, so within their rounding)
    lo = (solve_median - 0.005) / (greedy_median + 0.005)
    hi = (solve_median + 0.005) / max(greedy_median - 0.005, 1e-9)
    assert lo - 0.05 <= ratio <= hi + 0.05, (ratio, lo, hi)
    assert all(float(x) > 0 for x in cells[7].split('/'))
    assert cells[8:] == ['0', '-']   # never worse than greedy (it starts from greedy's decisions)


def test_ray_sweep_quick_run(tmp_path):
    """One and two Ray workers: the same numbers (the script exits 1 otherwise) and a speed-up printed."""
    out = subprocess.run([sys.executable, str(ROOT / 'bench' / 'ray_sweep.py'), '--runs', '2', '--steps', '240',
                          '--chunk-steps', '120', '--episodes', '1'],
                         capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert 'same numbers on 1 and 2 workers: yes' in out.stdout
    assert re.search(r'wall time: 1 worker \d+\.\d s, 2 workers \d+\.\d s, speed-up 1/2 = \d\.\d\dx', out.stdout)


def test_foreign_traffic_quick_run(tmp_path):
    """A quiet and a flooded episode: the script exits 1 unless their numbers are equal."""
    out = subprocess.run([sys.executable, str(ROOT / 'bench' / 'foreign_traffic.py'), '--slots', '4', '--repeats',
                          '1', '--rate', '50', '--out', str(tmp_path / 'runs')],
                         capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    sent = int(re.search(r'sent (\d+) messages', out.stdout).group(1))
    assert sent > 0
    quiet = re.search(r'\| quiet \(reference\) \| ([\d.]+) \| 1.00 \|', out.stdout)
    flooded = re.search(r'\| flooded by another run \| ([\d.]+) \| ([\d.]+) \|', out.stdout)
    assert quiet and flooded, out.stdout
    assert float(flooded.group(2)) == pytest.approx(float(flooded.group(1)) / float(quiet.group(1)), abs=0.02)
    assert "the flooded run's per-slot e_tot equal the quiet run's" in out.stdout


def test_main_job_bench_quick_run(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / 'bench' / 'planner_latency.py'), '--main-only', '--main-slots',
                          '3', '--repeats', '1'], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr
    rows = {r[0]: r[1:] for r in (_row(line) for line in out.stdout.splitlines() if line.startswith('| ')
                                  and not line.startswith('|---') and 'wall time' not in line)}
    assert len(rows) == 5, out.stdout
    now, before = float(rows['one process'][0]), float(rows['one process, default QoS event handlers (before)'][0])
    assert float(rows['one process, --content-filters off'][0]) > 0
    # the ratio is printed from the unrounded times: what the rounded ones (to 0.01 s) can give differs by this
    rounding = before / now * (0.005 / before + 0.005 / now) + 0.005
    assert now > 0 and before > 0 and abs(float(rows['one process'][1]) - before / now) <= rounding
    assert rows['one process'][2:] == ['2.0', 'yes' if now <= 2.0 else 'no']
    assert float(rows['one process per node'][0]) > 0 and rows['one process per node'][2] == '5.0'
