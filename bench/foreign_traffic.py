"""Benchmark: a run's wall time with another run's traffic flooding its DDS domain, against a quiet run.

    .venv/bin/python bench/foreign_traffic.py [--slots 60] [--repeats 3] [--rate 2000] [--processes single|multi]
        [--content-filters on|off]

Another run of this package on the same domain (nodes named `planner`, `channel_sim` and
`world`, as a real one's are) floods it with its plans of 10,000 decisions, channel states,
slot metrics, task reports and UAV states, `--rate` messages a second. The nodes drop
another run's messages in a DDS content filter on `run_id` before they reach Python
(nodes/_common.GuardedInput); the recorder alone takes them, to count them as stray in the
bag. With `--content-filters off` (what auto sets on a domain a run picked and holds alone)
every node takes them and its guard drops them by run id. The reference is the same episode (default scenario, rtf 0, recorded) with nothing
else on the domain, measured in the same invocation, quiet and flooded runs alternating.
Prints each run's wall time, the medians and their ratio (flooded / quiet), and checks
that the flooded run's numbers are the quiet run's (exit 1 otherwise).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path


def flood(domain_id: int, rate: float, seconds: float) -> None:
    """Another run's traffic, `rate` messages a second, until SIGTERM or `seconds` pass."""
    import signal

    import rclpy
    from rclpy.signals import SignalHandlerOptions

    from uav_mec_nodes.graph.contract import TOPIC_CHANNEL, TOPIC_PLAN, TOPIC_SLOT_METRICS, TOPIC_TASK_REPORTS, \
        TOPIC_WORLD_UAVS, graph_topics
    from uav_mec_nodes.msg import ChannelState, OffloadDecision, Plan, SlotMetrics, TaskReport, UavState
    from uav_mec_nodes.nodes._common import qos
    stop = []
    rclpy.init(domain_id=domain_id, signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    topics = graph_topics(10, 3)
    nodes = {name: rclpy.create_node(name) for name in ('planner', 'channel_sim', 'world')}

    def pub(node, msg_type, topic):
        return nodes[node].create_publisher(msg_type, topic, qos(topics[topic].qos))
    other = 'another-run'
    plan = Plan(run_id=other, decisions=[OffloadDecision(user_id=i % 10, partition_layer=1) for i in range(10_000)],
                uav_alive=[True] * 3)
    messages = [
        (pub('planner', Plan, TOPIC_PLAN), plan),
        (pub('channel_sim', ChannelState, TOPIC_CHANNEL),
         ChannelState(run_id=other, num_users=10, num_uavs=3, mu_uav_gain=[1.0] * 30, uav_uav_rate_bps=[1.0] * 9)),
        (pub('channel_sim', SlotMetrics, TOPIC_SLOT_METRICS), SlotMetrics(run_id=other, e_tot=1.0)),
        (pub('channel_sim', TaskReport, TOPIC_TASK_REPORTS), TaskReport(run_id=other)),
        (pub('world', UavState, TOPIC_WORLD_UAVS), UavState(run_id=other, alive=True)),
    ]
    print('flooding', flush=True)
    sent, start = 0, time.monotonic()
    while not stop and time.monotonic() - start < seconds:
        publisher, msg = messages[sent % len(messages)]
        msg.slot = sent % 60
        publisher.publish(msg)
        sent += 1
        ahead = sent / rate - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)
    print(f'sent {sent} messages in {time.monotonic() - start:.1f} s', flush=True)
    for node in nodes.values():
        node.destroy_node()
    rclpy.try_shutdown()


def one_run(domain_id: int, slots: int, processes: str, out: Path, content_filters: str = 'auto'):
    """(wall s, per-slot e_tot) of one recorded episode at rtf 0 on `domain_id` (chosen: auto filters are on)."""
    import shutil

    from uav_mec_nodes.bags.io import read_bag
    from uav_mec_nodes.graph.layout import GraphConfig
    from uav_mec_nodes.graph.launcher import MultiProcessRun, run_single_process
    shutil.rmtree(out, ignore_errors=True)
    g = GraphConfig(num_slots=slots, policy='offload-all', domain_id=domain_id, bag_path=str(out / 'bag'),
                    lease_s=2.0, content_filters=content_filters)
    start = time.monotonic()
    if processes == 'single':
        result = run_single_process(g, timeout_s=600)
    else:
        with MultiProcessRun(g, log_dir=out / 'logs') as run:
            result = run.wait(timeout_s=600)
    wall = time.monotonic() - start
    if result.stopped:
        sys.exit(f'foreign_traffic: the run stopped: {result.stopped}')
    metrics = sorted(read_bag(out / 'bag')['/slot_metrics'], key=lambda m: m.slot)
    return wall, [m.e_tot for m in metrics]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--slots', type=int, default=60)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--rate', type=float, default=2000.0, help='foreign messages a second')
    parser.add_argument('--processes', choices=('single', 'multi'), default='single')
    parser.add_argument('--content-filters', choices=('on', 'off'), default='on',
                        help='the run\'s DDS content filters (default on, as auto sets them on a domain chosen by '
                             'hand; off: its guards alone drop the flood)')
    parser.add_argument('--out', default='runs/bench_foreign_traffic')
    parser.add_argument('--flood', nargs=3, metavar=('DOMAIN', 'RATE', 'SECONDS'), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flood:
        flood(int(args.flood[0]), float(args.flood[1]), float(args.flood[2]))
        return

    from uav_mec_nodes.graph.isolation import acquire_domain
    lease = acquire_domain(None, 'bench-foreign-traffic')
    out = Path(args.out)
    walls = {'quiet': [], 'flooded': []}
    numbers = {}
    try:
        for k in range(args.repeats):
            for kind in ('quiet', 'flooded'):
                flooder = None
                if kind == 'flooded':
                    flooder = subprocess.Popen([sys.executable, __file__, '--flood', str(lease.domain_id),
                                                str(args.rate), '3600'], stdout=subprocess.PIPE, text=True)
                    assert flooder.stdout.readline().startswith('flooding')
                    time.sleep(1.0)   # discovered and flowing before the run starts
                try:
                    wall, e_tot = one_run(lease.domain_id, args.slots, args.processes, out / f'{kind}_{k}',
                                          args.content_filters)
                finally:
                    if flooder is not None:
                        flooder.terminate()
                        sent = flooder.communicate(timeout=30)[0].strip()
                walls[kind].append(wall)
                numbers.setdefault(kind, e_tot)
                print(f'{kind:>7} run {k}: {wall:6.2f} s' + (f' ({sent})' if kind == 'flooded' else ''), flush=True)
    finally:
        lease.close()
    quiet, flooded = statistics.median(walls['quiet']), statistics.median(walls['flooded'])
    print(f'\n{args.slots} slots, {args.processes} process(es), {args.rate:.0f} foreign messages/s')
    print('| run | median wall [s] | ratio to quiet |')
    print('|---|---|---|')
    print(f'| quiet (reference) | {quiet:.2f} | 1.00 |')
    print(f'| flooded by another run | {flooded:.2f} | {flooded / quiet:.2f} |')
    if numbers['quiet'] != numbers['flooded']:
        sys.exit('foreign_traffic: the flooded run\'s numbers differ from the quiet run\'s')
    print('the flooded run\'s per-slot e_tot equal the quiet run\'s')


if __name__ == '__main__':
    main()
