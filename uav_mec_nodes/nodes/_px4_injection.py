"""The failure injector's PX4 modes: one VehicleCommand to a vehicle, until PX4 answers it.

px4_termination: VEHICLE_CMD_DO_FLIGHTTERMINATION (185, param1 1), which PX4 takes
while armed (Commander::handle_command): the motors stop and it falls, and the
bridge reports it down from nav_state 13. px4_motor: VEHICLE_CMD_INJECT_FAILURE
(420: motor 101, off 1, param3 the motor, 0 = all), answered by PX4's
FailureInjector without a target; in v1.16 it only blanks that motor's ESC status,
and SIH and gz keep the motor turning. Commands are best effort (as PX4's topics):
sent again every RESEND_S until an ack comes, for at most GIVE_UP_S; the answer is
logged with PX4's result name.
"""
from __future__ import annotations

import time

from px4_msgs.msg import VehicleCommand, VehicleCommandAck

from uav_mec_nodes.graph import contract
from uav_mec_nodes.nodes import _common as c
from uav_mec_nodes.px4.bridge import vehicle_ids

RESEND_S = 0.5
GIVE_UP_S = 5.0


class Px4Injection:
    def __init__(self, node, p):
        self.node = node
        self.termination = p.failure_mode == 'px4_termination'
        versions = c.px4_versions(node, p.px4_message_versions)
        self.vehicles = vehicle_ids(node.cfg.scenario.num_uavs, p.px4_namespaces, p.px4_sys_ids)
        if self.termination:
            self.command = (contract.PX4_CMD_DO_FLIGHTTERMINATION, 1.0, 0.0, 0.0)
        else:
            self.command = (contract.PX4_CMD_INJECT_FAILURE, float(contract.PX4_FAILURE_UNIT_MOTOR),
                            float(contract.PX4_FAILURE_TYPE_OFF), float(p.px4_motor_instance))
        self.pubs, self.pending = [], {}   # pending: uav -> (first sent, last sent)
        for j, (ns, _) in enumerate(self.vehicles):
            self.pubs.append(node.create_publisher(VehicleCommand, contract.px4_topic(ns, 'vehicle_command', versions),
                                                   c.qos(contract.PX4_IN_QOS)))
            node.create_subscription(VehicleCommandAck, contract.px4_topic(ns, 'vehicle_command_ack', versions),
                                     lambda m, j=j: self.on_ack(j, m), c.qos(contract.PX4_OUT_QOS))
        node.create_timer(RESEND_S, self.resend, clock=c.wall_clock())

    @property
    def what(self) -> str:
        return 'flight termination' if self.termination else f'a motor failure (motor {int(self.command[3])})'

    def inject(self, j: int) -> None:
        self.node.get_logger().warning(f'injecting {self.what} into UAV {j} (MAV_SYS_ID {self.vehicles[j][1]}) '
                                       'through PX4')
        now = time.monotonic()
        self.pending[j] = (now, now)
        self._send(j)

    def _send(self, j: int) -> None:
        command, param1, param2, param3 = self.command
        self.pubs[j].publish(VehicleCommand(timestamp=0, command=command, param1=param1, param2=param2,
                                            param3=param3, target_system=self.vehicles[j][1], target_component=1,
                                            source_system=255, source_component=0, from_external=True))

    def resend(self) -> None:
        now = time.monotonic()
        for j, (first, _) in list(self.pending.items()):
            if now - first > GIVE_UP_S:
                del self.pending[j]
                self.node.get_logger().error(f'UAV {j}: no answer from PX4 to {self.what} in {GIVE_UP_S:g} s')
            else:
                self.pending[j] = (first, now)
                self._send(j)

    def on_ack(self, j: int, msg: VehicleCommandAck) -> None:
        if j not in self.pending or msg.command != self.command[0]:
            return
        del self.pending[j]
        result = contract.px4_result_name(msg.result)
        if msg.result != 0:
            self.node.get_logger().error(f'UAV {j}: PX4 refused {self.what}: {result}')
        elif self.termination:
            self.node.get_logger().info(f'UAV {j}: PX4 accepted flight termination')
        else:
            self.node.get_logger().warning(f'UAV {j}: PX4 accepted {self.what}; PX4 v1.16 only blanks its ESC '
                                           'status (SIH and gz keep it turning): the graph counts the UAV down '
                                           'only if PX4 reports it')
