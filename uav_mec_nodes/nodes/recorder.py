"""recorder: every topic of the run into a rosbag2 bag (rosbags library), bytes as received.

Subscribes to the contract's topics raw, keeps only the run's own messages from
each topic's owners (the rest is counted per slot on /recorder/stray_input in
the bag), and writes the CDR bytes DDS delivered. The bag's metadata holds each
topic's offered QoS profile; /run_info holds what the run was (seed, scenario,
policy), so the bag alone can be summarised and replayed. After every slot the
bag is checkpointed (bag.BagWriter), so a killed recorder loses at most the
slot it was writing. With the px4 plant it also records every vehicle's PX4 topics
(fmu/in/*, fmu/out/*, with PX4's QoS) as they come, so a flight can be analysed
from the bag alone: their writers are PX4's agent and the bridge, not graph nodes,
so they are taken unguarded. Storage: sqlite3 (default) or mcap.
"""
from __future__ import annotations

import hashlib
import importlib
import time
from collections import Counter
from functools import partial
from pathlib import Path

from rclpy.node import Node

from uav_mec_nodes import __version__
from uav_mec_nodes.bag import BagWriter
from uav_mec_nodes.contract import TOPIC_RUN_INFO, TOPIC_STRAY_INPUT, px4_topics, reader_qos, recorded_topics
from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.msg import RecorderProgress
from uav_mec_nodes.nodes import _common as c

