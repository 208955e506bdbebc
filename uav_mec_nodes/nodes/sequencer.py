"""sequencer: the clock master and the slot barrier; what makes a slot start and end.

Slot t: publishes /clock and asks the plant (/plant/command START t) for the
UAVs' states of slot t; waits for the plan, the injector's report and each live
UAV's command (as long as the UAV holds its liveliness lease: a late UAV is
late, not gone, so the motion never depends on timing), sends the commands
through the safety layer (model/safety.py, when the scenario's safety.enabled)
and tells the plant to fly them (/plant/command MOVE t). It starts slot t+1 when
the slot's metrics are in and, with recording on, the recorder has the whole
slot: at once with a real-time factor of 0, else after delta / rtf of wall
time. A UAV that has failed, or whose lease ran out, does not move. The plant
is the kinematic `world` node or the PX4 bridge: nothing here knows which.
"""
from __future__ import annotations

import time

import numpy as np
from geometry_msgs.msg import Point, Vector3
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.node import Node
from rosgraph_msgs.msg import Clock as ClockMsg

from uav_mec_nodes.model import mobility, safety
from uav_mec_nodes.msg import (FailureEvent, FailureReport, Plan, PlantCommand, RecorderProgress, SlotMetrics,
                               UavCommand, UavState)
from uav_mec_nodes.nodes import _common as c
from uav_mec_nodes.nodes._failure_book import FailureBook, LeaseWatch

STALL_WARN_S = 10.0   # wall time without progress before the sequencer says what it waits for


