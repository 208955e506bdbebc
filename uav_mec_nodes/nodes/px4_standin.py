"""px4_standin: one PX4 vehicle on PX4's ROS 2 interface, to test the bridge and to rehearse before a real one.

Run it in the vehicle's namespace (`--ros-args -r __ns:=/px4_1 -p sys_id:=1`):
it subscribes to fmu/in/offboard_control_mode, fmu/in/trajectory_setpoint and
fmu/in/vehicle_command (best effort, volatile) and publishes
fmu/out/vehicle_local_position, fmu/out/vehicle_status_v1 and
fmu/out/vehicle_command_ack (best effort, transient local) at PX4's rates, with
microsecond timestamps since its start, as PX4 v1.16 with the uXRCE-DDS agent
does. All behaviour is px4.vehicle.Px4Vehicle's; physics runs at 100 Hz of wall time.
"""
from __future__ import annotations

import math
import time

import numpy as np
from px4_msgs.msg import (OffboardControlMode, TrajectorySetpoint, VehicleCommand, VehicleCommandAck,
                          VehicleLocalPosition, VehicleStatus)
from rclpy.node import Node

from uav_mec_nodes import contract
from uav_mec_nodes.nodes import _common as c
from uav_mec_nodes.px4.vehicle import Px4Vehicle, VehicleParams

PHYSICS_HZ = 100.0


class Px4StandinNode(Node):
    def __init__(self, **kwargs):
        super().__init__('px4_standin', **kwargs)
        p = c.declare_parameters(self, 'px4_standin')
        self.vehicle = Px4Vehicle(VehicleParams(
            sys_id=p.sys_id, v_max_mps=p.v_max_mps, a_max_mps2=p.a_max_mps2, offboard_loss_s=p.offboard_loss_s,
            loss_action=p.loss_action, failure_injection=p.failure_injection))
        self.boot = time.monotonic()
        self.done = False   # a vehicle: it runs until it is stopped
        out, into = c.qos(contract.PX4_OUT_QOS), c.qos(contract.PX4_IN_QOS)
        self.position_pub = self.create_publisher(VehicleLocalPosition, contract.PX4_FROM + 'vehicle_local_position',
                                                  out)
        self.status_pub = self.create_publisher(VehicleStatus, contract.PX4_FROM + p.status_topic, out)
        self.ack_pub = self.create_publisher(VehicleCommandAck, contract.PX4_FROM + 'vehicle_command_ack', out)
        self.create_subscription(OffboardControlMode, contract.PX4_TO + 'offboard_control_mode',
                                 lambda msg: self.vehicle.on_offboard_control_mode(self.now()), into)
        self.create_subscription(TrajectorySetpoint, contract.PX4_TO + 'trajectory_setpoint', self.on_setpoint, into)
        self.create_subscription(VehicleCommand, contract.PX4_TO + 'vehicle_command', self.on_command, into)
        wall = c.wall_clock()
        self.last_step = self.now()
        self.create_timer(1.0 / PHYSICS_HZ, self.step, clock=wall)
        self.create_timer(1.0 / p.local_position_hz, self.publish_position, clock=wall)
        self.create_timer(1.0 / p.status_hz, self.publish_status, clock=wall)

    def now(self) -> float:
        return time.monotonic() - self.boot

    def stamp_us(self) -> int:
        return int(self.now() * 1e6)

    def on_setpoint(self, msg: TrajectorySetpoint) -> None:
        if all(math.isfinite(v) or math.isnan(v) for v in list(msg.position) + list(msg.velocity)):
            self.vehicle.on_setpoint(np.array(msg.position, float), np.array(msg.velocity, float))

    def on_command(self, msg: VehicleCommand) -> None:
        ack = self.vehicle.on_command(self.now(), msg.command, msg.param1, msg.param2, msg.target_system,
                                      msg.target_component, msg.source_system, msg.source_component)
        if ack is not None:
            self.ack_pub.publish(VehicleCommandAck(timestamp=self.stamp_us(), command=ack.command, result=ack.result,
                                                   target_system=ack.target_system,
                                                   target_component=ack.target_component))

    def step(self) -> None:
        now = self.now()
        self.vehicle.step(now, min(max(now - self.last_step, 1e-3), 0.1))
        self.last_step = now

    def publish_position(self) -> None:
        v, stamp = self.vehicle, self.stamp_us()
        x, y, z = (float(a) for a in v.position)
        vx, vy, vz = (float(a) for a in v.velocity)
        self.position_pub.publish(VehicleLocalPosition(
            timestamp=stamp, timestamp_sample=stamp, xy_valid=True, z_valid=True, v_xy_valid=True, v_z_valid=True,
            x=x, y=y, z=z, vx=vx, vy=vy, vz=vz, heading=0.0, heading_good_for_control=True,
            vxy_max=float(v.params.v_max_mps), vz_max=float(v.params.v_max_mps)))

    def publish_status(self) -> None:
        v = self.vehicle
        self.status_pub.publish(VehicleStatus(
            timestamp=self.stamp_us(), arming_state=v.arming_state, nav_state=v.nav_state, failsafe=v.failsafe,
            failure_detector_status=v.failure_detector_status, system_id=v.params.sys_id, component_id=1,
            vehicle_type=VehicleStatus.VEHICLE_TYPE_ROTARY_WING, pre_flight_checks_pass=True))


def main(args=None) -> None:
    from uav_mec_nodes.nodes._run import run_single
    run_single(Px4StandinNode, args)


if __name__ == '__main__':
    main()
