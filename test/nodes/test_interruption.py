"""Interrupting a run: Ctrl-C, SIGTERM, a killed launcher, a killed recorder. Nothing is lost or left over."""
import os
import re
import signal
import subprocess
import time

import pytest
from helpers import UAV_MEC, run_processes, slots_in_bag, summary_of, wait_for_slots

from uav_mec_nodes.bags.io import read_bag, recover
from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.graph.layout import GraphConfig
from uav_mec_nodes.graph.launcher import MultiProcessRun
from uav_mec_nodes.bags.report import summarize


def _start_run(out, *args):
    # a session of its own, like a terminal's foreground job: Ctrl-C goes to its whole process group
    return subprocess.Popen([UAV_MEC, 'run', '--out', str(out), '--rtf', '10', '--policy', 'offload-all',
                             *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _assert_complete_prefix(bag: dict, slots: int, users: int = 10, trailing_partial_slot=False) -> None:
    """Every task of the bag's first `slots` slots is in it exactly once (later partial slots aside)."""
    metrics = sorted(m.slot for m in bag['/slot_metrics'])
    assert metrics in ([list(range(slots)), list(range(slots + 1))] if trailing_partial_slot else [list(range(slots))])
    seen = [(r.slot, r.user_id) for r in bag['/task_reports'] if r.slot < slots]
    assert sorted(seen) == [(t, i) for t in range(slots) for i in range(users)]


@pytest.mark.parametrize('processes,sig', [('single', signal.SIGINT), ('single', signal.SIGTERM),
                                           ('multi', signal.SIGINT), ('multi', signal.SIGTERM)])
def test_ctrl_c_and_sigterm_leave_a_readable_bag_a_partial_summary_and_no_process(tmp_path, processes, sig):
    proc = _start_run(tmp_path, '--processes', processes)
    wait_for_slots(tmp_path / 'bag', 5, timeout_s=120, proc=proc)
    os.killpg(proc.pid, sig)       # what a terminal does on Ctrl-C (SIGINT), or `kill -TERM -PGID`
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err
    assert 'Traceback' not in err
    last = err.strip().splitlines()[-1]
    match = re.fullmatch(rf'uav-mec run: interrupted by {sig.name} after (\d+) of 60 slots \(all in the bag\)', last)
    assert match, err
    done = int(match.group(1))
    assert 5 <= done < 60 and f'{done} of 60 (the run stopped early)' in out
    _assert_complete_prefix(read_bag(tmp_path / 'bag'), done)
    assert summary_of(tmp_path)['stopped'] == f'interrupted by {sig.name}'
    assert run_processes(str(tmp_path / 'logs')) == []   # no node of the run is left


def test_a_killed_launcher_takes_its_nodes_along_and_the_bag_is_closed(tmp_path):
    proc = _start_run(tmp_path, '--processes', 'multi')
    wait_for_slots(tmp_path / 'bag', 5, timeout_s=120, proc=proc)
    proc.kill()
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 30
    while run_processes(str(tmp_path / 'logs')) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run_processes(str(tmp_path / 'logs')) == []    # the parent-death signal ended every node
    bag = read_bag(tmp_path / 'bag')   # closed by the recorder on that signal: readable as it stands
    # every node stopped at once: the bag may end inside a slot, and the summary counts whole slots
    summary = summarize(bag, 'offload-all', None)
    assert summary['slots'] >= 5 and summary['tasks'] == summary['tasks_with_one_terminal_state'] \
        == 10 * summary['slots']
    _assert_complete_prefix(bag, summary['slots'], trailing_partial_slot=True)


@pytest.mark.parametrize('storage', ['sqlite3', 'mcap'])
def test_a_sigkilled_recorder_loses_at_most_the_slot_it_was_writing(tmp_path, storage):
    g = GraphConfig(policy='offload-all', real_time_factor=10.0, storage=storage, bag_path=str(tmp_path / 'bag'))
    with MultiProcessRun(g, log_dir=tmp_path / 'logs') as run:
        wait_for_slots(tmp_path / 'bag', 8, timeout_s=120)
        on_disk = slots_in_bag(tmp_path / 'bag')
        run.processes['recorder'].send_signal(signal.SIGKILL)
        result = run.wait(timeout_s=120)
    assert result.stopped.startswith('recorder exited with code -9') and result.exit_code == 1
    assert all(p.poll() is not None for p in run.processes.values())
    if storage == 'mcap':   # an mcap file of a killed writer lacks its end: `uav-mec recover` adds it
        with pytest.raises(UserInputError, match='uav-mec recover'):
            read_bag(tmp_path / 'bag')
        assert 'messages readable' in recover(tmp_path / 'bag')
    bag = read_bag(tmp_path / 'bag')
    slots = len(bag['/slot_metrics'])
    assert slots >= on_disk >= 8   # everything checkpointed before the kill is there
    _assert_complete_prefix(bag, slots)


def test_timeout_stops_a_run_with_its_partial_summary(tmp_path):
    out = subprocess.run([UAV_MEC, 'run', '--out', str(tmp_path), '--rtf', '5', '--policy', 'offload-all',
                          '--timeout', '4'], capture_output=True, text=True, timeout=120)
    assert out.returncode == 124, out.stderr
    last = out.stderr.strip().splitlines()[-1]
    match = re.fullmatch(r'uav-mec run: time limit of 4 s reached \(--timeout\) after (\d+) of 60 slots '
                         r'\(all in the bag\)', last)
    assert match, out.stderr
    assert 0 < int(match.group(1)) < 60
    _assert_complete_prefix(read_bag(tmp_path / 'bag'), int(match.group(1)))


def test_a_run_without_progress_is_stopped_as_stalled():
    from uav_mec_nodes.graph.layout import STALL_S, timeout_for
    from uav_mec_nodes.graph.launcher import EXIT_TIMEOUT, Watchdog
    from uav_mec_nodes.nodes._run import StopSignals
    g = GraphConfig()
    watch = Watchdog(g, 60, 1.0, None)
    assert watch.limit_s == timeout_for(g, 60) == 60 * 10.0 + 300.0          # unpaced: 10 s a slot + 5 min
    assert timeout_for(GraphConfig(real_time_factor=2.0), 60) == 60 * 1.0 + 300.0   # paced: twice the time
    with StopSignals() as stop:
        assert watch.verdict(stop) is None
        watch.progress(3)
        watch.last_progress -= STALL_S + 1
        assert watch.verdict(stop) == (f'stalled: no slot finished for {STALL_S:.0f} s', EXIT_TIMEOUT)
