"""Bad messages are rejected with a logged reason; no node crashes; every task still ends recorded."""
import math
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from rclpy.parameter import Parameter

from uav_mec_nodes.bags.io import read_bag
from uav_mec_nodes.graph.layout import GraphConfig
from uav_mec_nodes.msg import (ChannelState, FailureEvent, FailureReport, OffloadDecision, Plan, PlantCommand,
                               UavCommand, UavState, UserStates)
from uav_mec_nodes.nodes.channel_sim import ChannelSimNode
from uav_mec_nodes.nodes.planner import PlannerNode
from uav_mec_nodes.nodes.sequencer import SequencerNode

HERE = Path(__file__).resolve().parent


def _params(**kw):
    return [Parameter(k, value=v) for k, v in kw.items()]


def _plan_for(sim, **bad):
    n = sim.world.num_users
    plan = Plan(slot=sim.world.slot, uav_alive=[True] * sim.world.num_uavs)
    for i in range(n):
        d = OffloadDecision(user_id=i, partition_layer=1, serving_uav=0, migration_target=-1,
                            tx_power_w=float('nan'), local_cpu_hz=1e9, uav_cpu_hz=1e10)
        plan.decisions.append(d)
    for i, (field, value) in enumerate(bad.items()):
        setattr(plan.decisions[i], field, value)
    return plan


def test_channel_sim_rejects_malformed_decisions_and_drops_tasks_of_dead_uavs(context, capfd):
    sim = ChannelSimNode(context=context, parameter_overrides=_params(num_slots=3, max_failures=1))
    sim.publish_slot_inputs()
    sim.on_failure_report(FailureReport(slot=0))
    sim.on_failure_report(FailureReport(slot=1))
    sim.accounting.book.lost_before(2, 0)   # UAV 2 down from the start
    plan = _plan_for(sim, tx_power_w=float('inf'), partition_layer=999, serving_uav=7, migration_target=42,
                     local_cpu_hz=float('nan'))
    plan.decisions[5].serving_uav = 2   # well formed, but UAV 2 is down: the model drops it
    plan.uav_alive = [True, True, False]
    sim.on_plan(plan)
    record = sim.records[-1]
    assert sorted(record['rejected']) == [0, 1, 2, 3, 4]
    states = record['task_state']
    assert states[5] == 2 and all(s in (0, 1) for i, s in enumerate(states) if i != 5)
    assert sum(record[f'tasks_{k}'] for k in ('completed', 'late', 'dropped')) == 10
    err = capfd.readouterr().err
    assert 'rejected decision for user 0: tx_power_w' in err
    assert 'rejected decision for user 2: serving_uav: unknown UAV id 7' in err
    assert 'decision for user 5 names UAV 2, which is down: the task is dropped' in err
    # a plan with the wrong number of decisions: all rejected, all tasks still accounted
    short = _plan_for(sim)
    short.decisions = short.decisions[:3]
    sim.world_states = {}
    sim.published_slot = sim.world.slot
    sim.on_plan(short)
    assert len(sim.records[-1]['rejected']) == 10 and len(sim.records[-1]['task_state']) == 10
    sim.on_failure(FailureEvent(slot=0, uav_id=99))
    assert 'unknown UAV id 99' in capfd.readouterr().err
    sim.destroy_node()


def test_planner_and_world_reject_nan_and_unknown_ids(context, capfd):
    planner = PlannerNode(context=context, parameter_overrides=_params(policy='offload-all', num_slots=3))
    planner.on_channel(ChannelState(slot=0, num_users=10, num_uavs=3, mu_uav_gain=[math.nan] * 30,
                                    mu_uav_rate_bps=[1.0] * 30, uav_uav_rate_bps=[1.0] * 9))
    planner.on_channel(ChannelState(slot=0, num_users=4, num_uavs=3))
    planner.on_users(UserStates(slot=0, positions=[], dnn_types=[]))
    bad_state = UavState(slot=0, uav_id=0)
    bad_state.position.x = math.nan
    planner.on_uav_state(bad_state)
    planner.on_uav_state(UavState(slot=0, uav_id=12))
    planner.on_failure(FailureEvent(slot=0, uav_id=12))
    assert planner.gate.channels == {} and planner.gate.users == {} and planner.gate.uav_states[0] == {}
    err = capfd.readouterr().err
    for reason in ('NaN, inf or negative gains', 'wrong sizes', 'expected 10', 'NaN or inf position',
                   'unknown UAV id 12'):
        assert reason in err
    sequencer = SequencerNode(context=context, parameter_overrides=_params(num_slots=3))
    cmd = UavCommand(slot=0, uav_id=1)
    cmd.acceleration.x = math.inf
    sequencer.on_command(cmd)
    sequencer.on_command(UavCommand(slot=0, uav_id=40))
    assert sequencer.seq.commands == {}
    assert 'NaN or inf acceleration' in capfd.readouterr().err
    planner.destroy_node()
    sequencer.destroy_node()


