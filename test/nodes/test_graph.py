"""The ROS graph: same numbers as the Gym env, a real crash, a UAV that never starts, the bag's contents."""
import re
import signal
import time

import numpy as np
import pytest
import yaml
from helpers import assert_every_task_once as _assert_every_task_once
from helpers import gym_episode, wait_for_slots

from uav_mec_nodes.bags.io import offered_qos, read_bag, topic_counts
from uav_mec_nodes.graph.contract import graph_topics
from uav_mec_nodes.graph.layout import GraphConfig
from uav_mec_nodes.graph.launcher import MultiProcessRun, run_single_process

SLOTS = 10
SCHEDULE = '1:4'   # UAV 1 fails during slot 4: its tasks of that slot migrate


def _gym_e_tot(policy: str, slots: int = SLOTS, seed: int = 0):
    return gym_episode(policy, seed, slots, schedule=((1, 4),))


@pytest.mark.parametrize('policy', ['random-partition', 'greedy'])
def test_single_process_graph_equals_gym_env(policy, tmp_path):
    g = GraphConfig(num_slots=SLOTS, policy=policy, failure_schedule=SCHEDULE, bag_path=str(tmp_path / 'bag'))
    result = run_single_process(g, timeout_s=300)
    assert not result.stopped and result.exit_code == 0 and result.slots_done == SLOTS
    expected, log = _gym_e_tot(policy)
    graph = np.array([s['e_tot'] for s in result.slots])
    np.testing.assert_allclose(graph, expected, rtol=1e-9, atol=0)
    assert sum(s['tasks_migrated'] for s in result.slots) == sum(s['tasks_migrated'] for s in log.slots) > 0
    bag = read_bag(tmp_path / 'bag')
    np.testing.assert_allclose([m.e_tot for m in bag['/slot_metrics']], expected, rtol=1e-9, atol=0)
    _assert_every_task_once(bag, SLOTS)
    counts = topic_counts(tmp_path / 'bag')
    assert counts['/slot_metrics'] == counts['/plan'] == counts['/users'] == counts['/channel'] == SLOTS
    assert counts['/task_reports'] == 10 * SLOTS
    assert counts['/world/uav_states'] == 3 * SLOTS
    assert counts['/clock'] == SLOTS + 1
    assert counts['/failures'] == 1 and counts['/markers'] == SLOTS
    assert counts['/failure_injector/report'] == SLOTS
    assert counts['/plant/command'] == 2 * SLOTS    # START and MOVE of every slot
    for j in range(3):
        assert counts[f'/uav_{j}/state'] == SLOTS and counts[f'/uav_{j}/cmd'] >= 4
    info = bag['/run_info'][0]
    assert (info.run_id, info.seed, info.policy) == (result.run_id, 0, policy) and info.domain_id == result.domain_id
    assert all(m.run_id == result.run_id for m in bag['/slot_metrics'] + bag['/plan'] + bag['/task_reports'])
    # each topic's offered QoS, as the contract has it, so `ros2 bag play` replays with it
    qos = offered_qos(tmp_path / 'bag')
    for name, spec in graph_topics(10, 3).items():
        if name in qos:
            (profile,) = qos[name]
            assert profile.depth == spec.qos.depth
            assert profile.reliability.name.lower() == spec.qos.reliability
            assert profile.durability.name.lower() == spec.qos.durability
    # heartbeats carry no slot: the bag has a lost lease as a FailureEvent, not 10 beats a second
    assert not any(name.endswith('/heartbeat') for name in qos)


def test_multi_process_graph_equals_gym_env(tmp_path):
    # a 2 s lease: a starved CI machine must not pass for a UAV failure here (the SIGKILL test covers leases)
    g = GraphConfig(num_slots=SLOTS, policy='random-partition', failure_schedule=SCHEDULE, lease_s=2.0,
                    bag_path=str(tmp_path / 'bag'))
    with MultiProcessRun(g, log_dir=tmp_path / 'logs') as run:
        result = run.wait(timeout_s=180)
    assert not result.stopped, result.stopped + result.detail
    # every node, the UAVs and the injector included, ends by itself when the episode ends
    assert result.returncodes == {name: 0 for name in result.returncodes}, result.returncodes
    expected, _ = _gym_e_tot('random-partition')
    bag = read_bag(tmp_path / 'bag')
    np.testing.assert_allclose([m.e_tot for m in sorted(bag['/slot_metrics'], key=lambda m: m.slot)], expected,
                               rtol=1e-9, atol=0)