DRAIN_S = 0.5   # after the last slot, late messages (the final /clock) still get in


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
        self.num_slots, self.num_users = s.num_slots, s.num_users
        topics = recorded_topics(s.num_users, s.num_uavs, p.lease_s)
        self.bag_path = Path(p.bag_path)
        if self.bag_path.exists():
            raise UserInputError(f'recorder: parameter bag_path: {self.bag_path} exists; bags are never '
                                 'overwritten: choose a new folder')
        try:
            self.bag_path.parent.mkdir(parents=True, exist_ok=True)
            self.bag = BagWriter(self.bag_path, p.storage)
        except OSError as exc:
            raise UserInputError(f'recorder: parameter bag_path: cannot write {self.bag_path} '
                                 f'({exc.strerror or exc})') from None
        self.connections = {name: self.bag.add_topic(name, spec.type_name, spec.qos) for name, spec in topics.items()}
        self.info_connection = self.bag.add_topic(TOPIC_RUN_INFO, 'uav_mec_nodes/msg/RunInfo')
        self.stray_connection = self.bag.add_topic(TOPIC_STRAY_INPUT, 'uav_mec_nodes/msg/StrayInput')
        self.write_run_info(p)
        self.bag.checkpoint()
        self.counts = Counter()
        self.strays = Counter()          # (topic, reason) -> ignored since the last checkpoint
        self.metrics_seen = 0
        self.slots_recorded = 0
        self.closed = False
        self.done_at = None
        self.moves_seen = 0              # slots whose MOVE (the plant's command) is in the bag
        self.last_message = time.monotonic()
        self.inputs = c.GuardedInput(self, self.run_id, self.cfg, p.lease_s)
        self.inputs.on_stray = self.on_stray
        self.progress_pub = self.create_publisher(RecorderProgress, c.TOPIC_RECORDER_PROGRESS,
                                                  c.qos(self.inputs.topics[c.TOPIC_RECORDER_PROGRESS].qos))
        for topic, spec in topics.items():
            self.inputs.subscribe(message_class(spec.type_name), topic, partial(self.on_message, topic), raw=True)
        if p.plant == 'px4':
            from uav_mec_nodes.px4.bridge import vehicle_ids
            names = [ns for ns, _ in vehicle_ids(s.num_uavs, p.px4_namespaces, p.px4_sys_ids)]
            c.px4_versions(self, p.px4_message_versions)   # a bad one: one line naming it
            for topic, spec in px4_topics(names, p.px4_message_versions).items():
                self.connections[topic] = self.bag.add_topic(topic, spec.type_name, spec.qos)
                self.create_subscription(message_class(spec.type_name), topic, partial(self.on_px4, topic),
                                         c.qos(reader_qos(spec.qos)), raw=True)

    def write_run_info(self, p) -> None:
        path = Path(p.policy)
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if p.policy.endswith('.pt') and path.is_file() else ''
        from uav_mec_nodes.config import render_yaml
        info = dict(run_id=p.run_id, package_version=__version__, seed=p.seed, policy=p.policy,
                    policy_sha256=digest, failure_mode=p.failure_mode, scenario_yaml=render_yaml(self.cfg),
                    domain_id=self.get_domain_id())
        self._write_own(self.info_connection, 'RunInfo', info)

    def get_domain_id(self) -> int:
        return int(self.context.get_domain_id())

    def _write_own(self, connection, type_name: str, fields: dict) -> None:
        """A message of the recorder's own into the bag (rosbags' typestore serialises it)."""
        store = self.bag.store
        full = f'uav_mec_nodes/msg/{type_name}'
        cls = store.types[full]
        header_cls = store.types['std_msgs/msg/Header']
        time_cls = store.types['builtin_interfaces/msg/Time']
        now = time.time_ns()
        header = header_cls(stamp=time_cls(sec=now // 1_000_000_000, nanosec=now % 1_000_000_000), frame_id='')
        self.bag.write(connection, now, self.bag.serialize(cls(header=header, **fields), full))

    # --- recording -----------------------------------------------------------------------------
    def on_stray(self, topic: str, reason: str) -> None:
        self.strays[(topic, reason)] += 1

    def on_message(self, topic: str, msg, data: bytes) -> None:
        if self.closed:
            return
        self.bag.write(self.connections[topic], self.get_clock().now().nanoseconds or time.time_ns(), data)
        self.last_message = time.monotonic()
        self.counts[topic] += 1
        if topic == c.TOPIC_SLOT_METRICS:
            self.metrics_seen += 1
        if topic in (c.TOPIC_SLOT_METRICS, c.TOPIC_TASK_REPORTS):
            # slots recorded in full (counts: topics are not ordered against each other); the world
            # waits for this before the next slot, so no reader queue grows without bound
            done = min(self.metrics_seen, self.counts[c.TOPIC_TASK_REPORTS] // max(self.num_users, 1))
            if done > self.slots_recorded:
                self.slots_recorded = done
                self.checkpoint()
                self.progress_pub.publish(RecorderProgress(run_id=self.run_id, slots_recorded=done))
        if topic == c.TOPIC_PLANT_COMMAND and msg.kind == msg.KIND_MOVE:
            self.moves_seen = max(self.moves_seen, msg.slot + 1)
        # the last MOVE is published beside the last slot's accounting, not before it: wait for both
        if self.done_at is None and self.slots_recorded >= self.num_slots and self.moves_seen >= self.num_slots:
            self.done_at = time.monotonic()

    def on_px4(self, topic: str, data: bytes) -> None:
        if not self.closed:
            self.bag.write(self.connections[topic], time.time_ns(), data)

    def checkpoint(self) -> None:
        """Stray counts of the slot into the bag, then everything so far made crash-safe."""
        for (topic, reason), count in sorted(self.strays.items()):
            self._write_own(self.stray_connection, 'StrayInput',
                            dict(run_id=self.run_id, slot=self.slots_recorded, topic=topic, reason=reason,
                                 count=count))
        self.strays.clear()
        self.bag.checkpoint()

    def drain(self, spin, quiet_s: float = 0.3, limit_s: float = 2.0) -> None:
        """Stopped by a signal: take in what is still in flight (until quiet_s without a message)."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline and time.monotonic() - self.last_message < quiet_s:
            spin()

    @property
    def done(self) -> bool:
        return self.done_at is not None and time.monotonic() - self.done_at > DRAIN_S

    def close(self) -> None:
        """Close the bag readable (also when the run is interrupted)."""
        if not self.closed:
            self.closed = True
            if self.strays:
                self.checkpoint()
            self.bag.close()


def main(args=None) -> None:
    from uav_mec_nodes.nodes._run import run_single
    run_single(RecorderNode, args)


if __name__ == '__main__':
    main()
