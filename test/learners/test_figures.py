"""Sweep plans and figures from (synthetic) results: what is there is drawn, what is missing is said."""
import csv
import json

import pytest

from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.experiments.plans import plan, run_finished
from uav_mec_nodes.experiments.figures import make_figures


def test_plans_cover_the_paper_figures():
    runs, evals = plan('fig3', seeds=(0, 1, 2), steps=100)
    assert {r.algo for r in runs} == {'sac-per', 'sac', 'redq', 'sac-per-ua', 'orbit-sac-per', 'orbit-sac-per-ua'}
    assert len(runs) == 18
    runs, evals = plan('fig4', seeds=(0,), steps=100)
    assert {e.users for e in evals} == {4, 6, 8, 10, 12}
    assert {'greedy', 'offload-all', 'flying-greedy'} <= {e.policy for e in evals}
    # held-out test episodes, but for the set policies' second evaluation on the per-point networks' episodes
    assert all(e.seed == 5_000_000 and e.episodes == 30 for e in evals if e.folder == 'evals')
    assert {e.policy.rsplit('-s', 1)[0] for e in evals if e.folder != 'evals'} == \
        {'set-sac-per', 'set-sac', 'set-redq', 'set-sac-per-ua'}
    _, evals = plan('robustness', seeds=(0,), steps=100)
    assert {e.failures for e in evals} == {0, 1, 2, 3}
    runs, _ = plan('fig5', seeds=(0, 1), steps=100, algos=('sac-per', 'sac-per-ua'))
    assert {r.algo for r in runs} == {'sac-per', 'sac-per-ua'} and {r.uavs for r in runs} == {2, 3, 4, 5}
    assert len(runs) == 16


def test_a_set_policy_is_one_run_per_seed_evaluated_at_every_point():
    fig4_runs, fig4_evals = plan('fig4', seeds=(0, 1, 2), steps=100, set_steps=50)
    fig5_runs, fig5_evals = plan('fig5', seeds=(0, 1, 2), steps=100, set_steps=50)
    set4 = [r for r in fig4_runs if r.algo.startswith('set-')]
    assert {r.name for r in set4} == {f'set-{a}-s{s}' for a in ('sac-per', 'sac', 'redq', 'sac-per-ua')
                                      for s in (0, 1, 2)}
    assert {r.steps for r in set4} == {50} and set(set4) == {r for r in fig5_runs if r.algo.startswith('set-')}
    for evals, points in ((fig4_evals, {(u, 3) for u in (4, 6, 8, 10, 12)}),
                          (fig5_evals, {(10, j) for j in (2, 3, 4, 5)})):
        for run in set4:
            mine = [e for e in evals if e.policy == run.name]
            # each point on the held-out test episodes, and on the per-point networks' episodes (seeds 0-9)
            assert {(e.users, e.uavs) for e in mine if e.folder == 'evals'} == points
            assert {(e.users, e.uavs) for e in mine if e.folder == 'evals-seed0x10'} == points
    assert not [r for r in plan('fig3', seeds=(0,), steps=100)[0] if r.algo.startswith('set-')]


def test_robustness_reuses_the_fig3_runs_and_the_set_runs():
    runs, evals = plan('robustness', seeds=(0, 1, 2), steps=100, set_steps=50)
    fig3_runs, _ = plan('fig3', seeds=(0, 1, 2), steps=100)
    fig4_runs, _ = plan('fig4', seeds=(0, 1, 2), steps=100, set_steps=50)
    assert set(runs) == set(fig3_runs) | {r for r in fig4_runs if r.algo.startswith('set-')} and len(runs) == 30
    assert {r for r in fig4_runs if r.users == 10} <= set(runs)
    per_level = {f: {e.policy for e in evals if e.failures == f} - {'flying-optimal'} for f in (0, 1, 2, 3)}
    assert all(policies == per_level[0] for policies in per_level.values())
    # the optimum's reference costs about 0.5 s a slot: the default point only
    assert {(e.users, e.uavs, e.failures) for e in evals if e.policy == 'flying-optimal'} == {(10, 3, 1)}
    assert {r.name for r in runs} <= per_level[0]


