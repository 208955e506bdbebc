"""world: the kinematic plant, eqs. (6)-(7) through model.mobility (the Gym env's motion).

Holds every UAV's position and velocity (the Gym env's initial ones for the
seed). On the sequencer's START t it reports every UAV's state of slot t on
/world/uav_states; on MOVE t it flies the slot's accelerations (already through
the safety layer) with model.world.KinematicPlant, as the Gym env does, so the
graph gives the env's numbers. Swap it for the PX4 bridge (`--plant px4`).
"""
from __future__ import annotations

import numpy as np
from rclpy.node import Node

from uav_mec_nodes.model.world import KinematicPlant, World, episode_rng
from uav_mec_nodes.msg import PlantCommand, SlotMetrics, UavState
from uav_mec_nodes.nodes import _common as c
from uav_mec_nodes.nodes._messages import uav_states


class WorldNode(Node):
    def __init__(self, **kwargs):
        super().__init__('world', **kwargs)
        p, self.cfg = c.declare_node(self, 'world')
        self.run_id = p.run_id
        start = World(self.cfg).start(episode_rng(p.seed)).uav_pos   # the Gym env's initial positions
        self.plant = KinematicPlant(self.cfg, start)
        self.num_uavs = len(start)
        self.slot = -1               # the last slot whose states were reported
        self.moved = -1              # the last slot flown
        self.done = False
        inputs = c.GuardedInput(self, self.run_id, self.cfg)
        self.state_pub = c.publisher(self, UavState, c.TOPIC_WORLD_UAVS, inputs.topics)
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
            self.plant.fly(c.point_array(msg.acceleration), np.array(msg.moving, bool))

    def report(self, alive: np.ndarray) -> None:
        p = self.plant
        for msg in uav_states(self.run_id, self.slot, p.position, p.velocity, alive, p.flight_energy_j(alive),
                              self.cfg):
            self.state_pub.publish(msg)

    def on_metrics(self, msg: SlotMetrics) -> None:
        self.done = self.done or c.episode_over(msg, self.cfg)


def main(args=None) -> None:
    from uav_mec_nodes.nodes._run import run_single
    run_single(WorldNode, args)


if __name__ == '__main__':
    main()
