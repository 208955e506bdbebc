"""uav: one UAV's onboard node, namespaced /uav_<j>.

Reports its state every slot on /uav_<j>/state, and beats on /uav_<j>/heartbeat
from a thread of its own, so its lease says whether the process lives, whatever
traffic its callbacks are busy with: if the process dies (SIGKILL) or the UAV
is silenced, the heartbeats stop and the planner notices within a lease. Relays
its command of each plan to the world (/uav_<j>/cmd). Accounts the compute of
the tasks it runs (from /task_reports, the model's numbers) and can run the
real torch tail layers of each task on a random tensor (`run_torch_layers`).
Failure modes it obeys (FailureEvent for itself): ANNOUNCE keeps reporting with
alive=false; SILENCE stops reporting and beating; KILL ends its own process
with SIGKILL when it runs alone (else it falls silent). It is up (beats,
relays its state) only once DDS has matched every topic it reads with a writer:
nothing else waits for its /slot_metrics reader, and one matched after
channel_sim has left would never hear the episode end (CI once found two UAV
nodes waiting after a run). It ends when the last slot's metrics are in and its
plan relayed.
"""
from __future__ import annotations

import os
import signal

from rclpy.node import Node

from uav_mec_nodes.graph.contract import uav_node_name
from uav_mec_nodes.graph.progress import SLOTS_SEEN, ProgressFiles
from uav_mec_nodes.msg import FailureEvent, Heartbeat, Plan, SlotMetrics, TaskReport, UavCommand, UavState
from uav_mec_nodes.nodes import _common as c

UAV_INPUTS = ((UavState, c.TOPIC_WORLD_UAVS, 'on_world_state'), (Plan, c.TOPIC_PLAN, 'on_plan'),
              (FailureEvent, c.TOPIC_FAILURES, 'on_failure'), (TaskReport, c.TOPIC_TASK_REPORTS, 'on_report'),
              (SlotMetrics, c.TOPIC_SLOT_METRICS, 'on_metrics'))


