"""Sweep plans and figures from (synthetic) results: what is there is drawn, what is missing is said."""
import csv
import json

from uav_mec_nodes.experiments import plan, run_finished
from uav_mec_nodes.figures import make_figures


def test_plans_cover_the_paper_figures():
    runs, evals = plan('fig3', seeds=(0, 1, 2), steps=100)
    assert {r.algo for r in runs} == {'sac-per', 'sac', 'redq'} and len(runs) == 9
    runs, evals = plan('fig4', seeds=(0,), steps=100)
    assert {e.users for e in evals} == {4, 6, 8, 10, 12} and {'greedy', 'offload-all'} <= {e.policy for e in evals}
    _, evals = plan('robustness', seeds=(0,), steps=100)
    assert {e.failures for e in evals} == {0, 1, 2, 3}


def test_figures_from_synthetic_results(tmp_path):
    for algo, level in (('sac-per', -10.0), ('sac', -20.0)):
        for seed in (0, 1):
            run = tmp_path / 'runs' / f'{algo}-I10-J3-s{seed}'
            run.mkdir(parents=True)
            with (run / 'eval.csv').open('w', newline='') as f:
                w = csv.writer(f)
                w.writerow(['step', 'reward_mean'])
                w.writerows([[1000, level - seed], [2000, level + 1 - seed]])
    assert run_finished(tmp_path / 'runs' / 'sac-I10-J3-s0', 2000)
    assert not run_finished(tmp_path / 'runs' / 'sac-I10-J3-s0', 3000)
    (tmp_path / 'evals').mkdir()
    for users, energy in ((4, 2.0), (10, 6.0)):
        for name in ('greedy', 'offload-all'):
            (tmp_path / 'evals' / f'{name}-I{users}-J3-F1.json').write_text(json.dumps(dict(
                policy=name, users=users, uavs=3, max_failures=1, energy_mean=energy, energy_std=0.1,
                deadline_miss_rate=0.1, episodes=10)))
    notes = make_figures(tmp_path, tmp_path / 'out')
    for name in ('fig3_convergence', 'fig4_energy_vs_users', 'fig5_energy_vs_uavs', 'robustness_energy'):
        assert (tmp_path / 'out' / f'{name}.png').stat().st_size > 1000
    rows = list(csv.DictReader((tmp_path / 'out' / 'fig3_convergence.csv').open()))
    sac_per = [r for r in rows if r['algo'] == 'sac-per']
    assert [float(r['reward_mean']) for r in sac_per] == [-10.5, -9.5] and sac_per[0]['seeds'] == '2'
    fig4 = list(csv.DictReader((tmp_path / 'out' / 'fig4_energy_vs_users.csv').open()))
    assert {(r['policy'], r['users']) for r in fig4} == {('greedy', '4'), ('greedy', '10'), ('offload-all', '4'),
                                                         ('offload-all', '10')}
    assert any('redq' in n for n in notes)


def test_convergence_step_by_hand():
    from uav_mec_nodes.figures import convergence_step
    steps = [1000, 2000, 3000, 4000, 5000, 6000]
    # smoothed (window 3): -300, -200, -137, -40.3, -10.33, -10; final -10; within 20% (2): from 5000 on
    assert convergence_step(steps, [-300, -100, -11, -10, -10, -10]) == 5000
    # smoothed: ..., -43.3, -13.3, -10: the 5000 point is 3.3 off, so only the last one
    assert convergence_step(steps, [-300, -100, -20, -10, -10, -10]) == 6000
    assert convergence_step(steps, [-10] * 6) == 1000
