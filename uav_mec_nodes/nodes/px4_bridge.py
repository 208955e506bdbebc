"""px4_bridge: the plant that flies the graph's UAVs on PX4 vehicles (`--plant px4`).

One node for all vehicles: the slot barrier needs every vehicle's state at the
same moment, and one DDS participant talks to every namespace; each vehicle
keeps a px4.bridge.VehicleLink of its own, so one vehicle's trouble stays its
own. Per UAV j: PX4 instance j+1, in namespace px4_<j+1> with MAV_SYS_ID j+2
(parameters px4_namespaces, px4_sys_ids), home (its local NED origin, px4_homes) in the world frame.

Before slot 0 every vehicle takes off (VehicleLink: each state logged with what it
waits for; a take-off that times out ends the node with a line naming the vehicle);
START 0 is answered when all hold their start points (or are down). START t:
every vehicle's position and velocity (NED -> the world's ENU) on /world/uav_states.
MOVE t: the slot's path streamed at setpoint_rate_hz, stamped 0 (PX4 stamps it on
receipt, whatever UXRCE_DDS_SYNCT says). A vehicle that goes quiet for px4_lease_s, or
reports disarmed, termination, failsafe or a failure-detector bit while it flies, is
down: one FailureEvent (reported by PX4) unless the graph already counts it down.
After the last slot every flying vehicle lands (or holds: px4_end_action), and the node
ends once PX4 says each has. PX4 flies in real time. The slot logic is px4.fleet.Fleet's,
each vehicle's px4.bridge.VehicleLink's; this node wires them to the graph and to PX4.
"""
from __future__ import annotations

import time

from px4_msgs.msg import (OffboardControlMode, TrajectorySetpoint, VehicleCommand, VehicleCommandAck,
                          VehicleLocalPosition, VehicleStatus)
from rclpy.node import Node

from uav_mec_nodes.graph import contract
from uav_mec_nodes.model.world import World, episode_rng
from uav_mec_nodes.msg import FailureEvent, FailureReport, PlantCommand, SlotMetrics, UavState
from uav_mec_nodes.nodes import _common as c
from uav_mec_nodes.nodes._messages import uav_states
from uav_mec_nodes.px4.bridge import Status, VehicleLink, parse_homes, vehicle_ids
from uav_mec_nodes.px4.fleet import Fleet

TICK_S = 0.05
NAN3 = [float('nan')] * 3