@pytest.mark.parametrize('forger', [False, True], ids=['alone', 'with-a-forger'])
def test_sigkill_of_a_uav_process_mid_episode(tmp_path, ros_domain_id, forger):
    """UAV 1's process is killed: it is down within a lease. With a forger on the domain that beats for it (with
    the run's own id) and asserts DDS liveliness on its state topic, the same: only its own heartbeats count."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    slots, lease = 40, (1.0 if forger else 0.5)
    rogue = None
    if forger:
        env = dict(os.environ, ROS_DOMAIN_ID=ros_domain_id, ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
        rogue = subprocess.Popen([sys.executable, str(Path(__file__).parent / 'rogue_publisher.py'), '600'],
                                 cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert 'published' in rogue.stdout.readline()
    g = GraphConfig(num_slots=slots, policy='offload-all', max_failures=0, real_time_factor=10.0,
                    lease_s=lease, bag_path=str(tmp_path / 'bag'), domain_id=int(ros_domain_id))
    try:
        with MultiProcessRun(g, log_dir=tmp_path / 'logs') as run:
            wait_for_slots(tmp_path / 'bag', 8, timeout_s=60)
            run.processes['uav_1'].send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            result = run.wait(timeout_s=180)
    finally:
        if rogue is not None:
            rogue.terminate()
            out = rogue.communicate(timeout=20)[0]
    if forger:
        assert rogue.returncode == 0 and f"run id learned: '{result.run_id}'" in out, out
    assert not result.stopped, result.stopped
    assert run.processes['uav_1'].returncode == -signal.SIGKILL
    bag = read_bag(tmp_path / 'bag')
    assert len(bag['/slot_metrics']) == slots
    _assert_every_task_once(bag, slots)
    lost = [f for f in bag['/failures'] if f.uav_id == 1 and f.mode == 3]
    assert len(lost) == 1, 'the planner publishes the lost lease once'
    # waited one lease from the slot's readiness, not the 10 s a UAV holding its lease is waited for
    assert 'no heartbeat for its lease' in lost[0].reason, lost[0].reason
    waited = float(re.search(r'after ([\d.]+) s', lost[0].reason).group(1))
    assert lease <= waited < lease + 2.0, lost[0].reason
    # at rtf 10 a slot is 0.1 s of wall time: the lease plus one slot is at most 6 (11) slots
    plans = sorted(bag['/plan'], key=lambda p: p.slot)
    first_down = next(p.slot for p in plans if not p.uav_alive[1])
    kill_slot = max(m.slot for m in bag['/slot_metrics'] if m.alive_uavs == 3)
    assert first_down - kill_slot <= int(np.ceil((lease + 0.1) / 0.1)) + 1
    # from then on nobody is served by UAV 1, and every slot has two live UAVs
    assert all(d.serving_uav != 1 for p in plans if p.slot >= first_down for d in p.decisions)
    assert all(m.alive_uavs == 2 for m in bag['/slot_metrics'] if m.slot >= first_down)
    assert time.monotonic() - killed_at < 120


def test_a_recorder_reader_that_matches_late_holds_the_run_up_and_the_bag_loses_nothing(tmp_path, monkeypatch):
    """CI once found a bag without the first 7 plans (every slot's metrics in it, exit 0): the recorder's
    /plan reader had matched the planner's writer when its history of 16 plans no longer held them. Here
    that reader starts 1.5 s late (at rtf 0 most of the episode): the world waits for the recorder, which
    gets each plan from the writer's history once it matches."""
    from uav_mec_nodes.nodes import _common as c
    subscribe, slots = c.GuardedInput.subscribe, 40

    def late_plan_reader(self, msg_type, topic, callback, raw=False, only=None):
        if self.node.get_name() != 'recorder' or topic != c.TOPIC_PLAN:
            return subscribe(self, msg_type, topic, callback, raw, only)

        def start():
            self.node.late_timer.cancel()
            subscribe(self, msg_type, topic, callback, raw, only)
        self.node.late_timer = self.node.create_timer(1.5, start)
    monkeypatch.setattr(c.GuardedInput, 'subscribe', late_plan_reader)
    g = GraphConfig(num_slots=slots, policy='offload-all', bag_path=str(tmp_path / 'bag'))
    result = run_single_process(g, timeout_s=120)
    assert not result.stopped and result.slots_done == slots
    bag = read_bag(tmp_path / 'bag')
    assert sorted(m.slot for m in bag['/plan']) == list(range(slots))
    assert len(bag['/slot_metrics']) == slots


# Loaded by every node process of the test below (PYTHONPATH): UAV 1's /slot_metrics reader starts late.
LATE_METRICS_READER = """
import sys
if '__node:=uav_1' in sys.argv:
    from uav_mec_nodes.nodes import _common as c
    subscribe = c.GuardedInput.subscribe

    def late(self, msg_type, topic, callback, raw=False, only=None):
        if topic != c.TOPIC_SLOT_METRICS:
            return subscribe(self, msg_type, topic, callback, raw, only)

        def start():
            self.node.destroy_timer(timer)
            subscribe(self, msg_type, topic, callback, raw, only)
        timer = self.node.create_timer(DELAY_S, start, clock=c.wall_clock())
    c.GuardedInput.subscribe = late
"""


def test_a_uav_node_whose_reader_matches_late_is_up_only_then_and_ends_with_the_episode(tmp_path, monkeypatch):
    """CI once found two UAV nodes still running after the episode (stopped, exit 143): nothing waits for a UAV's
    /slot_metrics reader, and one that DDS matched after channel_sim had left never hears the last slot. Here
    UAV 1's reader starts 6 s late, after the episode would be over: the UAV is up (beats, relays its state)
    only once it hears every input, so the first slot waits for it and it ends with the episode."""
    (tmp_path / 'sitecustomize.py').write_text(LATE_METRICS_READER.replace('DELAY_S', '6.0'))
    monkeypatch.setenv('PYTHONPATH', str(tmp_path))
    g = GraphConfig(num_slots=SLOTS, policy='greedy', failure_schedule=SCHEDULE, bag_path=str(tmp_path / 'bag'))
    run = MultiProcessRun(g, log_dir=tmp_path / 'logs')
    params = yaml.safe_load(run.params_file.read_text())
    params['planner']['ros__parameters']['startup_wait_s'] = 60.0   # waits for UAV 1 (5 s by default)
    run.params_file.write_text(yaml.safe_dump(params))
    with run:
        result = run.wait(timeout_s=180)
    assert not result.stopped, result.stopped + result.detail
    assert set(result.returncodes.values()) == {0}, (result.returncodes, run.log_tails())
    # it names /slot_metrics, and any other input still without a writer (CI: the planner's /plan, not up yet)
    assert re.search(r'no writer matched yet for [^\n]*/slot_metrics[^\n]* after 2 s',
                     (tmp_path / 'logs' / 'uav_1.log').read_text())
    expected, _ = _gym_e_tot('greedy')
    np.testing.assert_allclose([m.e_tot for m in sorted(read_bag(tmp_path / 'bag')['/slot_metrics'],
                                                        key=lambda m: m.slot)], expected, rtol=1e-9, atol=0)


def test_uav_that_never_starts_is_failed_from_the_first_slot(tmp_path):
    g = GraphConfig(num_slots=6, policy='offload-all', max_failures=0, missing_uavs=(2,),
                    bag_path=str(tmp_path / 'bag'))
    result = run_single_process(g, timeout_s=120)
    bag = read_bag(tmp_path / 'bag')
    assert len(result.slots) == 6
    _assert_every_task_once(bag, 6)
    assert all(not p.uav_alive[2] for p in bag['/plan'])
    assert all(d.serving_uav in (0, 1) for p in bag['/plan'] for d in p.decisions)
    assert all(r.terminal_state != 2 for r in bag['/task_reports'])   # its would-be users served by others
    assert [f.uav_id for f in bag['/failures']] == [2]


def test_mcap_bag_and_uav_running_real_torch_layers(tmp_path):
    from uav_mec_nodes.model.dnn_profiles import DNN_NAMES, layer_table
    g = GraphConfig(num_slots=2, num_users=2, policy='offload-all', max_failures=0, storage='mcap',
                    run_torch_layers=True, bag_path=str(tmp_path / 'bag'))
    result = run_single_process(g, timeout_s=120)
    counts = topic_counts(tmp_path / 'bag')
    assert any(p.suffix == '.mcap' for p in (tmp_path / 'bag').iterdir())
    assert counts['/task_reports'] == 4 and counts['/slot_metrics'] == 2
    # each task computed on a UAV ran its tail layers phi..L there, on real tensors
    layers = {k: len(layer_table()[name]) for k, name in enumerate(DNN_NAMES)}
    on_uavs = [r for r in read_bag(tmp_path / 'bag')['/task_reports'] if r.computing_uav < 3]
    assert on_uavs, 'offload-all computes on the UAVs'
    assert result.tail_layers_run == sum(layers[r.dnn_type] - r.partition_layer + 1 for r in on_uavs) > 0


def test_uav_node_runs_the_tail_layers_on_real_tensors(ros_domain_id):
    import rclpy
    from rclpy.parameter import Parameter

    from uav_mec_nodes.msg import TaskReport
    from uav_mec_nodes.nodes.uav import UavNode
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = UavNode(uav_id=1, context=context, parameter_overrides=[Parameter('uav_id', value=1),
                                                                         Parameter('run_torch_layers', value=True)])
        # AlexNet (8 layers): partition layer 7 leaves layers 7 and 8 (the last FC layers) to the UAV
        node.on_report(TaskReport(slot=0, computing_uav=1, dnn_type=0, partition_layer=7, uav_cpu_hz=2e9))
        node.on_report(TaskReport(slot=0, computing_uav=0, dnn_type=0, partition_layer=1, uav_cpu_hz=3e9))
        assert node.layers_run == 2
        assert node.load_hz == {0: 2e9}
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)


