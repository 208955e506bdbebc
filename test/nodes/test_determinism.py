"""One seed, one set of numbers: the Gym env, the single-process graph and the multi-process graph; replay."""
import numpy as np
import pytest
from helpers import UAV_MEC, acceleration_policy_file, gym_episode, set_policy_file

from uav_mec_nodes.bags.io import read_bag
from uav_mec_nodes.graph.layout import GraphConfig
from uav_mec_nodes.graph.launcher import MultiProcessRun, run_single_process
from uav_mec_nodes.policies import shipped_policy_path
from uav_mec_nodes.bags.replay import replay


def _by_slot(bag, topic):
    return sorted(bag[topic], key=lambda m: m.slot)


@pytest.mark.parametrize('seed,policy_kind', [(0, 'shipped'), (1, 'shipped'), (2, 'acceleration')])
def test_multi_process_equals_single_process_equals_gym(tmp_path, seed, policy_kind):
    """The main job's episode (shipped policy, one failure, the safety layer on), whatever the timing; and a
    policy with the paper's acceleration action, which the layer has to correct."""
    if policy_kind == 'shipped':
        policy = str(shipped_policy_path())
    else:
        policy = acceleration_policy_file(tmp_path / 'acceleration.pt')
    expected, log = gym_episode(policy, seed, safety=True)
    if policy_kind == 'acceleration':
        assert log.summary()['safety_interventions'] > 0   # the layer is at work in this episode
    single = run_single_process(GraphConfig(seed=seed, policy=policy, bag_path=str(tmp_path / 'single')))
    assert not single.stopped
    # a 2 s lease: a starved CI machine must not pass for a UAV failure (the SIGKILL test covers leases)
    with MultiProcessRun(GraphConfig(seed=seed, policy=policy, lease_s=2.0, bag_path=str(tmp_path / 'multi')),
                         log_dir=tmp_path / 'logs') as run:
        multi = run.wait()
    assert not multi.stopped, multi.stopped + multi.detail
    # the launcher followed the run through the nodes' progress files (it holds no DDS participant)
    assert multi.slots_done == 60 and all(code == 0 for code in multi.returncodes.values()), multi.returncodes
    assert [(tmp_path / 'logs' / f'{name}.progress').read_text() for name in ('slots_done', 'slots_recorded')] \
        == ['60', '60']
    bags = [read_bag(tmp_path / name) for name in ('single', 'multi')]
    for bag in bags:
        np.testing.assert_allclose([m.e_tot for m in _by_slot(bag, '/slot_metrics')], expected, rtol=1e-12, atol=0)
        moves = [m for m in bag['/plant/command'] if m.kind == 1]
        assert sum(int(np.count_nonzero(m.safety_interventions)) for m in moves) == \
            log.summary()['safety_interventions']
    # not only the totals: every decision of every slot is the same
    plans = [_by_slot(bag, '/plan') for bag in bags]
    for a, b in zip(*plans):
        assert [(d.partition_layer, d.serving_uav, d.migration_target) for d in a.decisions] == \
               [(d.partition_layer, d.serving_uav, d.migration_target) for d in b.decisions]
        assert [(c.acceleration.x, c.acceleration.y, c.acceleration.z) for c in a.uav_commands] == \
               [(c.acceleration.x, c.acceleration.y, c.acceleration.z) for c in b.uav_commands]
    if seed == 0:
        # replay of the main job's bag: every decision equal; another planner: where they part
        report = replay(tmp_path / 'single')
        assert report.equal and report.slots_compared == 60, report.line()
        other = replay(tmp_path / 'multi', policy='offload-all')
        assert not other.equal and other.first_difference.startswith('slot 0: ')


def test_one_set_policy_serves_graphs_whose_size_changes_between_episodes(tmp_path):
    """The planner node loads one set policy file and serves an episode of 6 users and 3 UAVs, one of 12
    users and 5 UAVs (multi-process) and one of 4 users and 2 UAVs, each equal to the Gym env's, with no
    retraining; a graph outside the policy's range is refused before any node starts."""
    import subprocess
    policy = set_policy_file(tmp_path / 'set.pt')
    for k, (users, uavs, multi) in enumerate(((6, 3, False), (12, 5, True), (4, 2, False))):
        expected, _ = gym_episode(policy, seed=k, slots=12, users=users, uavs=uavs, safety=True)
        g = GraphConfig(seed=k, policy=policy, num_users=users, num_uavs=uavs, num_slots=12,
                        bag_path=str(tmp_path / f'bag{k}'))
        if multi:
            g.lease_s = 2.0
            with MultiProcessRun(g, log_dir=tmp_path / f'logs{k}') as run:
                result = run.wait()
        else:
            result = run_single_process(g)
        assert not result.stopped, result.stopped
        bag = read_bag(tmp_path / f'bag{k}')
        np.testing.assert_allclose([m.e_tot for m in _by_slot(bag, '/slot_metrics')], expected, rtol=1e-12, atol=0)
        plans = _by_slot(bag, '/plan')
        assert {len(p.decisions) for p in plans} == {users} and {len(p.uav_commands) for p in plans} == {uavs}
    out = subprocess.run([UAV_MEC, 'run', '--users', '20', '--policy', policy, '--out', str(tmp_path / 'big')],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert 'a set policy trained for I in [4, 12] users and J in [2, 5] UAVs; this scenario has I=20, J=3' \
        in out.stderr


def test_a_run_without_numbas_cache_compiles_before_its_first_slot_not_in_it(tmp_path):
    """With no numba cache the slot's compiled steps take ~10 s to compile. channel_sim loads them when it
    starts: compiled in its first slot, they held the single-process graph's UAV nodes up for as long, their
    commands missed the slot (UAVs held in place) and the run reported other numbers, with exit code 0."""
    import json
    import os
    import subprocess
    cache = tmp_path / 'numba'
    out = subprocess.run([UAV_MEC, 'run', '--out', str(tmp_path / 'run'), '--slots', '5'], capture_output=True,
                         text=True, timeout=600, env=dict(os.environ, NUMBA_CACHE_DIR=str(cache)), cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert any(cache.rglob('*allocate*.nbi'))   # it compiled, into the empty cache
    summary = json.loads((tmp_path / 'run' / 'summary.json').read_text())
    expected, _ = gym_episode(str(shipped_policy_path()), 0, slots=5, safety=True)
    assert summary['held_without_command'] == []
    assert summary['e_tot'] == pytest.approx(float(np.sum(expected)), rel=1e-12, abs=0)


def test_the_accounting_has_the_compiled_slot_ready_before_its_first_slot(tmp_path):
    """The run above fails only when the compile falls in slot 0 before the UAVs' commands are taken (five
    of ten cold runs); this is its cause, checked directly: once channel_sim's accounting exists,
    numba's cache holds every kernel a slot runs, so no slot compiles."""
    import os
    import subprocess
    import sys
    cache = tmp_path / 'numba'
    code = ('from uav_mec_nodes.config import load_scenario\n'
            'from uav_mec_nodes.graph.accounting import SlotAccounting\n'
            'SlotAccounting(load_scenario(), 0)\n')
    out = subprocess.run([sys.executable, '-P', '-c', code], capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, NUMBA_CACHE_DIR=str(cache)), cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    for kernel in ('allocation_kernels.allocate', 'slot_kernels.tasks_of_slot', 'slot_kernels.outcomes_of_slot'):
        assert list(cache.rglob(f'{kernel}-*.nbi')), kernel
