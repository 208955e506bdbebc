"""channel_sim: the users, the channels and the accounting of every slot.

Runs the same UavMecEnv as the Gym environment, seeded the same way, so the
users' motion, their tasks and the fading draws are the Gym env's; UAV
kinematics come from the plant's states (begin_slot), failures from /failures
and the plan's view of live UAVs. Each slot it publishes /users and /channel, then,
on the plan, evaluates the slot with the model (evaluate_slot) and publishes
one TaskReport per task and the SlotMetrics. A malformed decision (NaN or
out-of-range values, an unknown UAV id, wrong counts) is rejected with a
logged reason and replaced by a safe one (whole DNN on the nearest live UAV),
so every task still ends in a recorded state; a decision naming a UAV that
is down ends DROPPED with that reason, as in the model.
"""
from __future__ import annotations

import math
from collections import deque

import numpy as np
from geometry_msgs.msg import Point
from rclpy.node import Node
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from uav_mec_nodes.env.uav_mec_env import UavMecEnv
from uav_mec_nodes.model.failures import NEVER
from uav_mec_nodes.model.slot import DROP_REASONS, SlotDecisions, evaluate_slot
from uav_mec_nodes.msg import (ChannelState, FailureEvent, FailureReport, Plan, SlotMetrics, TaskReport, UavState,
                               UserStates)
from uav_mec_nodes.nodes import _common as c
from uav_mec_nodes.nodes._failure_book import FailureBook


def check_decision(d, i: int, num_layers: int, num_uavs: int, p_max: float):
    """None if OffloadDecision d for user i is well formed, else the reason."""
    if d.user_id != i:
        return f'decision {i} is for user {d.user_id}'
    if not 1 <= d.partition_layer <= num_layers:
        return f'partition_layer must be in [1, {num_layers}], got {d.partition_layer}'
    if not 0 <= d.serving_uav < num_uavs:
        return f'serving_uav: unknown UAV id {d.serving_uav} (J={num_uavs})'
    if not (d.migration_target == -1 or 0 <= d.migration_target < num_uavs):
        return f'migration_target: unknown UAV id {d.migration_target}'
    if math.isinf(d.tx_power_w) or (not math.isnan(d.tx_power_w) and not 0.0 <= d.tx_power_w <= p_max):
        return f'tx_power_w must be NaN (optimal) or in [0, {p_max}], got {d.tx_power_w}'
    for name in ('local_cpu_hz', 'uav_cpu_hz'):
        if not math.isfinite(getattr(d, name)) or getattr(d, name) < 0:
            return f'{name} must be finite and >= 0, got {getattr(d, name)}'
    return None


