"""world: the kinematic plant, eqs. (6)-(7) through model.mobility (the Gym env's motion).

Holds every UAV's position and velocity (the Gym env's initial ones for the
seed). On the sequencer's START t it reports every UAV's state of slot t on
/world/uav_states; on MOVE t it flies the slot's accelerations (already through
the safety layer) with model.mobility.step_uavs, as the Gym env does, so the
graph gives the env's numbers. Swap it for the PX4 bridge (`--plant px4`).
"""
from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Point, Vector3
from rclpy.node import Node

from uav_mec_nodes.env.uav_mec_env import UavMecEnv
from uav_mec_nodes.model import mobility, propulsion
from uav_mec_nodes.msg import PlantCommand, SlotMetrics, UavState
from uav_mec_nodes.nodes import _common as c


class WorldNode(Node):
    def __init__(self, **kwargs):
        super().__init__('world', **kwargs)
        p, self.cfg = c.declare_node(self, 'world')
        self.run_id = p.run_id
        replica = UavMecEnv(self.cfg)
        replica.reset(seed=p.seed)   # the same initial UAV positions as the Gym env with this seed
        self.pos, self.vel = replica.uav_pos.copy(), replica.uav_vel.copy()
        self.num_uavs = replica.num_uavs
        self.slot = -1               # the last slot whose states were reported
        self.moved = -1              # the last slot flown
        self.done = False
        inputs = c.GuardedInput(self, self.run_id, self.cfg, 0.5)
        self.state_pub = self.create_publisher(UavState, c.TOPIC_WORLD_UAVS,
                                               c.qos(inputs.topics[c.TOPIC_WORLD_UAVS].qos))
        inputs.subscribe(PlantCommand, c.TOPIC_PLANT_COMMAND, self.on_command)
        inputs.subscribe(SlotMetrics, c.TOPIC_SLOT_METRICS, self.on_metrics)

    def on_command(self, msg: PlantCommand) -> None:
        j = self.num_uavs
        if msg.kind == PlantCommand.KIND_START and msg.slot == self.slot + 1 and len(msg.alive) == j:
            self.slot = msg.slot
            self.report(np.array(msg.alive, bool))
        elif msg.kind == PlantCommand.KIND_MOVE and msg.slot == self.slot and msg.slot > self.moved and \
                len(msg.moving) == j and len(msg.acceleration) == j:
            self.moved = msg.slot
            accel = c.point_array(msg.acceleration)
            step = mobility.step_uavs(self.pos, self.vel, accel, np.array(msg.moving, bool), self.cfg)
            self.pos, self.vel = step.position, step.velocity

    def report(self, alive: np.ndarray) -> None:
        fly = propulsion.slot_flight_energy_j(self.vel, alive, self.cfg)
        for j in range(self.num_uavs):
            msg = UavState(run_id=self.run_id, slot=self.slot, uav_id=j, alive=bool(alive[j]),
                           position=Point(x=self.pos[j, 0], y=self.pos[j, 1], z=self.pos[j, 2]),
                           velocity=Vector3(x=self.vel[j, 0], y=self.vel[j, 1], z=self.vel[j, 2]),
                           cpu_capacity_hz=self.cfg.uavs.cpu_hz, flight_energy_j=float(fly[j]))
            msg.header.stamp = c.stamp(self.slot, self.cfg.scenario.slot_s)
            msg.header.frame_id = 'world'
            self.state_pub.publish(msg)

    def on_metrics(self, msg: SlotMetrics) -> None:
        self.done = self.done or c.episode_over(msg, self.cfg)


def main(args=None) -> None:
    from uav_mec_nodes.nodes._run import run_single
    run_single(WorldNode, args)


if __name__ == '__main__':
    main()
