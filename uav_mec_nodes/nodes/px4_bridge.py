"""px4_bridge: the plant that flies the graph's UAVs on PX4 vehicles (`--plant px4`).

One node for all vehicles: the slot barrier needs every vehicle's state at the
same moment, and one DDS participant talks to every namespace; each vehicle
keeps a px4.bridge.VehicleLink of its own, so one vehicle's trouble stays its
own. Per UAV j: PX4 instance j+1, in namespace px4_<j+1> with MAV_SYS_ID j+2
(parameters px4_namespaces, px4_sys_ids), home (its local NED origin) in the world frame.

Before slot 0 every vehicle streams setpoints, is switched to offboard, armed
(each command until PX4 acks it) and climbs to its start position; START 0 is
answered when all are ready (or down). START t: every vehicle's position and
velocity (VehicleLocalPosition, NED -> the world's ENU) on /world/uav_states.
MOVE t: the slot's path (position + feed-forward velocity) streamed at
setpoint_rate_hz (20 Hz; never below 10). A vehicle whose vehicle_status stops
for longer than lease_s, or that reports disarmed, termination, failsafe or a
failure-detector bit while it flies, is down: a FailureEvent (reported by PX4)
on /failures, and alive=false from then on. PX4 flies in real time.
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


class Px4BridgeNode(Node):
    def __init__(self, **kwargs):
        super().__init__('px4_bridge', **kwargs)
        p, self.cfg = c.declare_node(self, 'px4_bridge')
        self.run_id = p.run_id
        replica = UavMecEnv(self.cfg)
        replica.reset(seed=p.seed)   # the Gym env's start positions for this seed: where the vehicles climb to
        j_n = self.num_uavs = replica.num_uavs
        ids = vehicle_ids(j_n, p.px4_namespaces, p.px4_sys_ids)
        homes = parse_homes(p.home_positions, replica.uav_pos)
        self.links = [VehicleLink(j, sys_id, homes[j], replica.uav_pos[j], p.lease_s, p.stream_before_offboard_s)
                      for j, (_, sys_id) in enumerate(ids)]
        self.slot = -1
        self.pending_start = None
        self.reported = {}          # uav -> (position, velocity) it was reported at in the current slot
        self.announced = set()
        self.phases = [None] * self.num_uavs   # what was last said of each vehicle's take-off
        self.done = False
        self.boot = time.monotonic()
        inputs = c.GuardedInput(self, self.run_id, self.cfg, 0.5)
        topics = inputs.topics
        self.state_pub = self.create_publisher(UavState, c.TOPIC_WORLD_UAVS, c.qos(topics[c.TOPIC_WORLD_UAVS].qos))
        self.failure_pub = self.create_publisher(FailureEvent, c.TOPIC_FAILURES, c.qos(topics[c.TOPIC_FAILURES].qos))
        self.report_pub = self.create_publisher(FailureReport, c.TOPIC_PLANT_REPORT,
                                                c.qos(topics[c.TOPIC_PLANT_REPORT].qos))
        self.slot_end = None       # when the slot being flown is over (wall time): its report is due
        self.slot_failures = []    # the FailureEvents of that slot
        inputs.subscribe(PlantCommand, c.TOPIC_PLANT_COMMAND, self.on_command)
        inputs.subscribe(SlotMetrics, c.TOPIC_SLOT_METRICS, self.on_metrics)
        out, into = c.qos(contract.PX4_OUT_QOS), c.qos(contract.PX4_IN_QOS)
        self.to_px4 = []
        for link, (ns, _) in zip(self.links, ids):
            base = f'/{ns}/'
            to = base + contract.PX4_TO
            self.to_px4.append((self.create_publisher(OffboardControlMode, to + 'offboard_control_mode', into),
                                self.create_publisher(TrajectorySetpoint, to + 'trajectory_setpoint', into),
                                self.create_publisher(VehicleCommand, to + 'vehicle_command', into)))
            # PX4's writers belong to the uXRCE-DDS agent, not to a ROS node: these are read as they come
            self.create_subscription(VehicleLocalPosition, base + contract.PX4_FROM + 'vehicle_local_position',
                                     lambda m, link=link: link.on_local_position((m.x, m.y, m.z), (m.vx, m.vy, m.vz)),
                                     out)
            self.create_subscription(VehicleStatus, base + contract.PX4_FROM + p.status_topic,
                                     lambda m, link=link: link.on_status(Status(
                                         time.monotonic(), m.arming_state, m.nav_state, m.failsafe,
                                         m.failure_detector_status)), out)
            self.create_subscription(VehicleCommandAck, base + contract.PX4_FROM + 'vehicle_command_ack',
                                     lambda m, link=link: link.on_ack(time.monotonic(), m.command, m.result), out)
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
                    q, v = self.reported[u]
                    a = msg.acceleration[u]
                    link.fly(now, self.cfg.scenario.slot_s, (a.x, a.y, a.z), q, v)
                else:
                    link.hold()

    def on_metrics(self, msg: SlotMetrics) -> None:
        self.done = self.done or c.episode_over(msg, self.cfg)

    def tick(self) -> None:
        now = time.monotonic()
        for link, (_, _, command_pub) in zip(self.links, self.to_px4):
            for command, param1, param2 in link.tick(now):
                command_pub.publish(self.command(link.sys_id, command, param1, param2))
            if link.phase != self.phases[link.uav_id]:
                self.phases[link.uav_id] = link.phase
                what = {'stream': 'streaming setpoints', 'offboard': 'asking for offboard', 'arm': 'arming',
                        'climb': 'climbing to its start position', 'ready': 'at its start position'}[link.phase]
                self.get_logger().info(f'UAV {link.uav_id} (MAV_SYS_ID {link.sys_id}): {what}')
            reason = link.check(now, should_fly=link.ready)
            if reason and link.uav_id not in self.announced:
                self.announced.add(link.uav_id)
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
    def stamp_us(self) -> int:
        return int((time.monotonic() - self.boot) * 1e6)

    def stream(self) -> None:
        """OffboardControlMode (proof of life) and the setpoint, to every vehicle that is not down."""
        now = time.monotonic()
        for link, (mode_pub, setpoint_pub, _) in zip(self.links, self.to_px4):
            if link.down_reason is not None:
                continue
            position, velocity = link.setpoint(now)
            stamp = self.stamp_us()
            mode_pub.publish(OffboardControlMode(timestamp=stamp, position=True))
            nan = float('nan')
            setpoint_pub.publish(TrajectorySetpoint(
                timestamp=stamp, position=[float(x) for x in position], velocity=[float(x) for x in velocity],
                acceleration=[nan] * 3, jerk=[nan] * 3, yaw=nan, yawspeed=nan))

    def command(self, sys_id: int, command: int, param1: float, param2: float) -> VehicleCommand:
        return VehicleCommand(timestamp=self.stamp_us(), command=command, param1=float(param1), param2=float(param2),
                              target_system=sys_id, target_component=1, source_system=255, source_component=0,
                              from_external=True)


def main(args=None) -> None:
    from uav_mec_nodes.nodes._run import run_single
    run_single(Px4BridgeNode, args)


if __name__ == '__main__':
    main()
