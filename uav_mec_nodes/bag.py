"""Reading a run's bag back with rosbags (no ROS needed): messages by topic, in order."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Dict, List


def read_bag(path) -> Dict[str, List]:
    """{topic: [message, ...]} with this package's types registered; raises UserInputError if unreadable."""
    from rosbags.rosbag2 import Reader

    from uav_mec_nodes.errors import UserInputError
    from uav_mec_nodes.nodes.recorder import typestore
    path = Path(path)
    if not (path / 'metadata.yaml').exists():
        raise UserInputError(f'bag: {path} is not a rosbag2 folder (no metadata.yaml)')
    store = typestore()
    out: Dict[str, List] = defaultdict(list)
    with Reader(path) as reader:
        for conn, _, raw in reader.messages():
            out[conn.topic].append(store.deserialize_cdr(raw, conn.msgtype))
    return dict(out)


def topic_counts(path) -> Dict[str, int]:
    from rosbags.rosbag2 import Reader
    with Reader(Path(path)) as reader:
        return {c.topic: c.msgcount for c in reader.connections}