def test_multi_process_run_stops_at_once_with_the_log_of_a_dead_core_node(tmp_path):
    g = GraphConfig(num_slots=SLOTS, policy='no-such-policy', bag_path=str(tmp_path / 'bag'))
    with MultiProcessRun(g, log_dir=tmp_path / 'logs') as run:
        result = run.wait(timeout_s=120)
        waited = time.monotonic() - run.start
    assert result.stopped.startswith('planner exited with code 2') and 'no-such-policy' in result.stopped
    assert result.exit_code == 1 and '--- planner (exit 2)' in result.detail
    assert waited < 60
    assert all(p.poll() is not None for p in run.processes.values())   # nothing of the run is left


def test_no_node_waits_on_qos_events_of_the_contract_topics(tmp_path, ros_domain_id):
    # rclpy gives every endpoint two QoS event handlers by default, and the executor visits each on every
    # wait; the graph's endpoints go without (their QoS and types come from one contract); the recorder
    # tells of a foreign writer DDS never matches by a look at the graph instead (next test)
    import rclpy
    from rclpy.parameter import Parameter

    from uav_mec_nodes.nodes.planner import PlannerNode
    from uav_mec_nodes.nodes.recorder import RecorderNode
    from uav_mec_nodes.nodes.uav import UavNode
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        nodes = [UavNode(uav_id=1, context=context, parameter_overrides=[Parameter('uav_id', value=1)]),
                 PlannerNode(context=context, parameter_overrides=[Parameter('policy', value='offload-all')]),
                 RecorderNode(context=context, parameter_overrides=[Parameter('bag_path', value=str(tmp_path / 'b'))])]
        own = 2   # every node's /parameter_events publisher, rclpy's own
        uav, planner, recorder = ({'subs': len(list(n.subscriptions)), 'pubs': len(list(n.publishers)),
                                   'events': len(list(n.waitables))} for n in nodes)
        assert uav['subs'] >= 4 and uav['pubs'] >= 4 and uav['events'] == own
        assert planner['subs'] >= 8 and planner['events'] == own
        assert recorder['subs'] >= 15 and recorder['events'] == own
        nodes[2].close()
        for node in nodes:
            node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)


