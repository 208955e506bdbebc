"""One seed, one set of numbers: the Gym env, the single-process graph and the multi-process graph; replay."""
import numpy as np
import pytest
from helpers import acceleration_policy_file, gym_episode

from uav_mec_nodes.bag import read_bag
from uav_mec_nodes.graph import GraphConfig
from uav_mec_nodes.launcher import MultiProcessRun, run_single_process
from uav_mec_nodes.policies import shipped_policy_path
from uav_mec_nodes.replay import replay


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
