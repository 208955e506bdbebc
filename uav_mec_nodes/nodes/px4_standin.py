"""px4_standin: one PX4 v1.16 vehicle on PX4's ROS 2 interface, to test the bridge and to rehearse before a real one.

Run it in the vehicle's namespace (`--ros-args -r __ns:=/px4_1 -p mav_sys_id:=2`:
PX4's SITL instance i has MAV_SYS_ID i + 1): it subscribes to
fmu/in/offboard_control_mode, fmu/in/trajectory_setpoint and
fmu/in/vehicle_command (best effort, volatile) and publishes
fmu/out/vehicle_local_position (100 Hz, the uXRCE-DDS client's most),
fmu/out/vehicle_status_v1 (2 Hz, and at once on a change) and
fmu/out/vehicle_command_ack (best effort, transient local), with PX4's clock
(microseconds since its start, plus the agent's offset with UXRCE_DDS_SYNCT).
Its parameters are PX4's, by name, with PX4's defaults. All behaviour is
px4.vehicle.Px4Vehicle's; physics runs at 100 Hz of wall time.
"""
from __future__ import annotations

import math
import time

import numpy as np
from px4_msgs.msg import (OffboardControlMode, TrajectorySetpoint, VehicleCommand, VehicleCommandAck,
                          VehicleLocalPosition, VehicleStatus)
from rclpy.node import Node

from uav_mec_nodes.graph import contract
from uav_mec_nodes.nodes import _common as c
from uav_mec_nodes.px4.vehicle import STATUS_PERIOD_S, Px4Params, Px4Vehicle

PHYSICS_HZ = 100.0


class Px4StandinNode(Node):
    def __init__(self, **kwargs):
        super().__init__('px4_standin', **kwargs)
        p = c.declare_parameters(self, 'px4_standin')
        params = Px4Params(**{s.name: getattr(p, s.name) for s in contract.PX4_VEHICLE_PARAMETERS})
        self.boot = time.monotonic()
        # the agent's clock (the system's) minus PX4's, as the time sync finds it
        self.vehicle = Px4Vehicle(params, time_offset_us=int(time.time() * 1e6))
        self.done = False   # a vehicle: it runs until it is stopped, and then ends with 0
        self.runs_until_stopped = True
        versions = c.px4_versions(self, p.px4_message_versions)
        out, into = c.qos(contract.PX4_OUT_QOS), c.qos(contract.PX4_IN_QOS)

        def topic(name: str) -> str:   # relative: the node's namespace is the vehicle's
            return contract.px4_topic('', name, versions).lstrip('/')
        self.position_pub = self.create_publisher(VehicleLocalPosition, topic('vehicle_local_position'), out)
        self.status_pub = self.create_publisher(VehicleStatus, topic('vehicle_status'), out)
        self.ack_pub = self.create_publisher(VehicleCommandAck, topic('vehicle_command_ack'), out)
        self.create_subscription(OffboardControlMode, topic('offboard_control_mode'), self.on_mode, into)
        self.create_subscription(TrajectorySetpoint, topic('trajectory_setpoint'), self.on_setpoint, into)
        self.create_subscription(VehicleCommand, topic('vehicle_command'), self.on_command, into)
        wall = c.wall_clock()
        self.last_step = self.now()
        self.status_sent = None    # (key, when) of the last vehicle_status
        self.create_timer(1.0 / PHYSICS_HZ, self.step, clock=wall)
        self.create_timer(1.0 / p.local_position_hz, self.publish_position, clock=wall)

    def now(self) -> float:
        return time.monotonic() - self.boot

    def on_mode(self, msg: OffboardControlMode) -> None:
        self.vehicle.on_offboard_control_mode(self.now(), msg.timestamp, msg.position, msg.velocity, msg.acceleration)

    def on_setpoint(self, msg: TrajectorySetpoint) -> None:
        if all(math.isfinite(v) or math.isnan(v) for v in list(msg.position) + list(msg.velocity)):
            self.vehicle.on_setpoint(np.array(msg.position, float), np.array(msg.velocity, float))

    def on_command(self, msg: VehicleCommand) -> None:
        now = self.now()
        ack = self.vehicle.on_command(now, msg.command, msg.param1, msg.param2, msg.target_system,
                                      msg.target_component, msg.source_system, msg.source_component, msg.param3)
        if ack is not None:
            self.ack_pub.publish(VehicleCommandAck(
                timestamp=self.vehicle.sent_stamp_us(now), command=ack.command, result=ack.result,
                target_system=ack.target_system, target_component=ack.target_component))
        self.publish_status()   # a mode or arming change is published at once

    def step(self) -> None:
        now = self.now()
        self.vehicle.step(now, min(max(now - self.last_step, 1e-3), 0.1))
        self.last_step = now
        self.publish_status()

    def publish_position(self) -> None:
        v, now = self.vehicle, self.now()
        stamp, valid = v.sent_stamp_us(now), v.position_valid(now)
        x, y, z = (float(a) for a in v.position)
        vx, vy, vz = (float(a) for a in v.velocity)
        self.position_pub.publish(VehicleLocalPosition(
            timestamp=stamp, timestamp_sample=stamp, xy_valid=valid, z_valid=valid, v_xy_valid=valid,
            v_z_valid=valid, x=x, y=y, z=z, vx=vx, vy=vy, vz=vz, heading=0.0, heading_good_for_control=valid,
            vxy_max=float(v.params.mpc_xy_vel_max), vz_max=float(v.params.mpc_z_vel_max_up)))

    def publish_status(self) -> None:
        """Commander::run: at 2 Hz, or at once when arming, mode, failsafe or the detector changed."""
        v, now = self.vehicle, self.now()
        key = v.status_key()
        if self.status_sent is not None and self.status_sent[0] == key and \
                now - self.status_sent[1] < STATUS_PERIOD_S:
            return
        self.status_sent = (key, now)
        self.status_pub.publish(VehicleStatus(
            timestamp=v.sent_stamp_us(now), arming_state=v.arming_state, nav_state=v.nav_state,
            failsafe=v.failsafe, failure_detector_status=v.failure_detector_status,
            system_id=v.params.mav_sys_id, component_id=1, vehicle_type=VehicleStatus.VEHICLE_TYPE_ROTARY_WING,
            pre_flight_checks_pass=v.position_valid(now)))


def main(args=None) -> None:
    from uav_mec_nodes.nodes._run import run_single
    run_single(Px4StandinNode, args)


if __name__ == '__main__':
    main()
