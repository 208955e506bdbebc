"""px4_bridge: the plant that flies the graph's UAVs on PX4 vehicles (`--plant px4`).

One node for all vehicles: the slot barrier needs every vehicle's state at the
same moment, and one DDS participant talks to every namespace; each vehicle
keeps a px4.bridge.VehicleLink of its own, so one vehicle's trouble stays its
own. Per UAV j: PX4 instance j+1, in namespace px4_<j+1> with MAV_SYS_ID j+2
(parameters px4_namespaces, px4_sys_ids), home (its local NED origin) in the world frame.

Before slot 0 every vehicle takes off (VehicleLink: each state logged with what it
waits for; a take-off that times out ends the node with a line naming the vehicle);
START 0 is answered when all hold their start points (or are down). START t:
every vehicle's position and velocity (NED -> the world's ENU) on /world/uav_states.
MOVE t: the slot's path streamed at setpoint_rate_hz, stamped 0 (PX4 stamps it on
receipt, whatever UXRCE_DDS_SYNCT says). A vehicle that goes quiet for lease_s, or
reports disarmed, termination, failsafe or a failure-detector bit while it flies, is
down: one FailureEvent (reported by PX4) unless the graph already counts it down.
After the last slot every flying vehicle lands (or holds: end_action), and the node
ends once PX4 says each has. PX4 flies in real time.
"""
from __future__ import annotations

import time

import numpy as np
from geometry_msgs.msg import Point, Vector3
from px4_msgs.msg import (OffboardControlMode, TrajectorySetpoint, VehicleCommand, VehicleCommandAck,
                          VehicleLocalPosition, VehicleStatus)
from rclpy.node import Node

from uav_mec_nodes import contract
from uav_mec_nodes.env.uav_mec_env import UavMecEnv
from uav_mec_nodes.model import propulsion
from uav_mec_nodes.msg import FailureEvent, FailureReport, PlantCommand, SlotMetrics, UavState
from uav_mec_nodes.nodes import _common as c
from uav_mec_nodes.px4.bridge import Status, VehicleLink, parse_homes, vehicle_ids

TICK_S = 0.05
STILL_WAITING_S = 10.0    # a take-off or end that waits says so again this often
NAN3 = [float('nan')] * 3


