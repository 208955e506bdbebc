"""Outputs as messages: a plant's UavStates, the planner's Plan (graph.planning.SlotPlan), channel_sim's
TaskReports and SlotMetrics (graph.accounting.Accounted) and RViz markers. Plain conversions, no logic."""
from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Point, Vector3
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from uav_mec_nodes.model.slot import DROP_REASONS
from uav_mec_nodes.msg import OffloadDecision, Plan, SlotMetrics, TaskReport, UavCommand, UavState
from uav_mec_nodes.nodes._common import stamp

# TaskReport fields taken as they are from the slot's result (model.slot.SlotResult), per task
RESULT_FIELDS = ('local_time_s', 'tx_time_s', 'migration_time_s', 'uav_time_s', 'latency_s', 'local_energy_j',
                 'tx_energy_j', 'migration_energy_j', 'uav_energy_j', 'tx_power_w', 'uav_cpu_hz')
METRIC_FIELDS = ('e_tot', 'local_energy_j', 'tx_energy_j', 'flight_energy_j', 'uav_compute_energy_j',
                 'migration_energy_j', 'reward', 'tasks_completed', 'tasks_late', 'tasks_dropped', 'tasks_migrated')


def task_reports(run_id: str, stamp, done, dnn_type: np.ndarray):
    """One TaskReport per task of an accounted slot, each with its one terminal state and why."""
    r, d, n = done.result, done.decisions, len(dnn_type)
    for i in range(n):
        reason = DROP_REASONS[r.drop_reason[i]]
        if i in done.rejected:
            reason = (reason + '; ' if reason else '') + f'decision rejected: {done.rejected[i]}'
        report = TaskReport(
            run_id=run_id, slot=done.slot, task_id=done.slot * n + i, user_id=i, dnn_type=int(dnn_type[i]),
            partition_layer=int(d.partition_layer[i]), serving_uav=int(d.serving_uav[i]),
            computing_uav=int(r.computing_uav[i]), migrated=bool(r.migrated[i]), terminal_state=int(r.state[i]),
            drop_reason=reason, **{name: float(getattr(r, name)[i]) for name in RESULT_FIELDS})
        report.header.stamp = stamp
        yield report


def slot_metrics(run_id: str, stamp, slot: int, info: dict) -> SlotMetrics:
    m = SlotMetrics(run_id=run_id, slot=slot, alive_uavs=int(info['alive'].sum()),
                    collision_penalty=bool(info['collision']), timeout_penalty=bool(info['timeout']),
                    boundary_penalty=bool(info['out_of_bounds']), **{name: info[name] for name in METRIC_FIELDS})
    m.header.stamp = stamp
    return m


def markers(stamp, uav_pos, alive, user_pos, serving) -> MarkerArray:
    """RViz: UAVs (spheres, red when down), users (cubes), association lines (frame 'world')."""
    def marker(ns, idx, kind, color, scale):
        m = Marker(ns=ns, id=idx, type=kind, action=Marker.ADD)
        m.header.frame_id, m.header.stamp = 'world', stamp
        m.color = ColorRGBA(r=color[0], g=color[1], b=color[2], a=1.0)
        m.scale.x = m.scale.y = m.scale.z = scale
        m.pose.orientation.w = 1.0
        return m
    out = []
    for j, q in enumerate(uav_pos):
        m = marker('uavs', j, Marker.SPHERE, (0.1, 0.4, 1.0) if alive[j] else (1.0, 0.1, 0.1), 15.0)
        m.pose.position = Point(x=q[0], y=q[1], z=q[2])
        out.append(m)
    lines = marker('associations', 0, Marker.LINE_LIST, (0.2, 0.8, 0.2), 1.0)
    for i, w in enumerate(user_pos):
        m = marker('users', i, Marker.CUBE, (1.0, 0.7, 0.0), 8.0)
        m.pose.position = Point(x=w[0], y=w[1], z=0.0)
        out.append(m)
        q = uav_pos[serving[i]]
        lines.points += [Point(x=w[0], y=w[1], z=0.0), Point(x=q[0], y=q[1], z=q[2])]
    out.append(lines)
    return MarkerArray(markers=out)


def plan_message(run_id: str, d, users, policy: str, cfg) -> Plan:
    """The Plan of a SlotPlan: one OffloadDecision per user of the slot's UserStates, one command per UAV."""
    plan = Plan(run_id=run_id, slot=d.slot, policy=policy, decision_time_s=d.decision_time_s,
                uav_alive=d.alive_start.tolist())
    plan.header.stamp = stamp(d.slot, cfg.scenario.slot_s)
    for i in range(len(d.partition_layer)):
        plan.decisions.append(OffloadDecision(
            task_id=users.task_ids[i], user_id=i, dnn_type=users.dnn_types[i],
            partition_layer=int(d.partition_layer[i]), serving_uav=int(d.serving_uav[i]),
            migration_target=int(d.migration_target[i]), tx_power_w=float('nan'),
            local_cpu_hz=float(d.local_cpu_fraction[i] * cfg.users.cpu_max_hz),
            uav_cpu_hz=float(d.cpu_share[i] * cfg.uavs.cpu_hz)))
    for j, a in enumerate(d.accel):
        cmd = UavCommand(run_id=run_id, slot=d.slot, uav_id=j, mode=UavCommand.MODE_ACCELERATION)
        cmd.acceleration.x, cmd.acceleration.y, cmd.acceleration.z = (float(v) for v in a)
        cmd.header.stamp = plan.header.stamp
        plan.uav_commands.append(cmd)
    return plan


def uav_states(run_id: str, slot: int, positions, velocities, alive, flight_energy_j, cfg):
    """A plant's answer to START t: one UavState per UAV, in the world frame."""
    for j, (q, v) in enumerate(zip(positions, velocities)):
        msg = UavState(run_id=run_id, slot=slot, uav_id=j, alive=bool(alive[j]),
                       position=Point(x=float(q[0]), y=float(q[1]), z=float(q[2])),
                       velocity=Vector3(x=float(v[0]), y=float(v[1]), z=float(v[2])),
                       cpu_capacity_hz=cfg.uavs.cpu_hz, flight_energy_j=float(flight_energy_j[j]))
        msg.header.stamp, msg.header.frame_id = stamp(slot, cfg.scenario.slot_s), 'world'
        yield msg