def test_the_recorder_tells_once_of_each_foreign_writer_dds_never_matches_with_it(tmp_path, context, capfd):
    """A writer of a contract topic with another type, or offering less reliability or durability than the
    contract's readers request, is logged by the recorder once, naming the topic and the policy; a writer
    that matches (the contract's QoS and type, however foreign) is not. A reader with rclpy's default
    handlers on (what the recorder had before) hears the middleware say the same of the same writer."""
    import rclpy
    from rclpy.event_handler import SubscriptionEventCallbacks
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from std_msgs.msg import String

    from uav_mec_nodes.graph.contract import reader_qos
    from uav_mec_nodes.msg import Plan, SlotMetrics
    from uav_mec_nodes.nodes._common import qos
    from uav_mec_nodes.nodes.recorder import RecorderNode
    recorder = RecorderNode(context=context, parameter_overrides=[Parameter('bag_path', value=str(tmp_path / 'b'))])
    elsewhere = rclpy.Context()   # another participant: DDS refuses a second type on a topic within one
    rclpy.init(context=elsewhere)
    foreign = probe = None
    try:
        foreign = rclpy.create_node('foreign', context=elsewhere)
        spec = graph_topics(10, 3)
        best_effort = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT,
                                 durability=DurabilityPolicy.TRANSIENT_LOCAL)
        volatile = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)
        foreign.create_publisher(Plan, '/plan', best_effort)
        foreign.create_publisher(SlotMetrics, '/slot_metrics', volatile)
        foreign.create_publisher(String, '/task_reports', 10)
        foreign.create_publisher(Plan, '/plan', qos(spec['/plan'].qos))   # the contract's: matches
        # the middleware's own word, from a reader of /plan as the recorder's, with a QoS event handler
        heard = []
        probe = rclpy.create_node('probe', context=context)
        probe.create_subscription(
            Plan, '/plan', lambda m: None, qos(reader_qos(spec['/plan'].qos)),
            event_callbacks=SubscriptionEventCallbacks(incompatible_qos=lambda e: heard.append(e.total_count)))
        executor = SingleThreadedExecutor(context=context)
        for node in (recorder, probe):
            executor.add_node(node)
        def discovered() -> int:   # the foreign writers the recorder's participant knows of
            return sum(info.node_name == 'foreign' for topic in ('/plan', '/slot_metrics', '/task_reports')
                       for info in recorder.get_publishers_info_by_topic(topic))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (discovered() < 4 or not heard):
            executor.spin_once(timeout_sec=0.1)
        recorder.foreign.check()   # the writers its timer has not looked at yet
        recorder.foreign.check()   # each judged once: a second look logs nothing more
        log = capfd.readouterr().err
    finally:
        recorder.close()
        for node in (recorder, foreign, probe):
            if node is not None:
                node.destroy_node()
        rclpy.try_shutdown(context=elsewhere)
    assert heard == [1]   # DDS refused exactly one writer of /plan: the best-effort one
    lines = [line for line in log.splitlines() if 'DDS never matches it' in line]
    assert len(lines) == 3, log
    assert any('/foreign on /plan offers less' in x and 'reliability best_effort, where they ask reliable' in x
               for x in lines)
    assert any('/foreign on /slot_metrics offers less' in x and 'durability volatile, where they ask '
               'transient_local' in x for x in lines)
    assert any('/foreign on /task_reports is of type std_msgs/msg/String, not the contract\'s '
               'uav_mec_nodes/msg/TaskReport' in x for x in lines)
