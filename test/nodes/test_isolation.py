"""Runs side by side: each gets its solo numbers, whether on domains of their own or forced onto one."""
import subprocess

import pytest
from helpers import UAV_MEC, gym_episode, px4_homes, summary_of

from uav_mec_nodes.policies import shipped_policy_path


def _start(out, *args):
    return subprocess.Popen([UAV_MEC, 'run', '--out', str(out), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _assert_solo_numbers(out, seed: int, policy: str) -> dict:
    summary = summary_of(out)
    expected, log = gym_episode(policy, seed, safety=True)   # `uav-mec run` flies through the safety layer
    assert summary['e_tot'] == pytest.approx(expected.sum(), rel=1e-9)
    assert summary['tasks'] == summary['tasks_with_one_terminal_state'] == 600
    gym_failures = log.summary()['failures']
    assert [(f['uav'], f['slot']) for f in summary['failures']] == [(f['uav'], f['slot']) for f in gym_failures]
    return summary


def test_two_runs_started_together_give_their_solo_numbers(tmp_path):
    """One run per node process and one in a single process, started at once, on automatic domains."""
    a = _start(tmp_path / 'a', '--processes', 'multi', '--seed', 1)
    b = _start(tmp_path / 'b', '--seed', 2)
    outs = [p.communicate(timeout=300) for p in (a, b)]
    assert (a.returncode, b.returncode) == (0, 0), outs
    policy = str(shipped_policy_path())
    sa = _assert_solo_numbers(tmp_path / 'a', 1, policy)
    sb = _assert_solo_numbers(tmp_path / 'b', 2, policy)
    assert sa['domain_id'] != sb['domain_id'] and sa['run_id'] != sb['run_id']
    assert sa['stray_input'] == sb['stray_input'] == {}   # neither ever saw the other
    for (_, err), summary in zip(outs, (sa, sb)):
        assert f"run {summary['run_id']} on ROS 2 domain {summary['domain_id']}" in err


def test_runs_forced_onto_one_domain_ignore_each_other(tmp_path, ros_domain_id):
    """Same domain, same node names: only the run identity tells them apart, and it does, in DDS content filters
    (seed 3: auto, which a domain chosen by hand turns on) or in each node's guard alone (seed 4: off)."""
    runs = [_start(tmp_path / f's{seed}', '--seed', seed, '--policy', 'offload-all', '--domain-id', ros_domain_id,
                   '--rtf', 10, '--content-filters', filters)
            for seed, filters in ((3, 'auto'), (4, 'off'))]   # 6 s episodes: they overlap however slow the start
    outs = [p.communicate(timeout=300) for p in runs]
    assert [p.returncode for p in runs] == [0, 0], outs
    for seed, (_, err) in zip((3, 4), outs):
        summary = _assert_solo_numbers(tmp_path / f's{seed}', seed, 'offload-all')
        assert summary['domain_id'] == int(ros_domain_id)
        assert 'is also used by another uav-mec run' in err
        # they did meet: each counted the other's messages and used none
        assert sum(summary['stray_input'].values()) > 0, summary['stray_input']


def test_a_process_never_starts_a_run_on_the_domain_its_last_run_just_left():
    """A run's participants may still be leaving its domain when the next run of the process starts."""
    from uav_mec_nodes.graph.isolation import AUTO_DOMAINS, acquire_domain
    seen = []
    for k in range(3):
        with acquire_domain(None, f'rotation-{k}') as lease:
            assert lease.exclusive and lease.domain_id in AUTO_DOMAINS
            seen.append(lease.domain_id)
    assert seen[0] != seen[1] != seen[2], seen


def test_content_filters_auto_are_off_only_on_a_domain_the_run_picked_and_holds_alone_on_this_host(
        ros_domain_id):
    from uav_mec_nodes.graph.isolation import content_filters_for
    from uav_mec_nodes.graph.launcher import Isolation
    from uav_mec_nodes.graph.layout import GraphConfig
    assert content_filters_for('auto', True, True, 'localhost') == 'off'
    for picked, exclusive, discovery in ((False, True, 'localhost'), (True, False, 'localhost'),
                                         (True, True, 'subnet')):
        assert content_filters_for('auto', picked, exclusive, discovery) == 'on'
    assert content_filters_for('on', True, True, 'localhost') == 'on'
    assert content_filters_for('off', False, False, 'subnet') == 'off'
    for domain, filters in ((None, 'off'), (int(ros_domain_id), 'on')):   # the nodes get it as a parameter
        assert GraphConfig(domain_id=domain).content_filters == 'on'   # the default
        g = GraphConfig(domain_id=domain, content_filters='auto')
        iso = Isolation(g, lambda line: None)
        try:
            assert g.content_filters == filters
        finally:
            iso.close()


def test_the_launchers_progress_files_are_whole_counts_or_nothing(tmp_path):
    """What the launcher reads instead of a DDS participant: the last count written, 0 before any or for a
    garbled file, nothing left of an earlier run after clear(); a node not started by it writes nowhere."""
    from uav_mec_nodes.graph.progress import SLOTS_DONE, SLOTS_RECORDED, SLOTS_SEEN, ProgressFiles
    files = ProgressFiles(tmp_path)
    assert files.read(SLOTS_DONE) == 0
    for k in (1, 2, 60):
        files.write(SLOTS_DONE, k)
    assert files.read(SLOTS_DONE) == 60 and [p.name for p in tmp_path.iterdir()] == ['slots_done.progress']
    (tmp_path / 'slots_recorded.progress').write_text('6o')
    assert files.read(SLOTS_RECORDED) == 0
    # a host of UAV nodes alone: the most any of its UAV nodes has seen
    files.write(f'{SLOTS_SEEN}.uav_0', 16)
    files.write(f'{SLOTS_SEEN}.uav_2', 15)
    assert files.read_most(SLOTS_SEEN) == 16
    files.clear()
    assert files.read(SLOTS_DONE) == 0 and files.read_most(SLOTS_SEEN) == 0 and not list(tmp_path.iterdir())
    nowhere = ProgressFiles(None)
    nowhere.write(SLOTS_DONE, 5)
    assert nowhere.read(SLOTS_DONE) == 0


def test_the_localhost_profile_parses_and_its_participants_talk(tmp_path, ros_domain_id):
    """Fast DDS reads dds/fastdds_localhost.xml whole (a profile it cannot parse is dropped with an error on
    stderr, and the run then goes out on every interface with the default writer timing): a message goes
    through under it and nothing of the XML parser is printed."""
    import os
    import sys

    from uav_mec_nodes.graph.isolation import LOCALHOST_PROFILE, PROFILES_ENV
    script = (
        'import rclpy, time\n'
        'from std_msgs.msg import String\n'
        'rclpy.init()\n'
        'node = rclpy.create_node("profile_check")\n'
        'got = []\n'
        'node.create_subscription(String, "/profile_check", got.append, 10)\n'
        'pub = node.create_publisher(String, "/profile_check", 10)\n'
        'end = time.monotonic() + 10\n'
        'while not got and time.monotonic() < end:\n'
        '    pub.publish(String(data="x"))\n'
        '    rclpy.spin_once(node, timeout_sec=0.05)\n'
        'print("received", len(got) > 0)\n')
    env = dict(os.environ, **{PROFILES_ENV: str(LOCALHOST_PROFILE)})
    out = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=60)
    assert 'received True' in out.stdout, out.stderr[-2000:]
    assert 'XMLPARSER' not in out.stdout + out.stderr and 'Error' not in out.stderr, out.stderr[-2000:]


def test_node_processes_end_without_waiting_on_readers_that_left(tmp_path):
    """Each node process stays LINGER_S after its episode so its readers acknowledge the last samples they
    took: no writer then waits out flush_publishers' limit at the end of a run (each used to, for the last
    /slot_metrics, /markers and /clock: 5 s added to every run with one process per node)."""
    out = subprocess.run([UAV_MEC, 'run', '--out', str(tmp_path / 'run'), '--processes', 'multi', '--slots', '5'],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    logs = {p.name: p.read_text() for p in (tmp_path / 'run' / 'logs').glob('*.log')}
    assert {'sequencer.log', 'channel_sim.log', 'recorder.log', 'world.log'} <= set(logs)
    waited = [name for name, text in logs.items() if 'exiting with unacknowledged messages' in text]
    assert waited == []


def test_only_the_shared_memory_of_dead_fast_dds_owners_is_removed(tmp_path):
    """A segment or port none of whose lock files anybody holds (its process is gone) goes, with its mutex;
    one with a lock held (a live participant: Fast DDS holds it), a young one (its owner may still be setting
    up) and files not Fast DDS's stay."""
    import fcntl
    import os

    from uav_mec_nodes.graph.isolation import remove_dead_shared_memory

    def make(*names, age_s=60.0):
        for name in names:
            path = tmp_path / name
            path.write_bytes(b'x')
            os.utime(path, (path.stat().st_atime - age_s,) * 2)
    make('fastdds_0123456789abcdef', 'fastdds_0123456789abcdef_el',                              # dead segment
         'fastdds_port7411', 'fastdds_port7411_sl', 'sem.fastdds_port7411_mutex',                  # dead port
         'fastdds_fedcba9876543210', 'fastdds_fedcba9876543210_el',                                # live segment
         'fastdds_port7413', 'fastdds_port7413_el',                                                # live port
         'fastdds_port7415', 'fastdds_port7415_el', 'fastdds_port7415_sl',                       # live: one lock
         'lttng-ust-wait-6', 'other_el')
    make('fastdds_00000000000000aa', 'fastdds_00000000000000aa_el', age_s=0.0)                    # young
    held = [open(tmp_path / name, 'ab') for name in ('fastdds_fedcba9876543210_el', 'fastdds_port7413_el',
                                                     'fastdds_port7415_sl')]
    for fd in held:
        fcntl.flock(fd, fcntl.LOCK_SH)   # as a live owner (any lock: ours asks for an exclusive one)
    try:
        assert remove_dead_shared_memory(tmp_path) == 2
    finally:
        for fd in held:
            fd.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([
        'fastdds_fedcba9876543210', 'fastdds_fedcba9876543210_el', 'fastdds_port7413', 'fastdds_port7413_el',
        'fastdds_port7415', 'fastdds_port7415_el', 'fastdds_port7415_sl', 'lttng-ust-wait-6', 'other_el',
        'fastdds_00000000000000aa', 'fastdds_00000000000000aa_el'])
    assert remove_dead_shared_memory(tmp_path / 'missing') == 0


@pytest.mark.parametrize('run_args', [('--processes', 'multi', '--slots', '10'),
                                      ('--plant', 'px4', '--rtf', '1', '--slots', '3', '--px4-end-action', 'hold',
                                       '--px4-homes', px4_homes()[1])], ids=['multi', 'single-px4'])
def test_a_run_leaves_no_shared_memory_of_its_node_processes(tmp_path, run_args):
    """rmw_fastrtps keeps localhost participants on shared memory and node processes end without DDS
    teardown: before, each run with one process per node left its nodes' segments in /dev/shm. Now none of
    the segment lock files that appeared during the run is left once it has ended, unless someone holds it
    (another process's live participant). A single-process run's PX4 stand-ins are processes of their own:
    their segments go too (they were left when the run cleaned up before it stopped them)."""
    import fcntl
    from pathlib import Path

    shm = Path('/dev/shm')

    def lock_files():
        return {p.name for p in shm.glob('fastdds_*_el')}

    def held(name):
        try:
            with open(shm / name, 'ab') as fd:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return False
        except OSError:
            return True
    before = lock_files()
    out = subprocess.run([UAV_MEC, 'run', '--out', str(tmp_path / 'run'), *run_args, '--policy', 'offload-all'],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    left = [name for name in lock_files() - before if (shm / name).exists() and not held(name)]
    assert left == []
