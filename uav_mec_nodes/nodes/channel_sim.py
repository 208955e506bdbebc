"""channel_sim: the users, the channels and the accounting of every slot (graph.accounting.SlotAccounting).

Each slot, once it has every UAV's state from the plant, it publishes /users and
/channel; on the plan, once the failure injector (and a real-time plant) has
reported the slot, it accounts the slot and publishes one TaskReport per task, the
SlotMetrics and RViz markers. All numbers are SlotAccounting's (the Gym env's).
"""
from __future__ import annotations

from collections import deque

import numpy as np
from geometry_msgs.msg import Point
from rclpy.node import Node
from visualization_msgs.msg import MarkerArray

from uav_mec_nodes.graph.accounting import SlotAccounting
from uav_mec_nodes.graph.progress import SLOTS_DONE, ProgressFiles
from uav_mec_nodes.msg import ChannelState, FailureEvent, FailureReport, Plan, SlotMetrics, TaskReport, UavState, \
    UserStates
from uav_mec_nodes.nodes import _common as c
from uav_mec_nodes.nodes._messages import markers, slot_metrics, task_reports


class ChannelSimNode(Node):
    RECORDS_KEPT = 100    # per-slot records kept for callers in the same process (memory stays flat)

    def __init__(self, **kwargs):
        super().__init__('channel_sim', **kwargs)
        p, self.cfg = c.declare_node(self, 'channel_sim')
        self.run_id = p.run_id
        self.accounting = SlotAccounting(self.cfg, p.seed)
        self.world = self.accounting.world
        self.world_states, self.published_slot, self.done, self.slots_done = {}, -1, False, 0
        # per slot: the Gym env's info dict of the slot (tests and the single-process summary read it)
        self.records = deque(maxlen=self.RECORDS_KEPT)
        self.progress = ProgressFiles.from_environment()   # the launcher's view of the run
        inputs = c.GuardedInput(self, self.run_id, self.cfg)
        publisher = lambda msg_type, topic: c.publisher(self, msg_type, topic, inputs.topics)
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
        self.plant_reported = set() if p.plant in c.REAL_TIME_PLANTS else None
        if self.plant_reported is not None:
            inputs.subscribe(FailureReport, c.TOPIC_PLANT_REPORT, self.on_plant_report)
        self.pending_plan = None

    def on_failure(self, msg: FailureEvent) -> None:
        if msg.uav_id >= self.world.num_uavs:
            self.get_logger().warning(f'rejected failure event: unknown UAV id {msg.uav_id}')
            return
        self.accounting.book.record(msg.uav_id, msg.slot, msg.mode)

    def on_failure_report(self, msg: FailureReport, reported=None) -> None:
        if len(msg.failures) > self.world.num_uavs:
            self.get_logger().warning(f'rejected failure report of slot {msg.slot}: {len(msg.failures)} events')
            return
        for event in msg.failures:
            self.on_failure(event)
        if msg.slot >= self.world.slot:
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
        reason = c.uav_state_ok(msg, self.world.num_uavs)
        if reason:
            self.get_logger().warning(f'rejected world state: {reason}')
            return
        if self.done or msg.slot != self.world.slot:
            return
        self.world_states[msg.uav_id] = msg
        if len(self.world_states) == self.world.num_uavs and self.published_slot != self.world.slot:
            states = [self.world_states[j] for j in range(self.world.num_uavs)]
            self.accounting.begin(c.point_array([s.position for s in states]),
                                  c.point_array([s.velocity for s in states]))
            self.publish_slot_inputs()

    def publish_slot_inputs(self) -> None:
        w, t = self.world, self.world.slot
        users = UserStates(run_id=self.run_id, slot=t,
                           positions=[Point(x=p[0], y=p[1], z=p[2]) for p in w.users.position],
                           speed_mps=w.users.speed_mps.tolist(), heading_rad=w.users.heading_rad.tolist(),
                           dnn_types=w.dnn_type.astype(np.uint8).tolist(),
                           task_ids=[t * w.num_users + i for i in range(w.num_users)])
        channel = ChannelState(run_id=self.run_id, slot=t, num_users=w.num_users, num_uavs=w.num_uavs,
                               mu_uav_gain=w.mu_uav_gain.ravel().tolist(),
                               mu_uav_rate_bps=w.mu_uav_rate_bps().ravel().tolist(),
                               uav_uav_rate_bps=w.uav_uav_rate.ravel().tolist())
        users.header.stamp = channel.header.stamp = c.stamp(t, self.cfg.scenario.slot_s)
        self.users_pub.publish(users)
        self.channel_pub.publish(channel)
        self.published_slot = t

    def on_plan(self, plan: Plan) -> None:
        t = self.world.slot
        if self.done or plan.slot != t or self.published_slot != t:
            if not self.done and plan.slot != t:
                self.get_logger().warning(f'ignored plan for slot {plan.slot} (current slot {t})')
            return
        if not self.reported(t):   # the injector's (and a real-time plant's) word on this slot first
            self.pending_plan = plan
            return
        self.reported_slots.discard(t)
        if self.plant_reported is not None:
            self.plant_reported.discard(t)
        uav_pos = c.point_array([self.world_states[j].position for j in range(self.world.num_uavs)]) \
            if len(self.world_states) == self.world.num_uavs else self.world.uav_pos.copy()
        user_pos = self.world.users.position.copy()   # where the slot's tasks came from (the users move on)
        dnn_type = self.world.dnn_type.copy()
        done = self.accounting.account(plan)
        for line in done.warnings:
            self.get_logger().warning(line)
        stamp = c.stamp(t, self.cfg.scenario.slot_s)
        self.marker_pub.publish(markers(stamp, uav_pos, done.alive_start, user_pos, done.decisions.serving_uav))
        self.records.append(done.info)
        self.slots_done += 1
        for report in task_reports(self.run_id, stamp, done, dnn_type):
            self.report_pub.publish(report)
        self.metrics_pub.publish(slot_metrics(self.run_id, stamp, done.slot, done.info))
        self.progress.write(SLOTS_DONE, self.slots_done)
        self.world_states = {}
        if self.accounting.over:
            self.done = True
            self.get_logger().info(f'episode done: {len(self.records)} slots accounted')


def main(args=None) -> None:
    from uav_mec_nodes.nodes._run import run_single
    run_single(ChannelSimNode, args)


if __name__ == '__main__':
    main()