def test_plan_keeps_only_the_chosen_learners():
    runs, evals = plan('fig4', seeds=(0, 1), steps=100, algos=('sac',))
    assert {r.algo for r in runs} == {'sac'} and len(runs) == 10
    learner_evals = {e.policy for e in evals} - {'greedy', 'offload-all', 'random-partition', 'flying-greedy',
                                                 'steady-greedy', 'flying-optimal'}
    assert learner_evals == {r.name for r in runs}
    assert {e.policy for e in evals} >= {'greedy', 'offload-all', 'random-partition'}
    _, evals = plan('fig5', seeds=(0,), steps=100, baselines=('offload-all', 'flying-greedy'))
    assert {e.policy for e in evals} - {r.name for r in plan('fig5', seeds=(0,), steps=100)[0]} == \
        {'offload-all', 'flying-greedy'}
    with pytest.raises(UserInputError, match=r"--baselines: must be among .*got \['hover'\]"):
        plan('fig5', baselines=('hover',))
    with pytest.raises(UserInputError, match=r"--algos: must be among \['sac-per', 'sac', 'redq', 'sac-per-ua', "
                                             r"'orbit-sac-per', 'orbit-sac-per-ua', 'set-sac-per', 'set-sac', "
                                             r"'set-redq', 'set-sac-per-ua'\], "
                                             r"got \['ppo'\]"):
        plan('fig4', algos=('sac', 'ppo'))


def test_figures_from_synthetic_results(tmp_path):
    for algo, level in (('sac-per', -10.0), ('sac', -20.0)):
        for seed in (0, 1):
            run = tmp_path / 'runs' / f'{algo}-I10-J3-s{seed}'
            run.mkdir(parents=True)
            with (run / 'eval.csv').open('w', newline='') as f:
                w = csv.writer(f)
                w.writerow(['step', 'reward_mean', 'energy_mean_j', 'deadline_miss_rate'])
                w.writerows([[1000, level - seed, 9.0, 0.5], [2000, level + 1 - seed, 7.0, 0.25]])
    assert run_finished(tmp_path / 'runs' / 'sac-I10-J3-s0', 2000)
    assert not run_finished(tmp_path / 'runs' / 'sac-I10-J3-s0', 3000)
    (tmp_path / 'evals').mkdir()
    for users, energy in ((4, 2.0), (10, 6.0)):
        for name in ('greedy', 'offload-all'):
            (tmp_path / 'evals' / f'{name}-I{users}-J3-F1.json').write_text(json.dumps(dict(
                policy=name, users=users, uavs=3, max_failures=1, energy_mean=energy, energy_std=0.1,
                deadline_miss_rate=0.1, episodes=3, energy_per_episode=[energy - 0.1, energy + 0.1, energy])))
    (tmp_path / 'evals' / 'flying-greedy-I4-J3-F1.json').write_text(json.dumps(dict(
        policy='flying-greedy', users=4, uavs=3, max_failures=1, energy_mean=1.8, energy_std=0.1,
        deadline_miss_rate=0.1, episodes=3, energy_per_episode=[1.7, 1.9, 1.8])))
    notes = make_figures(tmp_path, tmp_path / 'out')
    for name in ('fig3_convergence', 'fig4_energy_vs_users', 'fig5_energy_vs_uavs', 'robustness_energy'):
        assert (tmp_path / 'out' / f'{name}.png').stat().st_size > 1000
    rows = list(csv.DictReader((tmp_path / 'out' / 'fig3_convergence.csv').open()))
    sac_per = [r for r in rows if r['algo'] == 'sac-per']
    assert [float(r['reward_mean']) for r in sac_per] == [-10.5, -9.5] and sac_per[0]['seeds'] == '2'
    fig4 = list(csv.DictReader((tmp_path / 'out' / 'fig4_energy_vs_users.csv').open()))
    assert {(r['policy'], r['users']) for r in fig4} == {('greedy', '4'), ('greedy', '10'), ('offload-all', '4'),
                                                         ('offload-all', '10'), ('flying-greedy', '4')}
    assert any('redq' in n for n in notes)
    tables = (tmp_path / 'out' / 'tables.md').read_text()
    assert '| sac-per-I10-J3-s1 | 2000 | 8.000 | 37.50% |' in tables          # mean of the last (two) evaluations
    assert '| greedy | 2.000 ± 0.100 | - | - | 6.000 ± 0.100 | - |' in tables   # Fig. 4, I=4..12
    # paired by episode: greedy is 0.2 J above the flying reference in each, so the interval is that point
    assert '| greedy | +0.200 [+0.200, +0.200] | - | - | - | - |' in tables
    # a learner evaluated at no point of a figure has no row there, and is named under its tables
    assert '| sac-per (seeds' not in tables and '| set-redq |' not in tables
    assert '\nNo evaluation on these episodes: sac-per, sac, redq, sac-per-ua (per-point runs' in tables
    assert '\nNot evaluated yet: set-sac-per, set-sac, set-redq, set-sac-per-ua.\n' in tables


