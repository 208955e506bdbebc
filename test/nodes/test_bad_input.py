"""Bad messages are rejected with a logged reason; no node crashes; every task still ends recorded."""
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rclpy
from rclpy.parameter import Parameter

from uav_mec_nodes.bag import read_bag
from uav_mec_nodes.graph import GraphConfig
from uav_mec_nodes.launcher import run_single_process
from uav_mec_nodes.msg import (ChannelState, FailureEvent, FailureReport, OffloadDecision, Plan, UavCommand,
                               UavState, UserStates)
from uav_mec_nodes.nodes.channel_sim import ChannelSimNode
from uav_mec_nodes.nodes.planner import PlannerNode
from uav_mec_nodes.nodes.world import WorldNode

HERE = Path(__file__).resolve().parent


@pytest.fixture
def context(ros_domain_id):
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.try_shutdown(context=ctx)


def _params(**kw):
    return [Parameter(k, value=v) for k, v in kw.items()]


def _plan_for(sim, **bad):
    n = sim.env.num_users
    plan = Plan(slot=sim.env.slot, uav_alive=[True] * sim.env.num_uavs)
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
    sim.book.down_before(2, 0)          # UAV 2 down from the start
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
    sim.published_slot = sim.env.slot
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
    assert planner.channels == {} and planner.users == {} and planner.uav_states[0] == {}
    err = capfd.readouterr().err
    for reason in ('NaN, inf or negative gains', 'wrong sizes', 'expected 10', 'NaN or inf position',
                   'unknown UAV id 12'):
        assert reason in err
    world = WorldNode(context=context, parameter_overrides=_params(num_slots=3))
    cmd = UavCommand(slot=0, uav_id=1)
    cmd.acceleration.x = math.inf
    world.on_command(cmd)
    world.on_command(UavCommand(slot=0, uav_id=40))
    assert world.commands == {}
    assert 'NaN or inf acceleration' in capfd.readouterr().err
    planner.destroy_node()
    world.destroy_node()


def test_graph_survives_a_rogue_publisher(tmp_path, ros_domain_id):
    """Junk on every input topic from another process while an episode runs."""
    rogue = subprocess.Popen([sys.executable, str(HERE / 'rogue_publisher.py'), '30'], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = rogue.stdout.readline()   # the junk is flowing before the episode starts
    try:
        g = GraphConfig(num_slots=8, policy='offload-all', bag_path=str(tmp_path / 'bag'), real_time_factor=20.0)
        result = run_single_process(g, timeout_s=120)
    finally:
        rogue.terminate()
        out = first + rogue.communicate(timeout=20)[0]
    assert 'published' in first, out
    assert len(result.slots) == 8
    bag = read_bag(tmp_path / 'bag')
    reports = bag['/task_reports']
    assert len({(r.slot, r.user_id) for r in reports}) == 80 and len(reports) == 80
    assert np.all(np.isfinite([m.e_tot for m in bag['/slot_metrics']]))


def test_world_setpoint_command_flies_towards_the_target_within_limits(context):
    world = WorldNode(context=context, parameter_overrides=_params(num_slots=3))
    start = world.pos[0].copy()
    cmd = UavCommand(slot=0, uav_id=0, mode=UavCommand.MODE_SETPOINT)
    cmd.setpoint.x, cmd.setpoint.y, cmd.setpoint.z = start[0] + 1.0, start[1], start[2]
    world.on_command(cmd)
    world.move(np.ones(3, bool))
    np.testing.assert_allclose(world.pos[0], start + [1.0, 0, 0], atol=1e-9)   # 1 m: within a_max
    cmd.slot, cmd.setpoint.x = 0, start[0] + 1000.0
    world.commands = {}
    world.on_command(cmd)
    world.move(np.ones(3, bool))
    assert np.linalg.norm(world.vel[0]) <= world.cfg.uavs.v_max_mps + 1e-9   # (7) limits a far setpoint
    world.destroy_node()
