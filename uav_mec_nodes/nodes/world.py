"""world: the kinematic simulator and the clock master.

Holds every UAV's position and velocity, publishes /clock (simulated time,
slot t at t delta) and the UAVs' states, applies the commands the UAV nodes
relay (eqs. (6)-(7) through model.mobility), and starts the next slot when the
slot's metrics are in (real_time_factor 0) or after delta / rtf of wall time.
A UAV whose command does not come within `command_timeout_s` of the plan, or
that has failed, holds its position (zero velocity), as a dead UAV in the model.
Swap this node for a PX4/Gazebo bridge that publishes the same topics.
"""
from __future__ import annotations

import time

import numpy as np
from geometry_msgs.msg import Point, Vector3
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rosgraph_msgs.msg import Clock as ClockMsg
from std_msgs.msg import UInt32

from uav_mec_nodes.env.uav_mec_env import UavMecEnv
from uav_mec_nodes.model import mobility, propulsion
from uav_mec_nodes.msg import FailureEvent, FailureReport, Plan, SlotMetrics, UavCommand, UavState
from uav_mec_nodes.nodes import _common as c
from uav_mec_nodes.nodes._failure_book import FailureBook

STALL_WARN_S = 10.0   # wall time without progress before the world says what it waits for


class WorldNode(Node):
    def __init__(self, **kwargs):
        super().__init__('world', **kwargs)
        self.cfg, seed = c.declare_scenario(self)
        self.rtf = c.declare(self, 'real_time_factor', 0.0,
                             'simulated / wall time; 0: as fast as the graph allows', 0.0, 1000.0)
        self.command_timeout_s = c.declare(self, 'command_timeout_s', 1.0,
                                           'wall time to wait for a live UAV\'s command [s]', 0.01, 60.0)
        self.startup_wait_s = c.declare(self, 'startup_wait_s', 3.0,
                                        'wall time to wait for UAV nodes before slot 0 [s]', 0.0, 600.0)
        self.wait_for_recorder = c.declare(self, 'wait_for_recorder', False,
                                           'start with the recorder, and let it finish each slot first')
        replica = UavMecEnv(self.cfg)
        replica.reset(seed=seed)   # the same initial UAV positions as the Gym env with this seed
        self.pos, self.vel = replica.uav_pos.copy(), replica.uav_vel.copy()
        self.num_uavs, self.num_slots = replica.num_uavs, replica.num_slots
        self.book = FailureBook(self.num_uavs)
        self.slot = 0
        self.phase = 'startup'
        self.done = False
        self.plan = None
        self.commands = {}
        self.metrics_in = False
        self.wall = Clock(clock_type=ClockType.STEADY_TIME)
        self.t_started = time.monotonic()
        self.t_phase = time.monotonic()
        self.last_stall_warning = 0.0

        self.clock_pub = self.create_publisher(ClockMsg, c.TOPIC_CLOCK, 10)
        self.state_pub = self.create_publisher(UavState, c.TOPIC_WORLD_UAVS, c.LATCHED)
        self.create_subscription(Plan, c.TOPIC_PLAN, self.on_plan, c.RELIABLE)
        self.create_subscription(SlotMetrics, c.TOPIC_SLOT_METRICS, self.on_metrics, c.RELIABLE)
        self.slots_recorded = 0
        if self.wait_for_recorder:
            self.create_subscription(UInt32, c.TOPIC_RECORDER_PROGRESS, self.on_recorder_progress, c.RELIABLE)
        self.create_subscription(FailureEvent, c.TOPIC_FAILURES, self.on_failure, c.LATCHED)
        self.create_subscription(FailureReport, c.TOPIC_FAILURE_REPORT, self.on_failure_report, c.RELIABLE)
        self.reported_slots = set()
        for j in range(self.num_uavs):
            self.create_subscription(UavCommand, c.uav_cmd_topic(j), self.on_command, c.RELIABLE)
        self.create_timer(0.002, self.tick, clock=self.wall)

    # --- inputs -------------------------------------------------------------------------
    def on_failure(self, msg: FailureEvent) -> None:
        if msg.uav_id < self.num_uavs:
            self.book.fail_during(msg.uav_id, msg.slot)

    def on_failure_report(self, msg: FailureReport) -> None:
        for event in msg.failures:
            self.on_failure(event)
        self.reported_slots.add(msg.slot)

    def on_plan(self, msg: Plan) -> None:
        if msg.slot == self.slot and self.phase == 'planning':
            self.plan = msg
            self.phase = 'commands'
            self.t_phase = time.monotonic()

    def on_command(self, msg: UavCommand) -> None:
        if msg.uav_id >= self.num_uavs or msg.slot != self.slot:
            return
        if msg.mode == UavCommand.MODE_SETPOINT:
            target = (msg.setpoint.x, msg.setpoint.y, msg.setpoint.z)
            if not c.finite(*target):
                self.get_logger().warning(f'rejected command of UAV {msg.uav_id}: NaN or inf setpoint')
                return
            # the constant acceleration that would reach the setpoint in one slot; (7) then limits it
            delta = self.cfg.scenario.slot_s
            j = msg.uav_id
            self.commands[j] = 2.0 * (np.array(target) - self.pos[j] - self.vel[j] * delta) / delta ** 2
            return
        a = (msg.acceleration.x, msg.acceleration.y, msg.acceleration.z)
        if not c.finite(*a):
            self.get_logger().warning(f'rejected command of UAV {msg.uav_id}: NaN or inf acceleration')
            return
        self.commands[msg.uav_id] = np.array(a)

    def on_recorder_progress(self, msg: UInt32) -> None:
        self.slots_recorded = max(self.slots_recorded, msg.data)

    def on_metrics(self, msg: SlotMetrics) -> None:
        if msg.slot == self.slot:
            self.metrics_in = True

    # --- the slot machine -----------------------------------------------------------------
    def tick(self) -> None:
        now = time.monotonic()
        if self.done:
            return
        if self.phase == 'startup':
            ready = self.count_subscribers(c.TOPIC_WORLD_UAVS) >= 1 and self.count_publishers(c.TOPIC_PLAN) >= 1
            if self.wait_for_recorder:
                ready = ready and self.count_subscribers(c.TOPIC_SLOT_METRICS) >= 2
            uavs_up = all(self.count_publishers(c.uav_state_topic(j)) >= 1 for j in range(self.num_uavs))
            if ready and (uavs_up or now - self.t_started > self.startup_wait_s):
                self.start_slot()
            else:
                self.warn_stall(now, 'the planner (and the recorder) to appear')
        elif self.phase == 'planning':
            self.warn_stall(now, f'the plan of slot {self.slot}')
        elif self.phase == 'commands':
            live = self.book.alive_end(self.slot) & np.array(self.plan.uav_alive, bool) \
                if len(self.plan.uav_alive) == self.num_uavs else self.book.alive_end(self.slot)
            waiting = [j for j in np.flatnonzero(live) if j not in self.commands]
            if self.slot not in self.reported_slots:   # a UAV failing in this slot must not move
                self.warn_stall(now, f'the failure report of slot {self.slot}')
                return
            if not waiting or now - self.t_phase > self.command_timeout_s:
                self.move(live)
                self.phase = 'metrics'
                self.t_phase = now
        elif self.phase == 'metrics':
            paced = self.rtf <= 0 or now - self.t_slot_wall >= self.cfg.scenario.slot_s / self.rtf
            recorded = not self.wait_for_recorder or self.slots_recorded > self.slot
            if self.metrics_in and paced and recorded:
                self.slot += 1
                if self.slot >= self.num_slots:
                    self.publish_clock(self.slot)
                    self.done = True
                    self.get_logger().info(f'episode done: {self.num_slots} slots')
                else:
                    self.start_slot()
            elif not self.metrics_in:
                self.warn_stall(now, f'the metrics of slot {self.slot}')
            elif not recorded:
                self.warn_stall(now, f'the recorder to finish slot {self.slot}')

    def warn_stall(self, now: float, what: str) -> None:
        """Say what the episode is waiting for when it has not moved for STALL_WARN_S."""
        if now - self.t_phase > STALL_WARN_S and now - self.last_stall_warning > STALL_WARN_S:
            self.last_stall_warning = now
            self.get_logger().warning(f'waiting {now - self.t_phase:.0f} s for {what}')

    def start_slot(self) -> None:
        self.plan, self.commands, self.metrics_in = None, {}, False
        self.t_slot_wall = self.t_phase = time.monotonic()
        self.publish_clock(self.slot)
        alive = self.book.alive_start(self.slot)
        fly = propulsion.slot_flight_energy_j(self.vel, alive, self.cfg)
        for j in range(self.num_uavs):
            msg = UavState(slot=self.slot, uav_id=j, alive=bool(alive[j]),
                           position=Point(x=self.pos[j, 0], y=self.pos[j, 1], z=self.pos[j, 2]),
                           velocity=Vector3(x=self.vel[j, 0], y=self.vel[j, 1], z=self.vel[j, 2]),
                           cpu_capacity_hz=self.cfg.uavs.cpu_hz, flight_energy_j=float(fly[j]))
            msg.header.stamp = c.stamp(self, self.slot, self.cfg.scenario.slot_s)
            msg.header.frame_id = 'world'
            self.state_pub.publish(msg)
        self.phase = 'planning'

    def move(self, live: np.ndarray) -> None:
        accel = np.zeros((self.num_uavs, 3))
        moving = np.zeros(self.num_uavs, bool)
        for j, a in self.commands.items():
            accel[j] = a
            moving[j] = live[j]
        step = mobility.step_uavs(self.pos, self.vel, accel, moving, self.cfg)
        self.pos, self.vel = step.position, step.velocity

    def publish_clock(self, slot: int) -> None:
        self.clock_pub.publish(ClockMsg(clock=c.stamp(self, slot, self.cfg.scenario.slot_s)))


def main(args=None) -> None:
    from uav_mec_nodes.nodes._run import run_single
    run_single(WorldNode, args)


if __name__ == '__main__':
    main()
