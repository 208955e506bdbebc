"""failure_injector: UAV failures by the scenario's model (schedule, uniform, hazard) within F_max.

The failure slots are drawn exactly as the Gym env draws them for the same
seed (model.failures through a model.World seeded as the env); the shared parameter
`failure_schedule` ("uav:slot,uav:slot") makes the scenario's model a schedule.
At the start of a UAV's failure slot (the world's states of that slot) it
publishes a FailureEvent with the configured mode: announce (the event is the
news), silence (the UAV stops publishing; others notice from its lease), kill
(the UAV's process ends with SIGKILL). With the px4 plant two modes go through PX4
instead, and the graph learns of the failure from PX4's own reports alone:
px4_termination (VEHICLE_CMD_DO_FLIGHTTERMINATION: the motors stop, it falls) and
px4_motor (VEHICLE_CMD_INJECT_FAILURE, one motor off, which PX4 v1.16 acks but SIH
and gz keep turning). PX4's ack is awaited (sent again every 0.5 s, up to 5 s) and
logged. A UAV the graph already counts down (its /failures) is not failed again.
It ends when the last slot's metrics are in.
"""
from __future__ import annotations

import numpy as np
from rclpy.node import Node

from uav_mec_nodes.graph.contract import INJECTED_FAILURE_MODES, PX4_FAILURE_MODES
from uav_mec_nodes.model.world import World, episode_rng
from uav_mec_nodes.model.failures import NEVER
from uav_mec_nodes.msg import FailureEvent, FailureReport, SlotMetrics, UavState
from uav_mec_nodes.nodes import _common as c


class FailureInjectorNode(Node):
    def __init__(self, **kwargs):
        super().__init__('failure_injector', **kwargs)
        p, self.cfg = c.declare_node(self, 'failure_injector')
        self.run_id = p.run_id
        self.through_px4 = p.failure_mode in PX4_FAILURE_MODES
        self.mode = INJECTED_FAILURE_MODES.index(p.failure_mode)   # FailureEvent.MODE_* value (not the px4 modes')
        replica = World(self.cfg).start(episode_rng(p.seed))   # the Gym env's failure draw (or the schedule)
        self.fail_slots = replica.fail_slots.copy()
        self.announced = set()
        self.last_reported = -1
        self.done = False
        inputs = c.GuardedInput(self, self.run_id, self.cfg)
        self.pub = c.publisher(self, FailureEvent, c.TOPIC_FAILURES, inputs.topics)
        self.report_pub = c.publisher(self, FailureReport, c.TOPIC_FAILURE_REPORT, inputs.topics)
        # the world's per-slot states (reliable, unlike /clock) mark each slot's start
        inputs.subscribe(UavState, c.TOPIC_WORLD_UAVS, self.on_slot_start)
        inputs.subscribe(SlotMetrics, c.TOPIC_SLOT_METRICS, self.on_metrics)
        inputs.subscribe(FailureEvent, c.TOPIC_FAILURES, self.on_failure)
        self.down = {}        # uav -> (slot, reason) of the first report that the graph counts it down
        self.px4 = None
        if self.through_px4:
            from uav_mec_nodes.nodes._px4_injection import Px4Injection
            self.px4 = Px4Injection(self, p)
        planned = [(int(j), int(t)) for j, t in enumerate(self.fail_slots) if t < NEVER]
        self.get_logger().info(f'failures planned (uav, slot): {planned}, mode {p.failure_mode}')

    def on_slot_start(self, msg: UavState) -> None:
        slot = msg.slot
        if slot <= self.last_reported:
            return
        self.last_reported = slot
        report = FailureReport(run_id=self.run_id, slot=slot)
        report.header.stamp = msg.header.stamp
        for j in np.flatnonzero(self.fail_slots <= slot):
            if int(j) in self.announced:
                continue
            self.announced.add(int(j))
            if int(j) in self.down:
                down_slot, reason = self.down[int(j)]
                self.get_logger().info(f'UAV {j} is already down (slot {down_slot}: {reason}): not failed again')
                continue
            if self.through_px4:
                self.px4.inject(int(j))
                continue
            event = FailureEvent(run_id=self.run_id, slot=int(self.fail_slots[j]), uav_id=int(j), mode=self.mode,
                                 reason=f'injected ({self.cfg.failures.model} model)')
            event.header.stamp = msg.header.stamp
            self.pub.publish(event)
            report.failures.append(event)
        self.report_pub.publish(report)

    def on_failure(self, msg: FailureEvent) -> None:
        self.down.setdefault(msg.uav_id, (msg.slot, msg.reason))

    def on_metrics(self, msg: SlotMetrics) -> None:
        self.done = self.done or c.episode_over(msg, self.cfg)


def main(args=None) -> None:
    from uav_mec_nodes.nodes._run import run_single
    run_single(FailureInjectorNode, args)


if __name__ == '__main__':
    main()