class SequencerNode(Node):
    def __init__(self, **kwargs):
        super().__init__('sequencer', **kwargs)
        p, self.cfg = c.declare_node(self, 'sequencer')
        self.run_id, self.rtf = p.run_id, p.real_time_factor
        self.startup_wait_s, self.wait_for_recorder = p.startup_wait_s, p.wait_for_recorder
        self.num_uavs, self.num_slots = self.cfg.scenario.num_uavs, self.cfg.scenario.num_slots
        self.book = FailureBook(self.num_uavs)
        self.leases = LeaseWatch(self.num_uavs, p.lease_s, p.startup_wait_s)
        self.slot = 0
        self.phase = 'startup'
        self.done = False
        self.halted = False   # set by a launcher that stops the run: no new slot starts
        self.plan = None
        self.states = {}      # uav -> UavState of the current slot, from the plant
        self.commands = {}
        self.metrics_in = False
        self.interventions = np.zeros(self.num_uavs, np.int64)   # the safety layer's, this episode, per UAV
        self.t_started = time.monotonic()
        self.t_phase = time.monotonic()
        self.last_stall_warning = 0.0
        self.slots_recorded = 0
        self.reported_slots = set()

        self.inputs = c.GuardedInput(self, self.run_id, self.cfg, p.lease_s)
        topics = self.inputs.topics
        self.clock_pub = self.create_publisher(ClockMsg, c.TOPIC_CLOCK, c.qos(topics[c.TOPIC_CLOCK].qos))
        self.plant_pub = self.create_publisher(PlantCommand, c.TOPIC_PLANT_COMMAND,
                                               c.qos(topics[c.TOPIC_PLANT_COMMAND].qos))
        self.inputs.subscribe(UavState, c.TOPIC_WORLD_UAVS, self.on_state)
        self.inputs.subscribe(Plan, c.TOPIC_PLAN, self.on_plan)
        self.inputs.subscribe(SlotMetrics, c.TOPIC_SLOT_METRICS, self.on_metrics)
        if self.wait_for_recorder:
            self.inputs.subscribe(RecorderProgress, c.TOPIC_RECORDER_PROGRESS, self.on_recorder_progress)
        self.inputs.subscribe(FailureEvent, c.TOPIC_FAILURES, self.on_failure)
        self.inputs.subscribe(FailureReport, c.TOPIC_FAILURE_REPORT, self.on_failure_report)
        for j in range(self.num_uavs):
            self.inputs.subscribe(UavCommand, c.uav_cmd_topic(j), self.on_command)
            # only the lease matters here: whether a UAV whose command is missing is still up
            events = SubscriptionEventCallbacks(liveliness=lambda info, j=j: self.leases.update(j, info.alive_count))
            self.inputs.subscribe(UavState, c.uav_state_topic(j), lambda msg: None, event_callbacks=events)
        self.create_timer(0.002, self.tick, clock=c.wall_clock())

    # --- inputs -------------------------------------------------------------------------
    def on_state(self, msg: UavState) -> None:
        if msg.slot == self.slot and msg.uav_id < self.num_uavs and c.uav_state_ok(msg, self.num_uavs) is None:
            self.states[msg.uav_id] = msg

    def on_failure(self, msg: FailureEvent) -> None:
        if msg.uav_id < self.num_uavs:
            self.book.fail_during(msg.uav_id, msg.slot)

    def on_failure_report(self, msg: FailureReport) -> None:
        if len(msg.failures) > self.num_uavs:
            return
        for event in msg.failures:
            self.on_failure(event)
        if msg.slot >= self.slot:
            self.reported_slots.add(msg.slot)

    def on_plan(self, msg: Plan) -> None:
        if msg.slot == self.slot and self.phase == 'planning' and len(msg.uav_alive) == self.num_uavs:
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
            self.commands[msg.uav_id] = ('setpoint', np.array(target))
            return
        a = (msg.acceleration.x, msg.acceleration.y, msg.acceleration.z)
        if not c.finite(*a):
            self.get_logger().warning(f'rejected command of UAV {msg.uav_id}: NaN or inf acceleration')
            return
        self.commands[msg.uav_id] = ('acceleration', np.array(a))

    def on_recorder_progress(self, msg: RecorderProgress) -> None:
        self.slots_recorded = max(self.slots_recorded, msg.slots_recorded)

    def on_metrics(self, msg: SlotMetrics) -> None:
        if msg.slot == self.slot:
            self.metrics_in = True

    # --- the slot machine -----------------------------------------------------------------
    def tick(self) -> None:
        now = time.monotonic()
        if self.done or self.halted:
            return
        if self.phase == 'startup':
            ready = self.count_subscribers(c.TOPIC_PLANT_COMMAND) >= 1 and self.count_publishers(c.TOPIC_PLAN) >= 1
            if self.wait_for_recorder:
                ready = ready and self.count_publishers(c.TOPIC_RECORDER_PROGRESS) >= 1
            uavs_up = all(self.count_publishers(c.uav_state_topic(j)) >= 1 for j in range(self.num_uavs))
            if ready and (uavs_up or now - self.t_started > self.startup_wait_s):
                self.start_slot()
            else:
                self.warn_stall(now, 'the plant and the planner (and the recorder) to appear')
        elif self.phase == 'planning':
            self.warn_stall(now, f'the plan of slot {self.slot}' if len(self.states) == self.num_uavs
                            else f'the plant\'s states of slot {self.slot}')
        elif self.phase == 'commands':
            if self.slot not in self.reported_slots or len(self.states) < self.num_uavs:
                # a UAV failing in this slot must not move; the safety layer needs every UAV's state
                self.warn_stall(now, f'the failure report and the plant\'s states of slot {self.slot}')
                return
            live = self.book.alive_end(self.slot) & np.array(self.plan.uav_alive, bool)
            waited = now - self.t_phase
            waiting = [j for j in np.flatnonzero(live)
                       if j not in self.commands and waited < self.leases.patience_s(int(j), self.slot)]
            if not waiting:
                self.move(live)
                self.phase = 'metrics'
                self.t_phase = now
            else:
                self.warn_stall(now, f'the commands of UAVs {[int(j) for j in waiting]} in slot {self.slot}')
        elif self.phase == 'metrics':
            paced = self.rtf <= 0 or now - self.t_slot_wall >= self.cfg.scenario.slot_s / self.rtf
            recorded = not self.wait_for_recorder or self.slots_recorded > self.slot
            if self.metrics_in and paced and recorded:
                self.reported_slots.discard(self.slot)
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
        self.plan, self.states, self.commands, self.metrics_in = None, {}, {}, False
        self.t_slot_wall = self.t_phase = time.monotonic()
        self.publish_clock(self.slot)
        start = PlantCommand(run_id=self.run_id, slot=self.slot, kind=PlantCommand.KIND_START,
                             alive=self.book.alive_start(self.slot).tolist())
        start.header.stamp = c.stamp(self.slot, self.cfg.scenario.slot_s)
        self.plant_pub.publish(start)
        self.phase = 'planning'

    def move(self, live: np.ndarray) -> None:
        """The slot's commands, through the safety layer, to the plant."""
        q = c.point_array([self.states[j].position for j in range(self.num_uavs)])
        v = c.point_array([self.states[j].velocity for j in range(self.num_uavs)])
        accel = np.zeros((self.num_uavs, 3))
        moving = np.zeros(self.num_uavs, bool)
        for j, (mode, value) in self.commands.items():
            accel[j] = mobility.accel_towards(q[j], v[j], value, self.cfg) if mode == 'setpoint' else value
            moving[j] = live[j]
        flags = np.zeros(self.num_uavs, np.int64)
        if self.cfg.safety.enabled:
            safe = safety.safe_accelerations(q, v, accel, moving, self.cfg)
            accel, flags = safe.accel, safe.interventions
            self.interventions += flags != 0
        # where they take the UAVs (for autopilots, which fly to a point); the kinematic plant flies
        # `acceleration` itself, as the Gym env does, so both give the very same numbers
        step = mobility.step_uavs(q, v, accel, moving, self.cfg)
        cmd = PlantCommand(run_id=self.run_id, slot=self.slot, kind=PlantCommand.KIND_MOVE,
                           moving=moving.tolist(), safety_interventions=flags.astype(np.uint8).tolist(),
                           acceleration=[Vector3(x=a[0], y=a[1], z=a[2]) for a in accel],
                           target=[Point(x=p[0], y=p[1], z=p[2]) for p in step.position],
                           target_velocity=[Vector3(x=w[0], y=w[1], z=w[2]) for w in step.velocity])
        cmd.header.stamp = c.stamp(self.slot, self.cfg.scenario.slot_s)
        self.plant_pub.publish(cmd)

    def publish_clock(self, slot: int) -> None:
        self.clock_pub.publish(ClockMsg(clock=c.stamp(slot, self.cfg.scenario.slot_s)))


def main(args=None) -> None:
    from uav_mec_nodes.nodes._run import run_single
    run_single(SequencerNode, args)   # a signal ends the process, so no new slot starts


if __name__ == '__main__':
    main()