class Px4BridgeNode(Node):
    def __init__(self, **kwargs):
        super().__init__('px4_bridge', **kwargs)
        p, self.cfg = c.declare_node(self, 'px4_bridge')
        self.p, self.run_id = p, p.run_id
        start = World(self.cfg).start(episode_rng(p.seed)).uav_pos   # the Gym env's: where they climb to
        ids = vehicle_ids(len(start), p.px4_namespaces, p.px4_sys_ids)
        homes = parse_homes(p.px4_homes, start)
        self.fleet = Fleet(self.cfg, [VehicleLink(j, sys_id, homes[j], start[j], p.px4_lease_s,
                                                  p.stream_before_offboard_s, p.px4_takeoff_timeout_s)
                                      for j, (_, sys_id) in enumerate(ids)])
        inputs = c.GuardedInput(self, self.run_id, self.cfg)
        publisher = lambda msg_type, topic: c.publisher(self, msg_type, topic, inputs.topics)
        self.state_pub = publisher(UavState, c.TOPIC_WORLD_UAVS)
        self.failure_pub = publisher(FailureEvent, c.TOPIC_FAILURES)
        self.report_pub = publisher(FailureReport, c.TOPIC_PLANT_REPORT)
        inputs.subscribe(PlantCommand, c.TOPIC_PLANT_COMMAND, self.on_command)
        inputs.subscribe(SlotMetrics, c.TOPIC_SLOT_METRICS, self.on_metrics)
        inputs.subscribe(FailureEvent, c.TOPIC_FAILURES, lambda m: self.fleet.down.add(m.uav_id))
        versions = c.px4_versions(self, p.px4_message_versions)
        out, into = c.qos(contract.PX4_OUT_QOS), c.qos(contract.PX4_IN_QOS)
        self.to_px4 = []
        for link, (ns, _) in zip(self.fleet.links, ids):
            topic = lambda name, ns=ns: contract.px4_topic(ns, name, versions)
            self.to_px4.append([self.create_publisher(t, topic(name), into) for t, name in (
                (OffboardControlMode, 'offboard_control_mode'), (TrajectorySetpoint, 'trajectory_setpoint'),
                (VehicleCommand, 'vehicle_command'))])
            # PX4's writers belong to the uXRCE-DDS agent, not to a ROS node: these are read as they come
            self.create_subscription(VehicleLocalPosition, topic('vehicle_local_position'), lambda m, link=link: (
                link.on_local_position(time.monotonic(), (m.x, m.y, m.z), (m.vx, m.vy, m.vz),
                                       m.xy_valid and m.z_valid and m.v_xy_valid and m.v_z_valid)), out)
            self.create_subscription(VehicleStatus, topic('vehicle_status'), lambda m, link=link: link.on_status(
                Status(time.monotonic(), m.arming_state, m.nav_state, m.failsafe, m.failure_detector_status)), out)
            self.create_subscription(VehicleCommandAck, topic('vehicle_command_ack'),
                                     lambda m, link=link: self.on_ack(link, m), out)
        wall = c.wall_clock()
        self.create_timer(1.0 / p.setpoint_rate_hz, self.stream, clock=wall)
        self.create_timer(TICK_S, self.tick, clock=wall)

    done = property(lambda self: self.fleet.done)

    # --- the graph ----------------------------------------------------------------------------
    def on_command(self, msg: PlantCommand) -> None:
        if msg.kind == PlantCommand.KIND_START and self.fleet.start(msg.slot, msg.alive):
            self.tick()
        elif msg.kind == PlantCommand.KIND_MOVE:
            self.fleet.move(msg.slot, time.monotonic(), msg.moving, [(a.x, a.y, a.z) for a in msg.acceleration])

    def on_metrics(self, msg: SlotMetrics) -> None:
        if c.episode_over(msg, self.cfg):
            self.fleet.finish(time.monotonic(), self.p.px4_end_action, self.p.end_timeout_s)

    def on_ack(self, link: VehicleLink, msg: VehicleCommandAck) -> None:
        line = link.on_ack(time.monotonic(), msg.command, msg.result)
        if line:
            self.get_logger().warning(f'UAV {link.uav_id} (MAV_SYS_ID {link.sys_id}): {line}')

    def tick(self) -> None:
        now, fleet, slot_s = time.monotonic(), self.fleet, self.cfg.scenario.slot_s
        for link, (_, _, command_pub) in zip(fleet.links, self.to_px4):
            for command, param1, param2, param3 in link.tick(now):   # raises TakeoffTimeout: the node ends
                command_pub.publish(VehicleCommand(
                    timestamp=0, command=command, param1=param1, param2=param2, param3=param3,
                    target_system=link.sys_id, target_component=1, source_system=255, source_component=0,
                    from_external=True))
            for line, log in ((link.end_overdue(now), self.get_logger().warning),
                              (fleet.progress(now, link), self.get_logger().info)):
                if line:
                    log(line)
        for down in fleet.went_down(now):
            self.get_logger().warning(f'UAV {down.uav_id} (MAV_SYS_ID {down.sys_id}) is down: {down.reason}')
            self.failure_pub.publish(self.failure_event(down))
        due = fleet.slot_report_due(now)
        if due:   # the slot is flown: what happened in it
            report = FailureReport(run_id=self.run_id, slot=due[0], failures=[self.failure_event(d) for d in due[1]])
            report.header.stamp = c.stamp(due[0], slot_s)
            self.report_pub.publish(report)
        states = fleet.states_due()
        if states:
            for msg in uav_states(self.run_id, states.slot, states.positions, states.velocities, states.up,
                                  states.flight_energy_j, self.cfg):
                self.state_pub.publish(msg)

    def failure_event(self, down) -> FailureEvent:
        event = FailureEvent(run_id=self.run_id, slot=down.slot, uav_id=down.uav_id,
                             mode=FailureEvent.MODE_PX4_REPORTED, reason=f'PX4: {down.reason}')
        event.header.stamp = c.stamp(down.slot, self.cfg.scenario.slot_s)
        return event

    # --- PX4 --------------------------------------------------------------------------------
    def stream(self) -> None:
        """OffboardControlMode (proof of life) and the setpoint, stamped 0, to every vehicle that takes them."""
        now = time.monotonic()
        for link, (mode_pub, setpoint_pub, _) in zip(self.fleet.links, self.to_px4):
            if link.streaming:
                position, velocity = link.setpoint(now)
                mode_pub.publish(OffboardControlMode(timestamp=0, position=True))
                setpoint_pub.publish(TrajectorySetpoint(
                    timestamp=0, position=[float(x) for x in position], velocity=[float(x) for x in velocity],
                    acceleration=NAN3, jerk=NAN3, yaw=float('nan'), yawspeed=float('nan')))


def main(args=None) -> None:
    from uav_mec_nodes.nodes._run import run_single
    run_single(Px4BridgeNode, args)


if __name__ == '__main__':
    main()