def test_a_rogue_publisher_changes_no_number_of_the_run(tmp_path, ros_domain_id):
    """A forger on the run's domain, with the run's own identity: the run's numbers are its solo numbers."""
    import os

    from helpers import assert_every_task_once, gym_episode

    from uav_mec_nodes.graph.launcher import MultiProcessRun
    from uav_mec_nodes.bags.report import summarize
    env = dict(os.environ, ROS_DOMAIN_ID=ros_domain_id, ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    rogue = subprocess.Popen([sys.executable, str(HERE / 'rogue_publisher.py'), '600'], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = rogue.stdout.readline()   # the junk is flowing before the episode starts
    try:
        # one process per node and a 1 s lease: 10,000-decision plans must not starve a UAV's heartbeat
        g = GraphConfig(num_slots=20, policy='offload-all', failure_schedule='1:4', lease_s=1.0,
                        real_time_factor=5.0, bag_path=str(tmp_path / 'bag'), domain_id=int(ros_domain_id))
        with MultiProcessRun(g, log_dir=tmp_path / 'logs') as run:
            result = run.wait(timeout_s=180)
        run_ended = time.monotonic()
    finally:
        rogue.terminate()
        out = first + rogue.communicate(timeout=20)[0]
    assert 'published' in first, out
    assert rogue.returncode == 0, out   # an error while flooding is a failed test, not a quiet rogue
    rounds, last = re.search(r'flooded (\d+) rounds, the last at ([\d.]+)', out).groups()
    assert float(last) >= run_ended - 1.0, f'the flood stopped {run_ended - float(last):.1f} s before the run ended'
    assert f"run id learned: '{result.run_id}'" in out, out   # it forged with the run's own identity
    assert not result.stopped, result.stopped + result.detail
    expected, log = gym_episode('offload-all', 0, 20, schedule=((1, 4),))
    bag = read_bag(tmp_path / 'bag')
    np.testing.assert_allclose([m.e_tot for m in sorted(bag['/slot_metrics'], key=lambda m: m.slot)], expected,
                               rtol=1e-9, atol=0)
    assert_every_task_once(bag, 20)
    assert [(f.uav_id, f.slot, f.mode) for f in bag['/failures']] == [(1, 4, FailureEvent.MODE_ANNOUNCE)]
    assert all(len(p.decisions) == 10 for p in bag['/plan'])
    # who is up at each slot's start: the Gym env's, never the forged plans' or kill events'
    failed_before = [set().union(*([set()] + [set(s['failed_in_slot']) for s in log.slots[:t]])) for t in range(20)]
    assert [list(p.uav_alive) for p in sorted(bag['/plan'], key=lambda p: p.slot)] == \
        [[j not in failed_before[t] for j in range(3)] for t in range(20)]
    summary = summarize(bag, 'offload-all', 0)
    assert summary['e_tot'] == pytest.approx(expected.sum(), rel=1e-9) and summary['slots'] == 20
    strays = summary['stray_input']
    for topic in ('/plan', '/slot_metrics', '/failures', '/world/uav_states', '/uav_1/cmd', '/clock'):
        assert strays.get(topic, 0) > 0, strays
    # the writer is checked first (before its sample is even parsed): forged run ids do not matter
    assert "writer '/rogue' does not own /plan" in {m.reason for m in bag['/recorder/stray_input']}


def test_a_setpoint_command_flies_towards_the_target_within_limits(context):
    sequencer = SequencerNode(context=context, parameter_overrides=_params(num_slots=3))
    sent = []
    sequencer.plant_pub.publish = sent.append
    start = np.array([[100.0, 100.0, 150.0], [300.0, 300.0, 150.0], [400.0, 100.0, 150.0]])
    for j, q in enumerate(start):
        state = UavState(slot=0, uav_id=j)
        state.position.x, state.position.y, state.position.z = q
        sequencer.on_state(state)
    for dx in (1.0, 1000.0):
        cmd = UavCommand(slot=0, uav_id=0, mode=UavCommand.MODE_SETPOINT)
        cmd.setpoint.x, cmd.setpoint.y, cmd.setpoint.z = start[0, 0] + dx, start[0, 1], start[0, 2]
        sequencer.seq.commands = {}
        sequencer.on_command(cmd)
        sequencer.plant_pub.publish(sequencer.move_command(sequencer.seq.move(np.ones(3, bool))))
        target, velocity = sent[-1].target[0], sent[-1].target_velocity[0]
        if dx == 1.0:   # 1 m: within a_max, reached exactly
            np.testing.assert_allclose([target.x, target.y, target.z], start[0] + [1.0, 0, 0], atol=1e-9)
        else:           # (7) limits a far setpoint
            assert np.linalg.norm([velocity.x, velocity.y, velocity.z]) <= sequencer.cfg.uavs.v_max_mps + 1e-9
            assert target.x - start[0, 0] <= 0.5 * sequencer.cfg.uavs.a_max_mps2 + 1e-9
    assert sent[-1].kind == PlantCommand.KIND_MOVE and list(sent[-1].moving) == [True, False, False]
    sequencer.destroy_node()


def _publish_and_take(context, node, inputs, pub, messages, got: list, expected: int) -> None:
    """Publish once the node's subscription matched; spin until `expected` arrived and the guard holds none,
    then a little longer (what should not arrive would by then)."""
    from rclpy.executors import SingleThreadedExecutor
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    deadline = time.monotonic() + 10
    while pub.get_subscription_count() < 1 and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    for msg in messages:
        pub.publish(msg)
    while (len(got) < expected or inputs.guard.pending) and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    for _ in range(10):
        executor.spin_once(timeout_sec=0.02)


@pytest.mark.parametrize('filtered', [True, False], ids=['node', 'recorder'])
def test_another_runs_messages_are_dropped_by_dds_before_python(context, filtered):
    """A node's subscriptions carry a content filter on run_id: another run's plans never reach its
    callbacks or its guard (a flood costs it nothing). The recorder's are unfiltered, to count them."""
    import rclpy

    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.nodes._common import GuardedInput, qos
    node = rclpy.create_node('channel_sim', context=context)
    writer = rclpy.create_node('planner', context=context)
    try:
        inputs = GuardedInput(node, 'run-a', load_scenario(), filter_foreign_runs=filtered)
        got = []
        sub = inputs.subscribe(Plan, '/plan', lambda m: got.append(m.run_id))
        assert sub.is_cft_enabled == filtered
        pub = writer.create_publisher(Plan, '/plan', qos(inputs.topics['/plan'].qos))
        _publish_and_take(context, node, inputs, pub, [Plan(run_id='run-a' if k % 2 else 'run-b', slot=k)
                                                        for k in range(10)], got, 5)
        assert got == ['run-a'] * 5
        other = inputs.guard.strays.get(('/plan', 'message of another run (run-b)'), 0)
        assert other == (0 if filtered else 5)
    finally:
        writer.destroy_node()
        node.destroy_node()


@pytest.mark.parametrize('filtered', [True, False], ids=['run-filtered', 'any-run'])
def test_a_uav_node_is_handed_only_its_own_uavs_messages_of_a_topic_of_all_uavs(context, filtered):
    """subscribe(only=(field, value)) adds a field term to the DDS content filter (beside the run's, where
    there is one): the task reports of other UAVs never reach the callback, nor the guard's stray counts."""
    import rclpy

    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.msg import TaskReport
    from uav_mec_nodes.nodes._common import GuardedInput, content_filter, qos
    assert content_filter(None) is None
    both = content_filter('run-a', 'computing_uav', 1)
    assert (both.filter_expression, list(both.expression_parameters)) == (
        'run_id = %0 AND computing_uav = %1', ["'run-a'", '1'])
    node = rclpy.create_node('uav_1', context=context)
    writer = rclpy.create_node('channel_sim', context=context)
    try:
        inputs = GuardedInput(node, 'run-a', load_scenario(), filter_foreign_runs=filtered)
        got = []
        sub = inputs.subscribe(TaskReport, '/task_reports', lambda m: got.append((m.run_id, m.computing_uav)),
                               only=('computing_uav', 1))
        assert sub.is_cft_enabled
        pub = writer.create_publisher(TaskReport, '/task_reports', qos(inputs.topics['/task_reports'].qos))
        _publish_and_take(context, node, inputs, pub, [
            TaskReport(run_id='run-a' if k < 9 else 'run-b', slot=k, computing_uav=k % 3 - 1) for k in range(12)],
            got, 3)
        assert got == [('run-a', 1)] * 3
        # another run's report for UAV 1 passes the field term alone and is then counted by the guard
        assert sum(inputs.guard.strays.values()) == (0 if filtered else 1)
    finally:
        writer.destroy_node()
        node.destroy_node()


def test_a_node_whose_content_filters_are_off_sets_none_and_its_guard_still_drops_another_runs_messages(context):
    """content_filters off (a run on a domain of its own): no DDS filter, so every report reaches Python; the
    guard drops another run's by run id and the callback gets this run's of every UAV (a UAV node's checks
    its own)."""
    import rclpy

    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.msg import TaskReport
    from uav_mec_nodes.nodes._common import GuardedInput, qos
    node = rclpy.create_node('uav_1', context=context)
    node.declare_parameter('content_filters', 'off')
    writer = rclpy.create_node('channel_sim', context=context)
    try:
        inputs = GuardedInput(node, 'run-a', load_scenario())
        got = []
        sub = inputs.subscribe(TaskReport, '/task_reports', lambda m: got.append((m.run_id, m.computing_uav)),
                               only=('computing_uav', 1))
        assert not sub.is_cft_enabled
        pub = writer.create_publisher(TaskReport, '/task_reports', qos(inputs.topics['/task_reports'].qos))
        _publish_and_take(context, node, inputs, pub, [
            TaskReport(run_id='run-a' if k < 9 else 'run-b', slot=k, computing_uav=k % 3 - 1) for k in range(12)],
            got, 9)
        assert got == [('run-a', k % 3 - 1) for k in range(9)]
        assert inputs.guard.strays == {('/task_reports', 'message of another run (run-b)'): 3}
    finally:
        writer.destroy_node()
        node.destroy_node()
