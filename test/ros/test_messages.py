"""Every custom message crosses a process boundary over real DDS, field for field."""
import os
import subprocess
import sys
import time
from pathlib import Path

import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy

import msg_fill
import uav_mec_nodes.msg

HERE = Path(__file__).parent
EXPECTED_TYPES = {'ChannelState', 'FailureEvent', 'OffloadDecision', 'Plan', 'SlotMetrics',
                  'TaskReport', 'UavCommand', 'UavState', 'UserStates'}


def test_message_set_is_complete():
    assert EXPECTED_TYPES <= set(msg_fill.all_message_types())


def test_the_contracts_plant_command_kinds_are_the_messages():
    from uav_mec_nodes.graph.contract import PLANT_MOVE, PLANT_START
    from uav_mec_nodes.msg import PlantCommand
    assert (PLANT_START, PLANT_MOVE) == (PlantCommand.KIND_START, PlantCommand.KIND_MOVE)


def test_every_message_crosses_processes(ros_domain_id):
    seed = 1234
    names = msg_fill.all_message_types()
    peer = subprocess.Popen([sys.executable, str(HERE / 'msg_publisher_peer.py'), str(seed), '30'],
                            env=os.environ.copy())
    received = {}
    rclpy.init()
    try:
        node = rclpy.create_node('msg_test_subscriber')
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        for name in names:
            node.create_subscription(getattr(uav_mec_nodes.msg, name), f'/msg_test/{name}',
                                     lambda m, name=name: received.setdefault(name, m), qos)
        deadline = time.monotonic() + 30
        while len(received) < len(names) and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
        node.destroy_node()
    finally:
        rclpy.shutdown()
        peer.terminate()
        peer.wait(10)
    assert set(received) == set(names), f'not received: {set(names) - set(received)}'
    for name in names:
        want = msg_fill.as_dict(msg_fill.expected(name, seed))
        got = msg_fill.as_dict(received[name])
        assert got == want, name
        # the filler really exercised the message: nested types and sequences present
        assert got != msg_fill.as_dict(getattr(uav_mec_nodes.msg, name)()), name