class Px4BridgeNode(Node):
    def __init__(self, **kwargs):
        super().__init__('px4_bridge', **kwargs)
        p, self.cfg = c.declare_node(self, 'px4_bridge')
        self.p, self.run_id = p, p.run_id
        replica = UavMecEnv(self.cfg)
        replica.reset(seed=p.seed)   # the Gym env's start positions for this seed: where the vehicles climb to
        self.num_uavs = replica.num_uavs
        ids = vehicle_ids(self.num_uavs, p.px4_namespaces, p.px4_sys_ids)
        homes = parse_homes(p.home_positions, replica.uav_pos)
        self.links = [VehicleLink(j, sys_id, homes[j], replica.uav_pos[j], p.lease_s, p.stream_before_offboard_s,
                                  p.takeoff_timeout_s) for j, (_, sys_id) in enumerate(ids)]
        self.slot, self.pending_start, self.reported = -1, None, {}
        self.said = {}               # uav -> (what its take-off or end waited for, when last said)
        self.down = set()            # UAVs the graph counts down (any node's FailureEvent, or ours)
        self.episode_over = False
        self.done = False
        inputs = c.GuardedInput(self, self.run_id, self.cfg, 0.5)
        publisher = lambda msg_type, topic: self.create_publisher(msg_type, topic, c.qos(inputs.topics[topic].qos))
        self.state_pub = publisher(UavState, c.TOPIC_WORLD_UAVS)
        self.failure_pub = publisher(FailureEvent, c.TOPIC_FAILURES)
        self.report_pub = publisher(FailureReport, c.TOPIC_PLANT_REPORT)
        self.slot_end, self.slot_failures = None, []   # when the slot being flown is over; its FailureEvents
        inputs.subscribe(PlantCommand, c.TOPIC_PLANT_COMMAND, self.on_command)
        inputs.subscribe(SlotMetrics, c.TOPIC_SLOT_METRICS, self.on_metrics)
        inputs.subscribe(FailureEvent, c.TOPIC_FAILURES, lambda m: self.down.add(m.uav_id))
        versions = c.px4_versions(self, p.px4_message_versions)
        out, into = c.qos(contract.PX4_OUT_QOS), c.qos(contract.PX4_IN_QOS)
        self.to_px4 = []
        for link, (ns, _) in zip(self.links, ids):
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

    # --- the graph ----------------------------------------------------------------------------
    def on_command(self, msg: PlantCommand) -> None:
        j = self.num_uavs
        if msg.kind == PlantCommand.KIND_START and msg.slot == self.slot + 1 and len(msg.alive) == j:
            self.pending_start = msg
            self.tick()
        elif msg.kind == PlantCommand.KIND_MOVE and msg.slot == self.slot and len(msg.moving) == j and \
                len(msg.acceleration) == j:
            now = time.monotonic()
            self.slot_end = now + self.cfg.scenario.slot_s   # PX4 flies in real time
            for u, link in enumerate(self.links):
                if msg.moving[u] and link.down_reason is None and u in self.reported:
                    a = msg.acceleration[u]
                    link.fly(now, self.cfg.scenario.slot_s, (a.x, a.y, a.z), *self.reported[u])
                else:
                    link.hold()

    def on_metrics(self, msg: SlotMetrics) -> None:
        if c.episode_over(msg, self.cfg) and not self.episode_over:
            self.episode_over = True
            for link in self.links:
                link.finish(time.monotonic(), self.p.end_action, self.p.end_timeout_s)

    def on_ack(self, link: VehicleLink, msg: VehicleCommandAck) -> None:
        line = link.on_ack(time.monotonic(), msg.command, msg.result)
        if line:
            self.get_logger().warning(f'UAV {link.uav_id} (MAV_SYS_ID {link.sys_id}): {line}')

    def tick(self) -> None:
        now = time.monotonic()
        for link, (_, _, command_pub) in zip(self.links, self.to_px4):
            for command, param1, param2, param3 in link.tick(now):   # raises TakeoffTimeout: the node ends
                command_pub.publish(VehicleCommand(
                    timestamp=0, command=command, param1=param1, param2=param2, param3=param3,
                    target_system=link.sys_id, target_component=1, source_system=255, source_component=0,
                    from_external=True))
            self.say_progress(now, link)
            reason = link.check(now)
            if reason and link.uav_id not in self.down:
                self.down.add(link.uav_id)
                self.get_logger().warning(f'UAV {link.uav_id} (MAV_SYS_ID {link.sys_id}) is down: {reason}')
                event = FailureEvent(run_id=self.run_id, slot=max(self.slot, 0), uav_id=link.uav_id,
                                     mode=FailureEvent.MODE_PX4_REPORTED, reason=f'PX4: {reason}')
                event.header.stamp = c.stamp(max(self.slot, 0), self.cfg.scenario.slot_s)
                self.failure_pub.publish(event)
                self.slot_failures.append(event)
        if self.slot_end is not None and now >= self.slot_end:   # the slot is flown: what happened in it
            self.slot_end = None
            report = FailureReport(run_id=self.run_id, slot=self.slot, failures=self.slot_failures)
            report.header.stamp = c.stamp(self.slot, self.cfg.scenario.slot_s)
            self.report_pub.publish(report)
            self.slot_failures = []
        start = self.pending_start
        if start is not None and all(link.ready or link.down_reason for link in self.links):
            self.pending_start = None
            self.slot = start.slot
            self.report(np.array(start.alive, bool))
        self.done = self.episode_over and all(link.ended for link in self.links)

    def say_progress(self, now: float, link: VehicleLink) -> None:
        """Each new take-off or end state, with what it waits for; again every STILL_WAITING_S."""
        overdue = link.end_overdue(now)
        if overdue:
            self.get_logger().warning(overdue)
        what = f'{link.phase}: {link.waiting_for}' if link.waiting_for else link.phase
        last, when = self.said.get(link.uav_id, ('', 0.0))
        if what.split(':')[0] != last.split(':')[0] or (link.waiting_for and now - when >= STILL_WAITING_S):
            self.said[link.uav_id] = (what, now)
            text = link.end_note if link.ended else ('waiting for ' + link.waiting_for if link.waiting_for else
                                                    'at its start point')
            self.get_logger().info(f'UAV {link.uav_id} (MAV_SYS_ID {link.sys_id}): {text}')

    def report(self, alive: np.ndarray) -> None:
        self.reported = {}
        states = [link.state_world() for link in self.links]
        up = alive & np.array([link.down_reason is None for link in self.links])
        fly = propulsion.slot_flight_energy_j(np.array([v for _, v in states]), up, self.cfg)
        for j, (q, v) in enumerate(states):
            self.reported[j] = (q, v)
            msg = UavState(run_id=self.run_id, slot=self.slot, uav_id=j, alive=bool(up[j]),
                           position=Point(x=q[0], y=q[1], z=q[2]), velocity=Vector3(x=v[0], y=v[1], z=v[2]),
                           cpu_capacity_hz=self.cfg.uavs.cpu_hz, flight_energy_j=float(fly[j]))
            msg.header.stamp = c.stamp(self.slot, self.cfg.scenario.slot_s)
            msg.header.frame_id = 'world'
            self.state_pub.publish(msg)

    # --- PX4 --------------------------------------------------------------------------------
    def stream(self) -> None:
        """OffboardControlMode (proof of life) and the setpoint, stamped 0, to every vehicle that takes them."""
        now = time.monotonic()
        for link, (mode_pub, setpoint_pub, _) in zip(self.links, self.to_px4):
            if not link.streaming:
                continue
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
