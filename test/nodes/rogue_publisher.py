"""Publishes malformed messages on the graph's input topics for N seconds (test helper, own process)."""
import math
import sys
import time

import rclpy

from uav_mec_nodes.msg import ChannelState, FailureEvent, OffloadDecision, Plan, UavCommand, UavState
from uav_mec_nodes.nodes import _common as c


def main(seconds: float) -> None:
    rclpy.init()
    node = rclpy.create_node('rogue')
    pubs = dict(state=node.create_publisher(UavState, c.uav_state_topic(0), c.liveliness_qos(0.5)),
                world=node.create_publisher(UavState, c.TOPIC_WORLD_UAVS, c.RELIABLE),
                channel=node.create_publisher(ChannelState, c.TOPIC_CHANNEL, c.RELIABLE),
                failure=node.create_publisher(FailureEvent, c.TOPIC_FAILURES, c.RELIABLE),
                cmd=node.create_publisher(UavCommand, c.uav_cmd_topic(1), c.RELIABLE),
                plan=node.create_publisher(Plan, c.TOPIC_PLAN, c.RELIABLE))
    end = time.monotonic() + seconds
    count = 0
    while time.monotonic() < end:
        slot = count % 8
        nan_state = UavState(slot=slot, uav_id=0)
        nan_state.position.z = math.nan
        pubs['state'].publish(nan_state)
        pubs['world'].publish(UavState(slot=slot, uav_id=77))
        pubs['channel'].publish(ChannelState(slot=slot, num_users=10, num_uavs=3, mu_uav_gain=[-1.0] * 30,
                                             uav_uav_rate_bps=[0.0] * 9))
        pubs['failure'].publish(FailureEvent(slot=slot, uav_id=99, mode=FailureEvent.MODE_ANNOUNCE))
        cmd = UavCommand(slot=slot, uav_id=1)
        cmd.acceleration.y = math.nan
        pubs['cmd'].publish(cmd)
        pubs['plan'].publish(Plan(slot=1000 + slot, decisions=[OffloadDecision(serving_uav=55)]))
        count += 1
        if count == 1:
            print('published a first round of junk', flush=True)
        try:
            rclpy.spin_once(node, timeout_sec=0.02)
        except Exception:   # SIGTERM from the test: rclpy shuts down
            break
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == '__main__':
    main(float(sys.argv[1]))