def _train_csv(folder, wall_s):
    folder.mkdir(parents=True)
    (folder / 'train.csv').write_text(f'step,wall_s\n100,{wall_s / 2}\n200,{wall_s}\n')


def test_compute_counts_every_set_run_once_with_the_first_ones_against_issue_22s_budget(tmp_path):
    from uav_mec_nodes.experiments.figures import compute_cost, results_tables
    _train_csv(tmp_path / 'runs' / 'sac-per-I4-J3-s0', 3000.0)      # a per-point run of Fig. 4
    _train_csv(tmp_path / 'runs' / 'sac-per-I10-J2-s0', 1000.0)     # and one of Fig. 5
    _train_csv(tmp_path / 'runs' / 'set-sac-s1', 250.0)             # a set run: in Fig. 4, 5 and robustness
    (tmp_path / 'evals').mkdir()
    (tmp_path / 'evals' / 'set-sac-s1-I10-J3-F2.json').write_text(json.dumps(dict(
        policy='set-sac-s1', users=10, uavs=3, max_failures=2, energy_mean=5.0, energy_std=0.1,
        deadline_miss_rate=0.0, episodes=2, energy_per_episode=[4.9, 5.1], cpu_s=7.0)))
    earlier = tmp_path / 'issue14-set-runs'
    _train_csv(earlier / 'runs' / 'set-sac-per-s0', 600.0)
    (earlier / 'evals').mkdir()
    (earlier / 'evals' / 'set-sac-per-s0-I4-J3-F1.json').write_text(json.dumps(dict(cpu_s=5.0)))
    imitation = tmp_path / 'imitation' / 'dev-s0'      # a behaviour-cloning run counts too
    imitation.mkdir(parents=True)
    (imitation / 'imitate.csv').write_text('update,fit_loss,wall_s\n500,0.3,40.0\n1000,0.2,60.4\n')
    rows = {r[0]: r[1:] for r in compute_cost(tmp_path)}
    assert rows['fig4'][2] == 3000 and rows['fig5'][2] == 1000
    assert rows['fig4 set'][2] == rows['fig5 set'][2] == rows['robustness set'][2] == 250
    # Fig. 4: 5 points x 2 episode sets; Fig. 5: 3 more points x 2; robustness: 3 more failure levels
    assert rows['set: all figures'] == (0, 12, 250, 1, 12 * (10 + 6 + 3), 7)
    assert rows['set: issue 14'] == (1, 1, 600, 1, 1, 5)
    assert rows['set: imitation'] == (1, 1, 60, 0, 0, 0)
    assert rows['set: all training'][2:4] == (910, 2)
    # a quarter of fig4 and fig5's per-point runs: 1000 s, of which 910 s are spent
    assert 'All set-policy training so far: 910 s of wall time, 91% of issue 22\'s budget (1000 s' \
        in results_tables(tmp_path)