class ChannelSimNode(Node):
    RECORDS_KEPT = 100    # per-slot records kept for callers in the same process (memory stays flat)

    def __init__(self, **kwargs):
        super().__init__('channel_sim', **kwargs)
        p, self.cfg = c.declare_node(self, 'channel_sim')
        self.run_id = p.run_id
        self.env = UavMecEnv(self.cfg)
        self.env.reset(seed=p.seed)
        self.env.fail_slots[:] = NEVER   # failures come from /failures and the plan, not from the replica
        self.book = FailureBook(self.env.num_uavs)
        self.world_states = {}
        self.published_slot = -1
        self.done = False
        # per slot: the info dict of env.finish_slot (tests and the single-process summary read it)
        self.records = deque(maxlen=self.RECORDS_KEPT)
        self.slots_done = 0
        inputs = c.GuardedInput(self, self.run_id, self.cfg, 0.5)
        topics = inputs.topics

        def publisher(msg_type, topic):
            return self.create_publisher(msg_type, topic, c.qos(topics[topic].qos))
        self.users_pub = publisher(UserStates, c.TOPIC_USERS)
        self.channel_pub = publisher(ChannelState, c.TOPIC_CHANNEL)
        self.report_pub = publisher(TaskReport, c.TOPIC_TASK_REPORTS)
        self.metrics_pub = publisher(SlotMetrics, c.TOPIC_SLOT_METRICS)
        self.marker_pub = publisher(MarkerArray, c.TOPIC_MARKERS)
        inputs.subscribe(UavState, c.TOPIC_WORLD_UAVS, self.on_world_state)
        inputs.subscribe(Plan, c.TOPIC_PLAN, self.on_plan)
        inputs.subscribe(FailureEvent, c.TOPIC_FAILURES, self.on_failure)
        inputs.subscribe(FailureReport, c.TOPIC_FAILURE_REPORT, self.on_failure_report)
        self.reported_slots = set()
        # a real-time plant (PX4) fails when it fails: a slot is accounted once it has been flown
        self.plant_reported = None if p.plant == 'kinematic' else set()
        if self.plant_reported is not None:
            inputs.subscribe(FailureReport, c.TOPIC_PLANT_REPORT, self.on_plant_report)
        self.pending_plan = None

    def on_failure(self, msg: FailureEvent) -> None:
        if msg.uav_id >= self.env.num_uavs:
            self.get_logger().warning(f'rejected failure event: unknown UAV id {msg.uav_id}')
            return
        self.book.fail_during(msg.uav_id, msg.slot)

    def on_failure_report(self, msg: FailureReport, reported=None) -> None:
        if len(msg.failures) > self.env.num_uavs:
            self.get_logger().warning(f'rejected failure report of slot {msg.slot}: {len(msg.failures)} events')
            return
        for event in msg.failures:
            self.on_failure(event)
        if msg.slot >= self.env.slot:
            (self.reported_slots if reported is None else reported).add(msg.slot)
        if self.pending_plan is not None and self.reported(self.pending_plan.slot):
            plan, self.pending_plan = self.pending_plan, None
            self.on_plan(plan)

    def on_plant_report(self, msg: FailureReport) -> None:
        self.on_failure_report(msg, self.plant_reported)

    def reported(self, slot: int) -> bool:
        """The injector's word on the slot is in and, with a real-time plant, the plant has flown it."""
        return slot in self.reported_slots and (self.plant_reported is None or slot in self.plant_reported)

    def on_world_state(self, msg: UavState) -> None:
        reason = c.uav_state_ok(msg, self.env.num_uavs)
        if reason:
            self.get_logger().warning(f'rejected world state: {reason}')
            return
        if self.done or msg.slot != self.env.slot:
            return
        self.world_states[msg.uav_id] = msg
        if len(self.world_states) == self.env.num_uavs and self.published_slot != self.env.slot:
            states = [self.world_states[j] for j in range(self.env.num_uavs)]
            if self.env.slot > 0:   # slot 0's channels were drawn at reset, as in the Gym env
                self.env.begin_slot(c.point_array([s.position for s in states]),
                                    c.point_array([s.velocity for s in states]))
            self.publish_slot_inputs()

    def publish_slot_inputs(self) -> None:
        env, t = self.env, self.env.slot
        header_stamp = c.stamp(t, self.cfg.scenario.slot_s)
        users = UserStates(run_id=self.run_id, slot=t,
                           positions=[Point(x=p[0], y=p[1], z=p[2]) for p in env.users.position],
                           speed_mps=env.users.speed_mps.tolist(), heading_rad=env.users.heading_rad.tolist(),
                           dnn_types=env.dnn_type.astype(np.uint8).tolist(),
                           task_ids=[t * env.num_users + i for i in range(env.num_users)])
        users.header.stamp = header_stamp
        channel = ChannelState(run_id=self.run_id, slot=t, num_users=env.num_users, num_uavs=env.num_uavs,
                               mu_uav_gain=env.mu_uav_gain.ravel().tolist(),
                               mu_uav_rate_bps=env.mu_uav_rate_bps().ravel().tolist(),
                               uav_uav_rate_bps=env.uav_uav_rate.ravel().tolist())
        channel.header.stamp = header_stamp
        self.users_pub.publish(users)
        self.channel_pub.publish(channel)
        self.published_slot = t

    def decisions_from(self, plan: Plan):
        """SlotDecisions and accelerations from a plan; malformed entries replaced (and logged)."""
        env = self.env
        n, j_n = env.num_users, env.num_uavs
        layers = env.arrays.num_layers[env.dnn_type]
        alive = env.alive_start
        phi, serving, target = np.ones(n, np.int64), np.zeros(n, np.int64), np.full(n, -1, np.int64)
        power = np.full(n, np.nan)
        rejected = {}
        if len(plan.decisions) != n:   # more than I decisions: not one of them is looked at
            rejected = {i: f'plan has {len(plan.decisions)} decisions for {n} users' for i in range(n)}
        for i in range(n):
            d = plan.decisions[i] if i < len(plan.decisions) and i not in rejected else None
            reason = rejected.get(i) or check_decision(d, i, int(layers[i]), j_n, self.cfg.users.tx_power_max_w)
            if reason:
                rejected[i] = reason
                gains = np.where(alive, env.mu_uav_gain[i], -np.inf)
                serving[i] = int(np.argmax(gains)) if alive.any() else 0
                continue
            phi[i], serving[i], target[i], power[i] = d.partition_layer, d.serving_uav, d.migration_target, \
                d.tx_power_w
        share = frac = None
        if env.paper_mode:
            share = np.array([d.uav_cpu_hz / self.cfg.uavs.cpu_hz if i not in rejected else 1.0
                              for i, d in enumerate(plan.decisions[:n])] + [1.0] * (n - len(plan.decisions)))
            frac = np.array([d.local_cpu_hz / self.cfg.users.cpu_max_hz if i not in rejected else 1.0
                             for i, d in enumerate(plan.decisions[:n])] + [1.0] * (n - len(plan.decisions)))
            share = np.where(share > 0, share, 1.0)
            frac = np.clip(np.where(frac > 0, frac, 1.0), 1e-9, 1.0)
        accel = np.zeros((j_n, 3))
        for cmd in plan.uav_commands[:j_n]:
            a = (cmd.acceleration.x, cmd.acceleration.y, cmd.acceleration.z)
            if cmd.uav_id < j_n and c.finite(*a):
                accel[cmd.uav_id] = a
        for i, reason in rejected.items():
            self.get_logger().warning(f'slot {plan.slot}: rejected decision for user {i}: {reason}; '
                                      f'served whole by UAV {serving[i]} instead')
        for i in np.flatnonzero(~alive[serving]):
            if int(i) not in rejected:
                self.get_logger().warning(f'slot {plan.slot}: decision for user {i} names UAV {serving[i]}, '
                                          f'which is down: the task is dropped')
        return SlotDecisions(phi, serving, target, share, frac, power), accel, rejected

    def on_plan(self, plan: Plan) -> None:
        env = self.env
        if self.done or plan.slot != env.slot or self.published_slot != env.slot:
            if not self.done and plan.slot != env.slot:
                self.get_logger().warning(f'ignored plan for slot {plan.slot} (current slot {env.slot})')
            return
        t = env.slot
        if not self.reported(t):   # the injector's (and a real-time plant's) word on this slot first
            self.pending_plan = plan
            return
        self.reported_slots.discard(t)
        if self.plant_reported is not None:
            self.plant_reported.discard(t)
        if len(plan.uav_alive) == env.num_uavs:
            for j in np.flatnonzero(~np.array(plan.uav_alive, bool)):
                self.book.down_before(int(j), t)
        env.fail_slots = self.book.fail_slots.copy()
        decisions, accel, rejected = self.decisions_from(plan)
        state, fly = env.slot_inputs()
        result = evaluate_slot(self.cfg, env.arrays, decisions, state, fly)
        self.publish_markers(t, decisions, state.alive_start)
        _, reward, terminated, _, info = env.finish_slot(result, decisions, accel, draw_next_channels=False)
        info['reward'] = reward
        info['rejected'] = rejected
        self.records.append(info)
        self.slots_done += 1
        self.publish_results(t, plan, decisions, result, info, rejected)
        self.world_states = {}
        if terminated:
            self.done = True
            self.get_logger().info(f'episode done: {len(self.records)} slots accounted')

    def publish_results(self, t, plan, decisions, result, info, rejected) -> None:
        env = self.env
        stamp = c.stamp(t, self.cfg.scenario.slot_s)
        for i in range(env.num_users):
            reason = DROP_REASONS[result.drop_reason[i]]
            if i in rejected:
                reason = (reason + '; ' if reason else '') + f'decision rejected: {rejected[i]}'
            report = TaskReport(
                run_id=self.run_id, slot=t, task_id=t * env.num_users + i, user_id=i, dnn_type=int(env.dnn_type[i]),
                partition_layer=int(decisions.partition_layer[i]), serving_uav=int(decisions.serving_uav[i]),
                computing_uav=int(result.computing_uav[i]), migrated=bool(result.migrated[i]),
                terminal_state=int(result.state[i]), drop_reason=reason,
                local_time_s=float(result.local_time_s[i]), tx_time_s=float(result.tx_time_s[i]),
                migration_time_s=float(result.migration_time_s[i]), uav_time_s=float(result.uav_time_s[i]),
                latency_s=float(result.latency_s[i]), local_energy_j=float(result.local_energy_j[i]),
                tx_energy_j=float(result.tx_energy_j[i]), migration_energy_j=float(result.migration_energy_j[i]),
                uav_energy_j=float(result.uav_energy_j[i]), tx_power_w=float(result.tx_power_w[i]),
                uav_cpu_hz=float(result.uav_cpu_hz[i]))
            report.header.stamp = stamp
            self.report_pub.publish(report)
        m = SlotMetrics(run_id=self.run_id, slot=t, e_tot=info['e_tot'], local_energy_j=info['local_energy_j'],
                        tx_energy_j=info['tx_energy_j'], flight_energy_j=info['flight_energy_j'],
                        uav_compute_energy_j=info['uav_compute_energy_j'],
                        migration_energy_j=info['migration_energy_j'], reward=info['reward'],
                        tasks_completed=info['tasks_completed'], tasks_late=info['tasks_late'],
                        tasks_dropped=info['tasks_dropped'], tasks_migrated=info['tasks_migrated'],
                        alive_uavs=int(info['alive'].sum()), collision_penalty=bool(info['collision']),
                        timeout_penalty=bool(info['timeout']), boundary_penalty=bool(info['out_of_bounds']))
        m.header.stamp = stamp
        self.metrics_pub.publish(m)

    def publish_markers(self, t, decisions, alive) -> None:
        """RViz: UAVs (spheres, red when down), users (cubes), association lines (frame 'world')."""
        env = self.env
        stamp = c.stamp(t, self.cfg.scenario.slot_s)
        markers = []

        def marker(ns, idx, kind, color, scale):
            m = Marker(ns=ns, id=idx, type=kind, action=Marker.ADD)
            m.header.frame_id, m.header.stamp = 'world', stamp
            m.color = ColorRGBA(r=color[0], g=color[1], b=color[2], a=1.0)
            m.scale.x = m.scale.y = m.scale.z = scale
            m.pose.orientation.w = 1.0
            return m
        world_pos = c.point_array([self.world_states[j].position for j in range(env.num_uavs)]) \
            if len(self.world_states) == env.num_uavs else env.uav_pos
        for j, q in enumerate(world_pos):
            m = marker('uavs', j, Marker.SPHERE, (0.1, 0.4, 1.0) if alive[j] else (1.0, 0.1, 0.1), 15.0)
            m.pose.position = Point(x=q[0], y=q[1], z=q[2])
            markers.append(m)
        lines = marker('associations', 0, Marker.LINE_LIST, (0.2, 0.8, 0.2), 1.0)
        for i, w in enumerate(env.users.position):
            m = marker('users', i, Marker.CUBE, (1.0, 0.7, 0.0), 8.0)
            m.pose.position = Point(x=w[0], y=w[1], z=0.0)
            markers.append(m)
            q = world_pos[decisions.serving_uav[i]]
            lines.points += [Point(x=w[0], y=w[1], z=0.0), Point(x=q[0], y=q[1], z=q[2])]
        markers.append(lines)
        self.marker_pub.publish(MarkerArray(markers=markers))


def main(args=None) -> None:
    from uav_mec_nodes.nodes._run import run_single
    run_single(ChannelSimNode, args)


if __name__ == '__main__':
    main()
