"""recorder: every topic of the run into a rosbag2 bag (rosbags library), bytes as received.

Subscribes to the contract's topics raw, keeps only the run's own messages from
each topic's owners (the rest is counted per slot on /recorder/stray_input in
the bag), and writes the CDR bytes DDS delivered. The bag's metadata holds each
topic's offered QoS profile; /run_info holds what the run was (seed, scenario,
policy), so the bag alone can be summarised and replayed. After every slot the
bag is checkpointed (bags.recording.Recording, all of the logic), so a killed
recorder loses at most the slot it was writing. With the px4 plant it also records every vehicle's PX4 topics
(fmu/in/*, fmu/out/*, with PX4's QoS) as they come, so a flight can be analysed
from the bag alone: their writers are PX4's agent and the bridge, not graph nodes,
so they are taken unguarded. Storage: sqlite3 (default) or mcap.
"""
from __future__ import annotations

import importlib
import time
from functools import partial

from rclpy.node import Node

from uav_mec_nodes.bags.recording import Recording
from uav_mec_nodes.config import render_yaml
from uav_mec_nodes.graph.contract import px4_topics, reader_qos, recorded_topics, slot_messages
from uav_mec_nodes.graph.progress import SLOTS_RECORDED, ProgressFiles
from uav_mec_nodes.msg import RecorderProgress
from uav_mec_nodes.nodes import _common as c


def message_class(type_name: str):
    """'pkg/msg/Name' -> the generated Python class."""
    pkg, _, name = type_name.split('/')
    return getattr(importlib.import_module(f'{pkg}.msg'), name)


class RecorderNode(Node):
    def __init__(self, **kwargs):
        super().__init__('recorder', **kwargs)
        p, self.cfg = c.declare_node(self, 'recorder')
        self.run_id = p.run_id
        s = self.cfg.scenario
        topics = recorded_topics(s.num_users, s.num_uavs)
        bag = p.bag_path or f'runs/{p.run_id or "recorder"}/bag'   # as GraphConfig names it
        self.recording = Recording(p.run_id, bag, p.storage, topics, s.num_slots,
                                   slot_messages(s.num_users, s.num_uavs, p.plant in c.REAL_TIME_PLANTS), s.slot_s)
        self.recording.write_run_info(p.seed, p.policy, p.failure_mode, render_yaml(self.cfg),
                                      int(self.context.get_domain_id()))
        # unfiltered: other runs' messages on the domain are counted as stray input in the bag
        self.inputs = c.GuardedInput(self, self.run_id, self.cfg, filter_foreign_runs=False)
        # it reads every topic of the contract, so it alone tells of a foreign writer DDS never matches with it
        self.foreign = c.ForeignWriters(self, {t: (spec.type_name, reader_qos(spec.qos)) for t, spec in topics.items()})
        self.inputs.on_stray = self.recording.stray
        self.progress = ProgressFiles.from_environment()   # the launcher's view of the run
        self.progress_pub = c.publisher(self, RecorderProgress, c.TOPIC_RECORDER_PROGRESS, self.inputs.topics)
        for topic, spec in topics.items():
            self.inputs.subscribe(message_class(spec.type_name), topic, partial(self.on_message, topic), raw=True)
        if p.plant == 'px4':
            from uav_mec_nodes.px4.bridge import vehicle_ids
            names = [ns for ns, _ in vehicle_ids(s.num_uavs, p.px4_namespaces, p.px4_sys_ids)]
            c.px4_versions(self, p.px4_message_versions)   # a bad one: one line naming it
            for topic, spec in px4_topics(names, p.px4_message_versions).items():
                self.recording.add_topic(topic, spec)
                self.create_subscription(message_class(spec.type_name), topic,
                                         lambda data, topic=topic: self.recording.write(topic, time.time_ns(), data),
                                         c.qos(reader_qos(spec.qos)), raw=True)

    @property
    def slots_recorded(self) -> int:
        return self.recording.slots_recorded

    @property
    def done(self) -> bool:
        return self.recording.done

    def on_message(self, topic: str, msg, data: bytes) -> None:
        stamp = self.get_clock().now().nanoseconds or time.time_ns()
        if self.recording.write(topic, stamp, data, msg):
            # the world waits for this before the next slot, so no reader queue grows without bound
            self.progress_pub.publish(RecorderProgress(run_id=self.run_id,
                                                       slots_recorded=self.recording.slots_recorded))
            self.progress.write(SLOTS_RECORDED, self.recording.slots_recorded)

    def drain(self, spin, quiet_s: float = 0.3, limit_s: float = 2.0) -> None:
        """Stopped by a signal: take in what is still in flight (until quiet_s without a message)."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline and time.monotonic() - self.recording.last_message < quiet_s:
            spin()

    def close(self) -> None:
        """Close the bag readable (also when the run is interrupted), with what the guard still held."""
        try:
            self.inputs.flush()
            ledger, slot = self.recording.ledger, self.slots_recorded
            if not self.done and ledger.started(slot):   # stopped in the middle of a slot: say what it lacks
                self.get_logger().warning(f'the bag holds {slot} slots whole; slot {slot} lacks '
                                          f'{", ".join(ledger.missing(slot))}')
        finally:
            self.recording.close()


def main(args=None) -> None:
    from uav_mec_nodes.nodes._run import run_single
    run_single(RecorderNode, args)


if __name__ == '__main__':
    main()