def test_convergence_step_by_hand():
    from uav_mec_nodes.experiments.figures import convergence_step
    steps = [1000, 2000, 3000, 4000, 5000, 6000]
    # smoothed (window 3): -300, -200, -137, -40.3, -10.33, -10; final -10; within 20% (2): from 5000 on
    assert convergence_step(steps, [-300, -100, -11, -10, -10, -10]) == 5000
    # smoothed: ..., -43.3, -13.3, -10: the 5000 point is 3.3 off, so only the last one
    assert convergence_step(steps, [-300, -100, -20, -10, -10, -10]) == 6000
    assert convergence_step(steps, [-10] * 6) == 1000


def test_readme_result_tables_are_those_of_docs_results():
    from pathlib import Path

    from uav_mec_nodes.experiments.figures import readme_tables, results_tables
    root = Path(__file__).resolve().parents[2]
    assert readme_tables(root / 'docs' / 'learners.md') == results_tables(root / 'docs' / 'results'), \
        'docs/learners.md result tables are stale: run `uav-mec figures --readme docs/learners.md`'


def test_update_readme_replaces_only_the_marked_block(tmp_path):
    from uav_mec_nodes.experiments.figures import README_BEGIN, README_END, readme_tables, update_readme
    readme = tmp_path / 'README.md'
    readme.write_text(f'# x\nbefore\n{README_BEGIN}\nold table\n{README_END}\nafter\n')
    update_readme(readme, '| a |\n|---|\n| 1 |\n')
    update_readme(readme, '| a |\n|---|\n| 2 |\n')
    text = readme.read_text()
    assert text.startswith('# x\nbefore\n') and text.endswith(f'{README_END}\nafter\n') and 'old' not in text
    assert readme_tables(readme) == '| a |\n|---|\n| 2 |\n'
    readme.write_text('no markers\n')
    with pytest.raises(UserInputError, match='--readme'):
        update_readme(readme, 'x')


def test_set_policy_against_the_per_point_networks_pairs_by_seed_and_episode(tmp_path):
    from uav_mec_nodes.experiments.figures import set_vs_per_point
    (tmp_path / 'evals-seed0x10').mkdir()
    (tmp_path / 'previous-protocol-evals').mkdir()
    for seed in (0, 1, 2):
        per_point = [4.0 + 0.1 * e + seed for e in range(10)]
        for algo, shift in (('sac-per', 0.1), ('sac-per-ua', 0.3)):    # the set policy: +0.1 J and +0.3 J
            (tmp_path / 'previous-protocol-evals' / f'{algo}-I6-J3-s{seed}-I6-J3-F1.json').write_text(
                json.dumps(dict(energy_per_episode=per_point)))
            (tmp_path / 'evals-seed0x10' / f'set-{algo}-s{seed}-I6-J3-F1.json').write_text(
                json.dumps(dict(energy_per_episode=[v + shift for v in per_point])))
    (tmp_path / 'evals').mkdir()
    for seed in (0, 1, 2):     # the orbit learners at I=10, J=3, on the test episodes: the set policy 1 J above
        energies = [5.0 + 0.01 * e for e in range(30)]
        (tmp_path / 'evals' / f'orbit-sac-per-I10-J3-s{seed}-I10-J3-F1.json').write_text(
            json.dumps(dict(energy_per_episode=energies)))
        (tmp_path / 'evals' / f'set-sac-per-s{seed}-I10-J3-F1.json').write_text(
            json.dumps(dict(energy_per_episode=[v + 1.0 for v in energies])))
    rows = set_vs_per_point(tmp_path)
    assert [r[:3] for r in rows] == [('I=6, J=3', 'set-sac-per vs sac-per', 'seeds 0-9'),
                                     ('I=6, J=3', 'set-sac-per-ua vs sac-per-ua', 'seeds 0-9'),
                                     ('I=10, J=3', 'set-sac-per vs orbit-sac-per', 'test')]
    assert rows[2][7:] == ('no', 90)
    # per-point mean 5.45 J: +0.1 J is +1.8% (within 5%), +0.3 J is +5.5% (not); 30 pairs, no spread
    assert rows[0][2:] == ('seeds 0-9', '5.450', '5.550', '+0.100 [+0.100, +0.100]', '+1.8%', 'yes', 30)
    assert rows[1][6:] == ('+5.5%', 'no', 30)
