"""sequencer: the clock master and the slot barrier; what makes a slot start and end.

Slot t: publishes /clock and asks the plant (/plant/command START t) for the
UAVs' states of slot t; waits for the plan, the injector's report and each live
UAV's command (as long as the UAV holds its lease, by its heartbeats: a late UAV is
late, not gone, so the motion never depends on timing), sends the commands
through the safety layer (model/safety.py, when the scenario's safety.enabled)
and tells the plant to fly them (/plant/command MOVE t). It starts slot t+1 when
the slot's metrics are in and, with recording on, the recorder has the whole
slot: at once with a real-time factor of 0, else after delta / rtf of wall
time. A UAV that has failed, or whose lease ran out, does not move. The plant
is the kinematic `world` node or the PX4 bridge: nothing here knows which. The
machine itself is graph.sequencing.SlotSequence; this node wires it to topics.
"""
from __future__ import annotations

import time

import numpy as np
from geometry_msgs.msg import Point, Vector3
from rclpy.node import Node
from rosgraph_msgs.msg import Clock as ClockMsg

from uav_mec_nodes.graph.sequencing import SlotSequence
from uav_mec_nodes.msg import (FailureEvent, FailureReport, Plan, PlantCommand, RecorderProgress, SlotMetrics,
                               UavCommand, UavState)
from uav_mec_nodes.nodes import _common as c


class SequencerNode(Node):
    def __init__(self, **kwargs):
        super().__init__('sequencer', **kwargs)
        p, self.cfg = c.declare_node(self, 'sequencer')
        self.run_id, self.wait_for_recorder = p.run_id, p.wait_for_recorder
        self.num_uavs = self.cfg.scenario.num_uavs
        self.seq = SlotSequence(self.cfg, p.real_time_factor, p.lease_s, p.startup_wait_s, p.wait_for_recorder,
                                time.monotonic())
        self.halted = False   # set by a launcher that stops the run: no new slot starts
        self.inputs = c.GuardedInput(self, self.run_id, self.cfg)
        topics = self.inputs.topics
        self.clock_pub = c.publisher(self, ClockMsg, c.TOPIC_CLOCK, topics)
        self.plant_pub = c.publisher(self, PlantCommand, c.TOPIC_PLANT_COMMAND, topics)
        seq = self.seq
        inputs = [(UavState, c.TOPIC_WORLD_UAVS, self.on_state),
                  (Plan, c.TOPIC_PLAN, lambda m: seq.on_plan(m.slot, m.uav_alive, time.monotonic())),
                  (SlotMetrics, c.TOPIC_SLOT_METRICS, lambda m: seq.on_metrics(m.slot)),
                  (FailureEvent, c.TOPIC_FAILURES, lambda m: seq.on_failure(m.uav_id, m.slot, m.mode)),
                  (FailureReport, c.TOPIC_FAILURE_REPORT, self.on_failure_report)]
        if self.wait_for_recorder:
            inputs.append((RecorderProgress, c.TOPIC_RECORDER_PROGRESS, lambda m: seq.on_recorded(m.slots_recorded)))
        inputs += [(UavCommand, c.uav_cmd_topic(j), self.on_command) for j in range(self.num_uavs)]
        for msg_type, topic, callback in inputs:
            self.inputs.subscribe(msg_type, topic, c.then(callback, self.tick))
        # whether a UAV whose command is missing is still up
        c.subscribe_heartbeats(self.inputs, self.num_uavs, seq.leases)
        # the start-up, leases, stalls and, with rtf > 0, the wall time a slot is paced to
        self.create_timer(c.PACE_POLL_S if p.real_time_factor > 0 else c.POLL_S, self.tick, clock=c.wall_clock())

    @property
    def done(self) -> bool:
        return self.seq.done

    @property
    def interventions(self) -> np.ndarray:
        return self.seq.interventions

    # --- inputs -------------------------------------------------------------------------
    def on_state(self, msg: UavState) -> None:
        if c.uav_state_ok(msg, self.num_uavs) is None:
            p, v = msg.position, msg.velocity
            self.seq.on_state(msg.slot, msg.uav_id, (p.x, p.y, p.z), (v.x, v.y, v.z))

    def on_failure_report(self, msg: FailureReport) -> None:
        if len(msg.failures) > self.num_uavs:
            return
        for event in msg.failures:
            self.seq.on_failure(event.uav_id, event.slot, event.mode)
        self.seq.on_report(msg.slot)

    def on_command(self, msg: UavCommand) -> None:
        setpoint = msg.mode == UavCommand.MODE_SETPOINT
        v = msg.setpoint if setpoint else msg.acceleration
        reason = self.seq.on_command(msg.uav_id, msg.slot, 'setpoint' if setpoint else 'acceleration',
                                     (v.x, v.y, v.z))
        if reason:
            self.get_logger().warning(reason)

    # --- the slot machine (graph.sequencing) ------------------------------------------------------
    def tick(self) -> None:
        now = time.monotonic()
        if self.done or self.halted:
            return
        ready = uavs_up = True   # what the graph holds matters only before the first slot
        if self.seq.phase == 'startup':
            ready = self.count_subscribers(c.TOPIC_PLANT_COMMAND) >= 1 and self.count_publishers(c.TOPIC_PLAN) >= 1
            if self.wait_for_recorder:
                ready = ready and self.count_publishers(c.TOPIC_RECORDER_PROGRESS) >= 1
            uavs_up = all(self.count_publishers(c.uav_state_topic(j)) >= 1 for j in range(self.num_uavs))
        action = self.seq.step(now, ready, uavs_up)
        if action is None:
            return
        kind, what = action
        if kind == 'start':
            self.publish_clock(what)
            start = PlantCommand(run_id=self.run_id, slot=what, kind=PlantCommand.KIND_START,
                                 alive=self.seq.book.alive_start(what).tolist())
            start.header.stamp = c.stamp(what, self.cfg.scenario.slot_s)
            self.plant_pub.publish(start)
        elif kind == 'move':
            if what.reason:
                self.get_logger().warning(what.reason)
            self.plant_pub.publish(self.move_command(what))
        elif kind == 'done':
            self.publish_clock(what)
            self.get_logger().info(f'episode done: {what} slots')
        elif self.seq.stalled(now):
            self.get_logger().warning(f'waiting {now - self.seq.t_phase:.0f} s for {what}')

    def move_command(self, m) -> PlantCommand:
        cmd = PlantCommand(run_id=self.run_id, slot=m.slot, kind=PlantCommand.KIND_MOVE,
                           moving=m.moving.tolist(), safety_interventions=m.interventions.astype(np.uint8).tolist(),
                           acceleration=[Vector3(x=a[0], y=a[1], z=a[2]) for a in m.accel],
                           target=[Point(x=p[0], y=p[1], z=p[2]) for p in m.target],
                           target_velocity=[Vector3(x=w[0], y=w[1], z=w[2]) for w in m.target_velocity],
                           held_without_command=m.held.tolist(), reason=m.reason)
        cmd.header.stamp = c.stamp(m.slot, self.cfg.scenario.slot_s)
        return cmd

    def publish_clock(self, slot: int) -> None:
        self.clock_pub.publish(ClockMsg(clock=c.stamp(slot, self.cfg.scenario.slot_s)))


def main(args=None) -> None:
    from uav_mec_nodes.nodes._run import run_single
    run_single(SequencerNode, args)   # a signal ends the process, so no new slot starts


if __name__ == '__main__':
    main()