class UavNode(Node):
    def __init__(self, uav_id: int = 0, **kwargs):
        super().__init__(uav_node_name(uav_id), **kwargs)
        p, self.cfg = c.declare_node(self, 'uav')
        self.uav_id, self.lease_s, self.run_id = p.uav_id, p.lease_s, p.run_id
        if self.uav_id >= self.cfg.scenario.num_uavs:
            from uav_mec_nodes.errors import UserInputError
            raise UserInputError(f'uav node: parameter uav_id: must be in [0, {self.cfg.scenario.num_uavs - 1}], '
                                 f'got {self.uav_id}')
        self.own_process, self.run_torch = p.own_process, p.run_torch_layers
        self.silent = False
        self.failed = False
        self.done = False
        self.slots_seen = 0        # slots whose metrics came (a host of UAV nodes alone counts its progress so)
        self.progress = ProgressFiles.from_environment()
        self.last_plan = -1        # the last slot whose plan it handled
        self.load_hz = {}          # slot -> CPU given to its tasks; only the last two slots are kept
        self._tail = None          # the torch tail layers (run_torch_layers)
        topics = c.graph_topics(self.cfg.scenario.num_users, self.cfg.scenario.num_uavs)
        self.state_pub = c.publisher(self, UavState, c.uav_state_topic(self.uav_id), topics)
        self.cmd_pub = c.publisher(self, UavCommand, c.uav_cmd_topic(self.uav_id), topics)
        heartbeat_pub = c.publisher(self, Heartbeat, c.uav_heartbeat_topic(self.uav_id), topics)
        self.inputs = c.GuardedInput(self, self.run_id, self.cfg)
        # of the topics of all UAVs, the middleware hands this node only its own UAV's messages
        own = {c.TOPIC_WORLD_UAVS: ('uav_id', self.uav_id), c.TOPIC_TASK_REPORTS: ('computing_uav', self.uav_id)}
        for msg_type, topic, callback in UAV_INPUTS:
            self.inputs.subscribe(msg_type, topic, getattr(self, callback), only=own.get(topic))
        self._early_state = None   # the plant's latest state that came before the node was up
        self.up = c.UntilHeard(self, self.inputs, [topic for _, topic, _ in UAV_INPUTS], self._relay_early_state)
        self.heartbeats = c.Heartbeats(heartbeat_pub, Heartbeat(run_id=self.run_id, uav_id=self.uav_id),
                                       self.lease_s / c.HEARTBEATS_PER_LEASE, lambda: self.up.ready and not self.silent,
                                       name=f'uav_{self.uav_id}_heartbeat')

    def _relay_early_state(self) -> None:
        if self._early_state is not None:
            self.on_world_state(self._early_state)

    def destroy_node(self) -> None:
        self.heartbeats.stop()
        super().destroy_node()

    def on_failure(self, msg: FailureEvent) -> None:
        if msg.uav_id != self.uav_id or self.failed:
            return
        self.failed = True
        when = 'is counted lost before' if msg.mode == FailureEvent.MODE_LIVELINESS_LOST else 'fails in'
        self.get_logger().warning(f'UAV {self.uav_id} {when} slot {msg.slot} (mode {msg.mode}: {msg.reason})')
        if msg.mode == FailureEvent.MODE_KILL and self.own_process:
            os.kill(os.getpid(), signal.SIGKILL)
        if msg.mode in (FailureEvent.MODE_SILENCE, FailureEvent.MODE_KILL):
            self.silent = True

    def on_world_state(self, msg: UavState) -> None:
        if msg.uav_id != self.uav_id or self.silent:
            return
        if not self.up.ready:
            self._early_state = msg
            return
        out = UavState(header=msg.header, run_id=self.run_id, slot=msg.slot, uav_id=msg.uav_id,
                       alive=msg.alive and not self.failed, position=msg.position, velocity=msg.velocity,
                       cpu_capacity_hz=msg.cpu_capacity_hz, cpu_load_hz=self.load_hz.get(msg.slot - 1, 0.0),
                       flight_energy_j=msg.flight_energy_j)
        self.state_pub.publish(out)
        for old in [s for s in self.load_hz if s < msg.slot - 1]:
            self.load_hz.pop(old)

    def on_plan(self, msg: Plan) -> None:
        if self.silent or len(msg.uav_commands) > self.cfg.scenario.num_uavs:
            return
        for cmd in msg.uav_commands:
            if cmd.uav_id == self.uav_id:
                cmd.run_id = self.run_id
                self.cmd_pub.publish(cmd)
        self.last_plan = max(self.last_plan, msg.slot)
        self._check_done()

    def on_report(self, msg: TaskReport) -> None:
        if msg.computing_uav != self.uav_id or self.silent:
            return
        self.load_hz[msg.slot] = self.load_hz.get(msg.slot, 0.0) + msg.uav_cpu_hz
        if self.run_torch:
            self.run_tail_layers(msg.dnn_type, msg.partition_layer)

    def on_metrics(self, msg: SlotMetrics) -> None:
        self.slots_seen = max(self.slots_seen, msg.slot + 1)
        self.progress.write(f'{SLOTS_SEEN}.{self.get_name()}', self.slots_seen)   # a host of UAV nodes alone
        self._check_done()

    def _check_done(self) -> None:
        """Over once the last slot's metrics are in and its plan was relayed: the metrics can overtake the plan
        (channel_sim accounts the slot from the plan while this node waits its turn), and a node that ended on
        them first would leave its last command unsent (seen under load: the UAV held in place)."""
        last = self.cfg.scenario.num_slots - 1
        self.done = self.done or (self.slots_seen > last and (self.silent or self.last_plan >= last))

    @property
    def layers_run(self) -> int:
        return self._tail.layers_run if self._tail is not None else 0

    def run_tail_layers(self, dnn_type: int, partition_layer: int) -> None:
        from uav_mec_nodes.model.dnn_networks import TailRunner   # torch: only where the layers really run
        from uav_mec_nodes.model.dnn_profiles import DNN_NAMES
        self._tail = self._tail or TailRunner()
        self._tail.run(DNN_NAMES[dnn_type], partition_layer)


def main(args=None) -> None:
    from uav_mec_nodes.nodes._run import run_single
    run_single(UavNode, args)


if __name__ == '__main__':
    main()
