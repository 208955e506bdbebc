"""A graph split over two hosts (network namespaces joined by a veth pair, test/hosts.py): the UAV nodes on
host B, the rest on host A, found by DDS discovery on the subnet. The same numbers as the Gym env; a link
cut in the middle of the run costs B's UAVs within a lease, and the run says so."""
import json
import re
import subprocess

import numpy as np

from helpers import UAV_MEC, assert_every_task_once, gym_episode, wait_for_slots
from hosts import two_hosts

SLOTS = 40


def _run_args(out, domain, run_id, *more):
    return [UAV_MEC, 'run', '--out', out, '--slots', SLOTS, '--domain-id', domain, '--run-id', run_id,
            '--discovery', 'subnet', '--processes', 'multi', '--policy', 'greedy', *more]


def _finish(proc, timeout=300):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, out, err


def test_uav_nodes_on_another_host_give_the_gym_numbers(tmp_path, ros_domain_id):
    with two_hosts(tmp_path) as (a, b, cut):
        uavs = b.popen(_run_args(tmp_path / 'b', ros_domain_id, 'split1', '--nodes', 'uavs',
                                 '--failure-schedule', '1:15'), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
        core = a.popen(_run_args(tmp_path / 'a', ros_domain_id, 'split1', '--nodes', 'core',
                                 '--failure-schedule', '1:15'), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
        rc_a, out_a, err_a = _finish(core)
        rc_b, out_b, err_b = _finish(uavs, timeout=60)
    assert rc_a == 0, err_a
    assert rc_b == 0, err_b
    for j in range(3):   # each UAV node ended with the episode on B
        assert f'uav_{j}: ended with the episode (exit 0)' in out_b
    summary = json.loads((tmp_path / 'a' / 'summary.json').read_text())
    e_tot, log = gym_episode('greedy', slots=SLOTS, schedule=((1, 15),), safety=True)
    gym = log.summary()
    assert summary['slots'] == SLOTS and summary['tasks'] == gym['tasks']
    np.testing.assert_allclose(summary['e_tot'], e_tot.sum(), rtol=1e-9)
    for key in ('tasks_completed', 'tasks_late', 'tasks_dropped', 'tasks_migrated'):
        assert summary[key] == gym[key], key
    assert [(f['uav'], f['slot'], f['mode']) for f in summary['failures']] == [(1, 15, 'announce')]


def test_a_cut_link_costs_the_far_host_s_uavs_within_a_lease_and_the_run_says_so(tmp_path, ros_domain_id):
    """UAV 0 flies with the core on A, UAVs 1 and 2 on B; no failure is injected; the link is cut at slot 15."""
    with two_hosts(tmp_path) as (a, b, cut):
        uavs = b.popen(_run_args(tmp_path / 'b', ros_domain_id, 'split2', '--nodes', 'uavs', '--missing-uavs', '0',
                                 '--timeout', '120', '--max-failures', '0'),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        core = a.popen(_run_args(tmp_path / 'a', ros_domain_id, 'split2', '--missing-uavs', '1,2', '--rtf', '4',
                                 '--max-failures', '0'), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
        wait_for_slots(tmp_path / 'a' / 'bag', 15, timeout_s=240, proc=core)
        cut()
        rc_a, out_a, err_a = _finish(core)
        rc_b, out_b, err_b = _finish(uavs, timeout=200)
    assert rc_a == 0, err_a
    summary = json.loads((tmp_path / 'a' / 'summary.json').read_text())
    # the bag is whole and every task ended once
    from uav_mec_nodes.bags.io import read_bag
    assert summary['slots'] == SLOTS and summary['tasks'] == SLOTS * 10
    assert summary['tasks_with_one_terminal_state'] == SLOTS * 10
    bag = read_bag(tmp_path / 'a' / 'bag')
    assert_every_task_once(bag, SLOTS)
    lost = {f['uav']: f for f in summary['failures'] if f['mode'] == 'lease lost'}
    assert sorted(lost) == [1, 2], summary['failures']
    for f in lost.values():
        assert 15 <= f['slot'] <= 21 and f['lost'], f   # lost before the slot after the cut (4 slots a second)
        waited = float(re.search(r'after ([0-9.]+) s and no heartbeat', f['reason']).group(1))
        assert waited <= 3.0, f              # within a lease (0.5 s) and the slot's pace, not a held lease's 10 s
    # their users' tasks go to UAV 0 from the slot they are down in on, and none is dropped
    down = max(f['slot'] for f in lost.values())
    after = [r for r in bag['/task_reports'] if r.slot >= down]
    assert after and {r.computing_uav for r in after if r.computing_uav >= 0} == {0}
    assert summary['tasks_dropped'] == 0
    assert len(summary['failures']) == 2     # no failure was injected: the cut's alone
    assert 'UAV 1 lost before slot' in out_a and 'lease lost: no state for slot' in out_a   # the run says which and why
    # B never hears the end: it stops at its time limit and says what it last heard
    assert rc_b == 124, err_b
    assert 'uav_1: failed or stopped' in out_b and 'no slot has come from the core since slot' in err_b
