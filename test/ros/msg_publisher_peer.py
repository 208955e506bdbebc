"""Second process of the message test: publishes every uav_mec_nodes message.

Usage: python msg_publisher_peer.py SEED DURATION_S
Publishes each message type (filled by msg_fill.expected) on /msg_test/<Name>
every 0.1 s until DURATION_S has passed.
"""
import sys
import time
from pathlib import Path

import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy

sys.path.insert(0, str(Path(__file__).parent))
import msg_fill  # noqa: E402
import uav_mec_nodes.msg  # noqa: E402


def main():
    seed, duration = int(sys.argv[1]), float(sys.argv[2])
    rclpy.init()
    node = rclpy.create_node('msg_publisher_peer')
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    pubs = {}
    for name in msg_fill.all_message_types():
        pubs[name] = (node.create_publisher(getattr(uav_mec_nodes.msg, name), f'/msg_test/{name}', qos),
                      msg_fill.expected(name, seed))
    end = time.monotonic() + duration
    while time.monotonic() < end:
        for pub, msg in pubs.values():
            pub.publish(msg)
        rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_node()
    rclpy.shutdown()


if __name__ == '__main__':
    main()
