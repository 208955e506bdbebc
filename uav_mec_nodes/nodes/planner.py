"""planner: the central decision maker (any policy; the shipped SAC-PER policy by default).

Builds the MDP state (29) of slot t from /users, /channel and the world's
kinematic UAV states of slot t, lets the policy decide partition,
association, migration target and accelerations (planning.SlotPlanner; transmit
power: Dinkelbach in the model; CPU: the allocation mode), and publishes the plan.
A UAV counts as down from the first of: the plant's state of slot t saying so (it is
gated on the failure reports of the slots before, so the plan never depends on
when a /failures message arrives), a FailureEvent for it on /failures, or
no state of its own for slot t while it holds no liveliness lease (QoS event),
one lease after the planner started waiting for slot t (published as
MODE_LIVELINESS_LOST). A UAV holding its lease is waited for, so the decision
never depends on timing. A UAV down at the start of a slot gets no users;
users it served go to live UAVs.
"""
from __future__ import annotations

import time

import numpy as np
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.node import Node

from uav_mec_nodes.contract import HISTORY_SLOTS
from uav_mec_nodes.msg import (ChannelState, FailureEvent, OffloadDecision, Plan, UavCommand, UavState,
                               UserStates)
from uav_mec_nodes.nodes import _common as c
from uav_mec_nodes.nodes._failure_book import FailureBook, LeaseWatch
from uav_mec_nodes.planning import SlotPlanner, inputs_from_messages


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
        self.book = FailureBook(self.num_uavs)
        self.leases = LeaseWatch(self.num_uavs, p.lease_s, p.startup_wait_s)
        self.slot = 0
        self.users, self.channels, self.world = {}, {}, {}
        self.uav_states = {j: {} for j in range(self.num_uavs)}
        self.waiting_since = None
        self.decision_times = np.full(self.num_slots, np.nan)   # [s] per slot, allocated once
        self.done = False
        self.inputs = c.GuardedInput(self, self.run_id, self.cfg, self.lease_s)
        topics = self.inputs.topics
        self.plan_pub = self.create_publisher(Plan, c.TOPIC_PLAN, c.qos(topics[c.TOPIC_PLAN].qos))
        self.failure_pub = self.create_publisher(FailureEvent, c.TOPIC_FAILURES, c.qos(topics[c.TOPIC_FAILURES].qos))
        self.inputs.subscribe(UserStates, c.TOPIC_USERS, self.on_users)
        self.inputs.subscribe(ChannelState, c.TOPIC_CHANNEL, self.on_channel)
        self.inputs.subscribe(UavState, c.TOPIC_WORLD_UAVS, self.on_world_state)
        self.inputs.subscribe(FailureEvent, c.TOPIC_FAILURES, self.on_failure)
        for j in range(self.num_uavs):
            events = SubscriptionEventCallbacks(liveliness=lambda info, j=j: self.leases.update(j, info.alive_count))
            self.inputs.subscribe(UavState, c.uav_state_topic(j), self.on_uav_state, event_callbacks=events)
        self.create_timer(0.002, self.tick, clock=c.wall_clock())

    # --- inputs -------------------------------------------------------------------------------
    def _current(self, slot: int) -> bool:
        """Only slots being planned or about to be are kept (memory stays flat)."""
        return self.slot <= slot < self.slot + HISTORY_SLOTS

    def on_users(self, msg: UserStates) -> None:
        if len(msg.positions) != self.num_users or len(msg.dnn_types) != self.num_users:
            self.get_logger().warning(f'rejected /users for slot {msg.slot}: {len(msg.positions)} users, '
                                      f'expected {self.num_users}')
            return
        if not all(c.finite(p.x, p.y, p.z) for p in msg.positions) or max(msg.dnn_types, default=0) > 2:
            self.get_logger().warning(f'rejected /users for slot {msg.slot}: NaN position or unknown DNN type')
            return
        if self._current(msg.slot):
            self.users[msg.slot] = msg

    def on_channel(self, msg: ChannelState) -> None:
        i, j = self.num_users, self.num_uavs
        if (msg.num_users, msg.num_uavs) != (i, j) or len(msg.mu_uav_gain) != i * j or \
                len(msg.uav_uav_rate_bps) != j * j:
            self.get_logger().warning(f'rejected /channel for slot {msg.slot}: wrong sizes')
            return
        gains = np.asarray(msg.mu_uav_gain)
        if not np.all(np.isfinite(gains)) or np.any(gains < 0) or np.any(np.isnan(msg.uav_uav_rate_bps)):
            self.get_logger().warning(f'rejected /channel for slot {msg.slot}: NaN, inf or negative gains')
            return
        if self._current(msg.slot):
            self.channels[msg.slot] = msg

    def on_world_state(self, msg: UavState) -> None:
        reason = c.uav_state_ok(msg, self.num_uavs)
        if reason:
            self.get_logger().warning(f'rejected world state: {reason}')
        elif self._current(msg.slot):
            self.world.setdefault(msg.slot, {})[msg.uav_id] = msg

    def on_uav_state(self, msg: UavState) -> None:
        reason = c.uav_state_ok(msg, self.num_uavs)
        if reason:
            self.get_logger().warning(f'rejected UAV state: {reason}')
        elif self._current(msg.slot):
            self.uav_states[msg.uav_id][msg.slot] = msg

    def on_failure(self, msg: FailureEvent) -> None:
        if msg.uav_id >= self.num_uavs:
            self.get_logger().warning(f'rejected failure event: unknown UAV id {msg.uav_id}')
            return
        self.book.fail_during(msg.uav_id, msg.slot)

    def mark_lost(self, j: int, reason: str) -> None:
        """UAV j is down from the slot now being decided on (its start)."""
        if self.book.down_before(j, self.slot):
            self.get_logger().warning(f'UAV {j} marked failed before slot {self.slot}: {reason}')
            event = FailureEvent(run_id=self.run_id, slot=max(self.slot - 1, 0), uav_id=j,
                                 mode=FailureEvent.MODE_LIVELINESS_LOST, reason=reason)
            event.header.stamp = c.stamp(self.slot, self.cfg.scenario.slot_s)
            self.failure_pub.publish(event)

    # --- deciding -------------------------------------------------------------------------------
    def tick(self) -> None:
        t = self.slot
        if self.done or t not in self.users or t not in self.channels or \
                len(self.world.get(t, ())) < self.num_uavs:
            return
        for j, state in self.world[t].items():
            if not state.alive:   # the plant's states of slot t are report-gated: down at its start, whenever
                self.book.down_before(j, t)   # /failures (a queue a flood can delay) says so
        now = time.monotonic()
        if self.waiting_since is None:
            self.waiting_since = now
        waited = now - self.waiting_since
        missing = [int(j) for j in np.flatnonzero(self.book.alive_start(t)) if t not in self.uav_states[j]]
        if any(waited < self.leases.patience_s(j, t) for j in missing):
            return
        for j in missing:
            held = 'while holding its lease' if self.leases.held[j] else 'and no liveliness lease held'
            self.mark_lost(j, f'no state for slot {t} after {waited:.2f} s {held}')
        self.decide(t)

    def decide(self, t: int) -> None:
        users, channel, world = self.users.pop(t), self.channels.pop(t), self.world.pop(t)
        inputs = inputs_from_messages(users, channel, [world[j] for j in range(self.num_uavs)],
                                      self.book.alive_start(t))
        decided = self.planner.decide(inputs)
        self.decision_times[t] = decided.decision_time_s
        self.plan_pub.publish(self.plan_message(decided, users))
        for j in range(self.num_uavs):
            self.uav_states[j].pop(t, None)
        self.slot += 1
        self.waiting_since = None
        if self.slot >= self.num_slots:
            self.done = True

    def plan_message(self, d, users: UserStates) -> Plan:
        plan = Plan(run_id=self.run_id, slot=d.slot, policy=self.policy_name, decision_time_s=d.decision_time_s,
                    uav_alive=d.alive_start.tolist())
        plan.header.stamp = c.stamp(d.slot, self.cfg.scenario.slot_s)
        for i in range(self.num_users):
            plan.decisions.append(OffloadDecision(
                task_id=users.task_ids[i], user_id=i, dnn_type=users.dnn_types[i],
                partition_layer=int(d.partition_layer[i]), serving_uav=int(d.serving_uav[i]),
                migration_target=int(d.migration_target[i]), tx_power_w=float('nan'),
                local_cpu_hz=float(d.local_cpu_fraction[i] * self.cfg.users.cpu_max_hz),
                uav_cpu_hz=float(d.cpu_share[i] * self.cfg.uavs.cpu_hz)))
        for j in range(self.num_uavs):
            cmd = UavCommand(run_id=self.run_id, slot=d.slot, uav_id=j, mode=UavCommand.MODE_ACCELERATION)
            cmd.acceleration.x, cmd.acceleration.y, cmd.acceleration.z = (float(v) for v in d.accel[j])
            cmd.header.stamp = plan.header.stamp
            plan.uav_commands.append(cmd)
        return plan


def main(args=None) -> None:
    from uav_mec_nodes.nodes._run import run_single
    run_single(PlannerNode, args)


if __name__ == '__main__':
    main()
