"""planner: the central decision maker (any policy; the shipped SAC-PER policy by default).

Builds the MDP state (29) of slot t from /users, /channel and every UAV's own
state, lets the policy decide partition, association, migration target and
accelerations (transmit power: Dinkelbach in the model; CPU: the allocation
mode), and publishes the plan. A UAV counts as down from the first of:
a FailureEvent for it on /failures, or no state from it for slot t while it
holds no liveliness lease (QoS event), within `lease_s` of wall time of the
planner waiting for slot t (published as MODE_LIVELINESS_LOST). A lease that
lapses and comes back before a state is missing (a starved process at
start-up) is no failure. A UAV down at the start of a slot gets no users;
users it served go to live UAVs.
"""
from __future__ import annotations

import time

import numpy as np
from rclpy.clock import Clock, ClockType
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.node import Node

from uav_mec_nodes.env.uav_mec_env import UavMecEnv
from uav_mec_nodes.msg import (ChannelState, FailureEvent, OffloadDecision, Plan, UavCommand, UavState,
                               UserStates)
from uav_mec_nodes.nodes import _common as c
from uav_mec_nodes.nodes._failure_book import FailureBook


class PlannerNode(Node):
    def __init__(self, **kwargs):
        super().__init__('planner', **kwargs)
        self.cfg, self.seed = c.declare_scenario(self)
        policy_name = c.declare(self, 'policy', '', 'policy: a baseline name or a policy file; empty: shipped SAC-PER')
        self.lease_s = c.declare(self, 'lease_s', 0.5, 'liveliness lease of the UAV state topics (wall) [s]',
                                 0.05, 60.0)
        self.startup_wait_s = c.declare(self, 'startup_wait_s', 5.0,
                                        'wall time to wait for a UAV never heard of before slot 0 [s]', 0.0, 600.0)
        from uav_mec_nodes.policies import make_policy
        from uav_mec_nodes.policies.learned import default_policy_name
        self.policy = make_policy(policy_name or default_policy_name())
        self.policy.reset(self.seed)
        self.env = UavMecEnv(self.cfg)
        self.env.reset(seed=self.seed)
        self.num_users, self.num_uavs = self.env.num_users, self.env.num_uavs
        self.book = FailureBook(self.num_uavs)
        self.slot = 0
        self.users = {}
        self.channels = {}
        self.uav_states = {j: {} for j in range(self.num_uavs)}
        self.last_state = {}
        self.waiting_since = None
        self.lively = np.zeros(self.num_uavs, bool)   # liveliness: the UAV's lease is currently held
        self.decision_times = []
        self.done = False
        self.wall = Clock(clock_type=ClockType.STEADY_TIME)
        self.plan_pub = self.create_publisher(Plan, c.TOPIC_PLAN, c.RELIABLE)
        self.failure_pub = self.create_publisher(FailureEvent, c.TOPIC_FAILURES, c.LATCHED)
        self.create_subscription(UserStates, c.TOPIC_USERS, self.on_users, c.LATCHED)
        self.create_subscription(ChannelState, c.TOPIC_CHANNEL, self.on_channel, c.LATCHED)
        self.create_subscription(FailureEvent, c.TOPIC_FAILURES, self.on_failure, c.LATCHED)
        for j in range(self.num_uavs):
            events = SubscriptionEventCallbacks(liveliness=lambda info, j=j: self.on_liveliness(j, info))
            self.create_subscription(UavState, c.uav_state_topic(j), self.on_uav_state,
                                     c.liveliness_qos(self.lease_s), event_callbacks=events)
        self.create_timer(0.002, self.tick, clock=self.wall)

    # --- inputs -------------------------------------------------------------------------------
    def on_users(self, msg: UserStates) -> None:
        if len(msg.positions) != self.num_users or len(msg.dnn_types) != self.num_users:
            self.get_logger().warning(f'rejected /users for slot {msg.slot}: {len(msg.positions)} users, '
                                      f'expected {self.num_users}')
            return
        if not all(c.finite(p.x, p.y, p.z) for p in msg.positions) or max(msg.dnn_types, default=0) > 2:
            self.get_logger().warning(f'rejected /users for slot {msg.slot}: NaN position or unknown DNN type')
            return
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
        self.channels[msg.slot] = msg

    def on_uav_state(self, msg: UavState) -> None:
        reason = c.uav_state_ok(msg, self.num_uavs)
        if reason:
            self.get_logger().warning(f'rejected UAV state: {reason}')
            return
        self.uav_states[msg.uav_id][msg.slot] = msg
        self.last_state[msg.uav_id] = msg

    def on_failure(self, msg: FailureEvent) -> None:
        if msg.uav_id >= self.num_uavs:
            self.get_logger().warning(f'rejected failure event: unknown UAV id {msg.uav_id}')
            return
        self.book.fail_during(msg.uav_id, msg.slot)

    def on_liveliness(self, j: int, info) -> None:
        # only the state: a lapsed lease makes the UAV lost once its state of a slot is missing (tick)
        self.lively[j] = info.alive_count > 0

    def mark_lost(self, j: int, reason: str) -> None:
        """UAV j is down from the slot now being decided on (its start)."""
        if self.book.down_before(j, self.slot):
            self.get_logger().warning(f'UAV {j} marked failed before slot {self.slot}: {reason}')
            event = FailureEvent(slot=max(self.slot - 1, 0), uav_id=j, mode=FailureEvent.MODE_LIVELINESS_LOST,
                                 reason=reason)
            event.header.stamp = c.stamp(self, self.slot, self.cfg.scenario.slot_s)
            self.failure_pub.publish(event)

    # --- deciding -------------------------------------------------------------------------------
    def tick(self) -> None:
        t = self.slot
        if self.done or t not in self.users or t not in self.channels:
            return
        now = time.monotonic()
        if self.waiting_since is None:
            self.waiting_since = now
        alive = self.book.alive_start(t)
        missing = [j for j in np.flatnonzero(alive) if t not in self.uav_states[j]]
        waited = now - self.waiting_since
        # a UAV holding its lease is late, not dead: wait for it (a loss of its lease ends the wait);
        # one without a lease gets the start-up wait at slot 0 and one lease after that
        patience = [10.0 * max(self.lease_s, 1.0) if self.lively[j] else
                    (max(self.startup_wait_s, self.lease_s) if t == 0 else self.lease_s) for j in missing]
        if any(waited < p for p in patience):
            return
        for j in missing:
            self.mark_lost(int(j), f'no state for slot {t} after {waited:.2f} s and no liveliness lease held')
        self.decide(t)

    def decide(self, t: int) -> None:
        start = time.perf_counter()
        users, channel = self.users.pop(t), self.channels.pop(t)
        pos = np.zeros((self.num_uavs, 3))
        vel = np.zeros((self.num_uavs, 3))
        for j in range(self.num_uavs):
            msg = self.uav_states[j].get(t) or self.last_state.get(j)
            if msg is not None:
                pos[j] = (msg.position.x, msg.position.y, msg.position.z)
                vel[j] = (msg.velocity.x, msg.velocity.y, msg.velocity.z)
        self.env.load_view(t, np.array(users.dnn_types, np.int64), c.point_array(users.positions), pos, vel,
                           np.asarray(channel.mu_uav_gain), np.asarray(channel.uav_uav_rate_bps),
                           self.book.fail_slots)
        decisions, accel = self.policy.act(self.env)
        elapsed = time.perf_counter() - start
        self.decision_times.append(elapsed)
        plan = Plan(slot=t, policy=self.policy.name, decision_time_s=elapsed,
                    uav_alive=self.env.alive_start.tolist())
        plan.header.stamp = c.stamp(self, t, self.cfg.scenario.slot_s)
        share = decisions.cpu_share if decisions.cpu_share is not None else np.ones(self.num_users)
        frac = decisions.local_cpu_fraction if decisions.local_cpu_fraction is not None else np.ones(self.num_users)
        for i in range(self.num_users):
            plan.decisions.append(OffloadDecision(
                task_id=users.task_ids[i], user_id=i, dnn_type=users.dnn_types[i],
                partition_layer=int(decisions.partition_layer[i]), serving_uav=int(decisions.serving_uav[i]),
                migration_target=int(decisions.migration_target[i]), tx_power_w=float('nan'),
                local_cpu_hz=float(frac[i] * self.cfg.users.cpu_max_hz),
                uav_cpu_hz=float(share[i] * self.cfg.uavs.cpu_hz)))
        for j in range(self.num_uavs):
            cmd = UavCommand(slot=t, uav_id=j, mode=UavCommand.MODE_ACCELERATION)
            cmd.acceleration.x, cmd.acceleration.y, cmd.acceleration.z = (float(v) for v in accel[j])
            cmd.header.stamp = plan.header.stamp
            plan.uav_commands.append(cmd)
        self.plan_pub.publish(plan)
        for j in range(self.num_uavs):
            self.uav_states[j].pop(t, None)
        self.slot += 1
        self.waiting_since = None
        if self.slot >= self.cfg.scenario.num_slots:
            self.done = True


def main(args=None) -> None:
    from uav_mec_nodes.nodes._run import run_single
    run_single(PlannerNode, args)


if __name__ == '__main__':
    main()
