"""A hostile node on a run's domain for N seconds (test helper, own process): `rogue_publisher.py SECONDS`.

It learns the run's identity from the run's own /slot_metrics (what anyone on the
domain can do without DDS security), then forges, with that identity and with a
wrong one: a plan that marks every UAV dead, a 10,000-decision plan, kill events
for every UAV and failures of UAV 999, SlotMetrics worth 1000 J, world states,
commands, recorder progress, /clock, heartbeats of every UAV; and it asserts DDS
liveliness (MANUAL_BY_TOPIC) on every UAV's state topic, as a UAV once did. Prints one line once the junk flows, and at
SIGTERM how many rounds it sent and when the last one went out (CLOCK_MONOTONIC,
the clock the test reads too), so a test can tell that the flood lasted. An error
while flooding ends it with a traceback and a non-zero status, never silently.
"""
import math
import signal
import sys
import time

import rclpy
from rclpy.signals import SignalHandlerOptions

from rclpy.duration import Duration
from rclpy.qos import LivelinessPolicy

from uav_mec_nodes.graph.contract import graph_topics, uav_heartbeat_topic
from uav_mec_nodes.msg import (ChannelState, FailureEvent, Heartbeat, OffloadDecision, Plan, RecorderProgress,
                               SlotMetrics, UavCommand, UavState)
from uav_mec_nodes.nodes import _common as c


def main(seconds: float) -> None:
    stop = []
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    node = rclpy.create_node('rogue')
    topics = graph_topics(10, 3)

    def pub(msg_type, topic):
        return node.create_publisher(msg_type, topic, c.qos(topics[topic].qos))
    pubs = dict(state=pub(UavState, c.uav_state_topic(0)), world=pub(UavState, c.TOPIC_WORLD_UAVS),
                channel=pub(ChannelState, c.TOPIC_CHANNEL), failure=pub(FailureEvent, c.TOPIC_FAILURES),
                cmd=pub(UavCommand, c.uav_cmd_topic(1)), plan=pub(Plan, c.TOPIC_PLAN),
                metrics=pub(SlotMetrics, c.TOPIC_SLOT_METRICS), progress=pub(RecorderProgress,
                                                                              c.TOPIC_RECORDER_PROGRESS))
    for j in range(3):
        pubs[f'heartbeat_{j}'] = pub(Heartbeat, uav_heartbeat_topic(j))
        lively = c.qos(topics[c.uav_state_topic(j)].qos)
        lively.liveliness = LivelinessPolicy.MANUAL_BY_TOPIC
        lively.liveliness_lease_duration = Duration(seconds=0.5)
        pubs[f'lively_{j}'] = node.create_publisher(UavState, c.uav_state_topic(j), lively)
    from rosgraph_msgs.msg import Clock
    clock = pub(Clock, c.TOPIC_CLOCK)
    learned = {}

    def learn(m):
        if m.run_id not in ('', 'not-this-run'):   # not one of its own forgeries
            learned.setdefault('run_id', m.run_id)
    node.create_subscription(SlotMetrics, c.TOPIC_SLOT_METRICS, learn, c.qos(topics[c.TOPIC_SLOT_METRICS].qos))
    huge = Plan(decisions=[OffloadDecision(user_id=i % 10, partition_layer=1) for i in range(10_000)],
                uav_alive=[False] * 3)
    end = time.monotonic() + seconds
    rounds, last = forge(pubs, clock, huge, learned, node, end, stop)
    print(f'run id learned: {learned.get("run_id", "")!r}', flush=True)
    print(f'flooded {rounds} rounds, the last at {last:.3f}', flush=True)
    node.destroy_node()
    rclpy.try_shutdown()


def forge(pubs, clock, huge, learned, node, end, stop):
    """Junk until `end` or SIGTERM: (rounds sent, monotonic time of the last)."""
    from rosgraph_msgs.msg import Clock
    count, last = 0, 0.0
    while time.monotonic() < end and not stop:
        for run_id in (learned.get('run_id', ''), 'not-this-run'):
            slot = count % 60
            dead = Plan(run_id=run_id, slot=slot, uav_alive=[False, False, False],
                        decisions=[OffloadDecision(user_id=i, partition_layer=1, serving_uav=2) for i in range(10)])
            pubs['plan'].publish(dead)
            if count % 5 == 0:   # 2 per second: heavy for the UAVs' callbacks, not a bandwidth flood
                huge.run_id, huge.slot = run_id, slot
                pubs['plan'].publish(huge)
            for j in (0, 1, 2, 999):
                pubs['failure'].publish(FailureEvent(run_id=run_id, slot=slot, uav_id=j, mode=FailureEvent.MODE_KILL))
            pubs['metrics'].publish(SlotMetrics(run_id=run_id, slot=slot, e_tot=1000.0, tasks_completed=10))
            pubs['progress'].publish(RecorderProgress(run_id=run_id, slots_recorded=10_000))
            nan_state = UavState(run_id=run_id, slot=slot, uav_id=0)
            nan_state.position.z = math.nan
            pubs['state'].publish(nan_state)
            pubs['world'].publish(UavState(run_id=run_id, slot=slot, uav_id=1))
            pubs['channel'].publish(ChannelState(run_id=run_id, slot=slot, num_users=10, num_uavs=3,
                                                 mu_uav_gain=[1.0] * 30, uav_uav_rate_bps=[1.0] * 9))
            cmd = UavCommand(run_id=run_id, slot=slot, uav_id=1)
            cmd.acceleration.y = 5.0
            pubs['cmd'].publish(cmd)
            clock.publish(Clock())
            for j in range(3):
                pubs[f'heartbeat_{j}'].publish(Heartbeat(run_id=run_id, uav_id=j, count=count + 1))
                pubs[f'lively_{j}'].assert_liveliness()
        count, last = count + 1, time.monotonic()
        if count == 1:
            print('published a first round of junk', flush=True)
        rclpy.spin_once(node, timeout_sec=0.1)
    return count, last


if __name__ == '__main__':
    main(float(sys.argv[1]))
