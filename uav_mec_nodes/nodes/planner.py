"""planner: the central decision maker (any policy; the shipped SAC-PER policy by default).

Builds the MDP state (29) of slot t from /users, /channel and the world's
kinematic UAV states of slot t, lets the policy decide partition,
association, migration target and accelerations (planning.SlotPlanner; transmit
power: Dinkelbach in the model; CPU: the allocation mode), and publishes the plan.
When a slot can be decided, and which UAVs are down, is graph.planning.PlanGate's
(a UAV down for a lost lease is published as MODE_LIVELINESS_LOST); the decision
is SlotPlanner's. A UAV down at the start of a slot gets no users; users it
served go to live UAVs.
"""
from __future__ import annotations

import time

import numpy as np
from rclpy.node import Node

from uav_mec_nodes.graph.planning import (PlanGate, SlotPlanner, channel_message_problem, inputs_from_messages,
                                          users_message_problem)
from uav_mec_nodes.msg import ChannelState, FailureEvent, FailureReport, Plan, UavState, UserStates
from uav_mec_nodes.nodes import _common as c
from uav_mec_nodes.nodes._messages import plan_message


class PlannerNode(Node):
    def __init__(self, **kwargs):
        super().__init__('planner', **kwargs)
        p, self.cfg = c.declare_node(self, 'planner')
        self.run_id, self.lease_s = p.run_id, p.lease_s
        from uav_mec_nodes.policies import make_policy
        from uav_mec_nodes.policies.learned import default_policy_name
        self.planner = SlotPlanner(self.cfg, make_policy(p.policy or default_policy_name()), p.seed)
        self.policy_name = self.planner.policy.name
        self.num_users, self.num_uavs = self.planner.num_users, self.planner.num_uavs
        self.num_slots = self.cfg.scenario.num_slots
        self.gate = PlanGate(self.num_uavs, p.lease_s, p.startup_wait_s)
        self.decision_times = np.full(self.num_slots, np.nan)   # [s] per slot, allocated once
        self.done = False
        self.inputs = c.GuardedInput(self, self.run_id, self.cfg)
        topics = self.inputs.topics
        self.plan_pub = c.publisher(self, Plan, c.TOPIC_PLAN, topics)
        self.failure_pub = c.publisher(self, FailureEvent, c.TOPIC_FAILURES, topics)
        inputs = [(UserStates, c.TOPIC_USERS, self.on_users), (ChannelState, c.TOPIC_CHANNEL, self.on_channel),
                  (UavState, c.TOPIC_WORLD_UAVS, self.on_world_state),
                  (FailureEvent, c.TOPIC_FAILURES, self.on_failure),
                  (FailureReport, c.TOPIC_FAILURE_REPORT, self.on_failure_report)]
        inputs += [(UavState, c.uav_state_topic(j), self.on_uav_state) for j in range(self.num_uavs)]
        for msg_type, topic, callback in inputs:
            self.inputs.subscribe(msg_type, topic, c.then(callback, self.tick))
        c.subscribe_heartbeats(self.inputs, self.num_uavs, self.gate.leases)
        self.create_timer(c.POLL_S, self.tick, clock=c.wall_clock())   # leases running out

    # --- inputs -------------------------------------------------------------------------------
    def on_users(self, msg: UserStates) -> None:
        problem = users_message_problem(msg, self.num_users, self.planner.arrays.num_types)
        if problem:
            self.get_logger().warning(f'rejected /users for slot {msg.slot}: {problem}')
        elif self.gate.current(msg.slot):
            self.gate.users[msg.slot] = msg

    def on_channel(self, msg: ChannelState) -> None:
        problem = channel_message_problem(msg, self.num_users, self.num_uavs)
        if problem:
            self.get_logger().warning(f'rejected /channel for slot {msg.slot}: {problem}')
        elif self.gate.current(msg.slot):
            self.gate.channels[msg.slot] = msg

    def on_world_state(self, msg: UavState) -> None:
        reason = c.uav_state_ok(msg, self.num_uavs)
        if reason:
            self.get_logger().warning(f'rejected world state: {reason}')
        elif self.gate.current(msg.slot):
            self.gate.world.setdefault(msg.slot, {})[msg.uav_id] = msg

    def on_uav_state(self, msg: UavState) -> None:
        reason = c.uav_state_ok(msg, self.num_uavs)
        if reason:
            self.get_logger().warning(f'rejected UAV state: {reason}')
        elif self.gate.current(msg.slot):
            self.gate.uav_states[msg.uav_id][msg.slot] = msg

    def on_failure_report(self, msg: FailureReport) -> None:
        if len(msg.failures) > self.num_uavs or any(f.uav_id >= self.num_uavs for f in msg.failures):
            self.get_logger().warning(f'rejected failure report of slot {msg.slot}: unknown UAV ids')
        elif self.gate.current(msg.slot):
            self.gate.reports[msg.slot] = {int(f.uav_id): (int(f.slot), int(f.mode)) for f in msg.failures}

    def on_failure(self, msg: FailureEvent) -> None:
        if msg.uav_id >= self.num_uavs:
            self.get_logger().warning(f'rejected failure event: unknown UAV id {msg.uav_id}')
            return
        self.gate.book.record(msg.uav_id, msg.slot, msg.mode)

    # --- deciding -------------------------------------------------------------------------------
    def tick(self) -> None:
        if self.done:
            return
        ready, lost = self.gate.ready(time.monotonic())
        t = self.gate.slot
        for j, reason in lost:
            self.get_logger().warning(f'UAV {j} marked failed before slot {t}: {reason}')
            event = FailureEvent(run_id=self.run_id, slot=t, uav_id=j,
                                 mode=FailureEvent.MODE_LIVELINESS_LOST, reason=reason)
            event.header.stamp = c.stamp(t, self.cfg.scenario.slot_s)
            self.failure_pub.publish(event)
        if ready:
            users, channel, world, alive = self.gate.take()
            decided = self.planner.decide(inputs_from_messages(users, channel, world, alive))
            self.decision_times[t] = decided.decision_time_s
            self.plan_pub.publish(plan_message(self.run_id, decided, users, self.policy_name, self.cfg))
            self.done = self.gate.slot >= self.num_slots


def main(args=None) -> None:
    from uav_mec_nodes.nodes._run import run_single
    run_single(PlannerNode, args)


if __name__ == '__main__':
    main()
