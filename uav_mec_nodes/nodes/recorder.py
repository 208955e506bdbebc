"""recorder: every topic of the run into a rosbag2 bag (rosbags library), bytes as received.

Subscribes with raw=True, so the bag holds the CDR bytes DDS delivered; the
message definitions of this package are registered in the bag's typestore so
`ros2 bag` and rosbags read them back. Storage: sqlite3 (default) or mcap.
It stops and closes the bag once the last slot's metrics are in.
"""
from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

from rclpy.node import Node
from std_msgs.msg import UInt32

from uav_mec_nodes.nodes import _common as c

TYPE_NAMES = {
    c.TOPIC_CLOCK: 'rosgraph_msgs/msg/Clock', c.TOPIC_WORLD_UAVS: 'uav_mec_nodes/msg/UavState',
    c.TOPIC_USERS: 'uav_mec_nodes/msg/UserStates', c.TOPIC_CHANNEL: 'uav_mec_nodes/msg/ChannelState',
    c.TOPIC_PLAN: 'uav_mec_nodes/msg/Plan', c.TOPIC_FAILURES: 'uav_mec_nodes/msg/FailureEvent',
    c.TOPIC_FAILURE_REPORT: 'uav_mec_nodes/msg/FailureReport',
    c.TOPIC_TASK_REPORTS: 'uav_mec_nodes/msg/TaskReport', c.TOPIC_SLOT_METRICS: 'uav_mec_nodes/msg/SlotMetrics',
    c.TOPIC_MARKERS: 'visualization_msgs/msg/MarkerArray',
}


def recorded_topics(num_uavs: int) -> dict:
    topics = dict(TYPE_NAMES)
    for j in range(num_uavs):
        topics[c.uav_state_topic(j)] = 'uav_mec_nodes/msg/UavState'
        topics[c.uav_cmd_topic(j)] = 'uav_mec_nodes/msg/UavCommand'
    return topics


def msg_definitions_dir() -> Path:
    """share/uav_mec_nodes/msg of the install (ament index), where rosidl put the .msg files."""
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    try:
        return Path(get_package_share_directory('uav_mec_nodes')) / 'msg'
    except (PackageNotFoundError, OSError):  # no ament index (AMENT_PREFIX_PATH unset): the venv prefix
        return Path(sys.prefix) / 'share' / 'uav_mec_nodes' / 'msg'


def message_class(type_name: str):
    """'pkg/msg/Name' -> the generated Python class."""
    pkg, _, name = type_name.split('/')
    return getattr(importlib.import_module(f'{pkg}.msg'), name)


def typestore():
    """rosbags typestore of ROS 2 Kilted plus this package's messages (their installed .msg files)."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore
    store = get_typestore(Stores.ROS2_KILTED)
    msg_dir = msg_definitions_dir()
    types = {}
    for path in sorted(msg_dir.glob('*.msg')):
        types.update(get_types_from_msg(path.read_text(), f'uav_mec_nodes/msg/{path.stem}'))
    store.register(types)
    return store


class RecorderNode(Node):
    def __init__(self, **kwargs):
        super().__init__('recorder', **kwargs)
        self.cfg, _ = c.declare_scenario(self)
        self.bag_path = Path(c.declare(self, 'bag_path', 'runs/bag', 'output bag folder (must not exist)'))
        storage = c.declare(self, 'storage', 'sqlite3', 'sqlite3 | mcap')
        from rosbags.rosbag2 import StoragePlugin, Writer
        if storage not in ('sqlite3', 'mcap'):
            from uav_mec_nodes.errors import UserInputError
            raise UserInputError(f'recorder: parameter storage: must be sqlite3 or mcap, got {storage!r}')
        self.bag_path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = Writer(self.bag_path, version=9,
                             storage_plugin=StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3)
        self.writer.open()
        store = typestore()
        self.counts = {}
        self.metrics_seen = 0
        self.closed = False
        self.done_at = None
        self.last_message = time.monotonic()
        self.slots_recorded = 0
        self.progress_pub = self.create_publisher(UInt32, c.TOPIC_RECORDER_PROGRESS, c.RELIABLE)
        for topic, type_name in recorded_topics(self.cfg.scenario.num_uavs).items():
            conn = self.writer.add_connection(topic, type_name, typestore=store)
            qos = 10 if topic in (c.TOPIC_CLOCK, c.TOPIC_MARKERS) else c.RELIABLE
            self.create_subscription(message_class(type_name), topic,
                                     lambda data, conn=conn, topic=topic: self.on_message(conn, topic, data),
                                     qos, raw=True)

    def on_message(self, conn, topic: str, data: bytes) -> None:
        if self.closed:
            return
        self.writer.write(conn, self.get_clock().now().nanoseconds or time.time_ns(), data)
        self.counts[topic] = self.counts.get(topic, 0) + 1
        self.last_message = time.monotonic()
        s = self.cfg.scenario
        if topic == c.TOPIC_SLOT_METRICS:
            self.metrics_seen += 1
        if topic in (c.TOPIC_SLOT_METRICS, c.TOPIC_TASK_REPORTS):
            # slots recorded in full (counts, since topics are not ordered against each other); the
            # world waits for this before the next slot, so no reader queue grows without bound
            done = min(self.metrics_seen, self.counts.get(c.TOPIC_TASK_REPORTS, 0) // max(s.num_users, 1))
            if done > self.slots_recorded:
                self.slots_recorded = done
                self.progress_pub.publish(UInt32(data=done))
        # done when every slot's metrics and every task's report are in (the reports of a slot can
        # still be queued when its metrics arrive); `finished` also stops after 2 s without messages
        if self.done_at is None and self.metrics_seen >= s.num_slots and \
                self.counts.get(c.TOPIC_TASK_REPORTS, 0) >= s.num_slots * s.num_users:
            self.done_at = time.monotonic()

    def idle_after_episode(self, idle_s: float = 2.0) -> bool:
        return self.metrics_seen >= self.cfg.scenario.num_slots and time.monotonic() - self.last_message > idle_s

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.writer.close()


def main(args=None) -> None:
    from uav_mec_nodes.nodes._run import run_single
    run_single(RecorderNode, args)


if __name__ == '__main__':
    main()
