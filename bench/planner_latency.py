"""Planner decision time per slot in the ROS graph, and the main job's wall time.

    .venv/bin/python bench/planner_latency.py [--slots N]

For I=10/J=3 and I=200/J=20 it runs the single-process graph (rtf 0, no bag)
with each policy and reads the planner's decision time per slot (Plan.
decision_time_s: from the slot's inputs to the plan), median and p99; the
reference is the same policy's `act` on the Gym env for the same episode,
measured in the same run, so `ros/gym` is the planner's overhead (building
the MDP state from messages). The SAC-PER row at I=200/J=20 is an untrained
actor of that size (the shipped policy is for I=10/J=3): inference cost only.
Then the wall time of the 60-slot main job (rtf 0, bag on, the shipped SAC-PER
policy): `uav-mec run` as a user runs it (start-up, the run, the report and
plots), and the graph alone in one process and with one process per node. The
graph in one process is also run with rclpy's default QoS event handlers on
every endpoint, as before issue 21 (two per publisher and subscription, which
the executor visits on every wait), in the same run: the ratio is their
medians'; issue 21's targets are 2 s in one process and 5 s with one per node.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault('OMP_NUM_THREADS', '1')

import numpy as np  # noqa: E402


def gym_decision_times(cfg, policy, seed: int):
    from uav_mec_nodes.env import UavMecEnv
    env = UavMecEnv(cfg)
    env.reset(seed=seed)
    policy.reset(seed)
    times, done = [], False
    while not done:
        start = time.perf_counter()
        decisions, accel = policy.act(env)
        times.append(time.perf_counter() - start)
        _, _, done, _, _ = env.step_decisions(decisions, accel)
    return np.array(times)


def untrained_actor_file(cfg, path: Path) -> str:
    from uav_mec_nodes.env import UavMecEnv
    from uav_mec_nodes.learners.sac import LearnerConfig, SacAgent
    from uav_mec_nodes.policies.files import save_policy
    env = UavMecEnv(cfg)
    agent = SacAgent(env.observation_space.shape[0], env.action_space.shape[0], LearnerConfig.for_algo('sac-per'))
    save_policy(path, agent, LearnerConfig.for_algo('sac-per'), cfg, 0)
    return str(path)


@contextlib.contextmanager
def default_event_handlers():
    """The graph's endpoints with rclpy's default QoS event handlers, as before issue 21 (nodes/_common.py)."""
    from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks

    from uav_mec_nodes.nodes import _common
    _common.PublisherEventCallbacks = lambda **kw: PublisherEventCallbacks()
    _common.SubscriptionEventCallbacks = lambda **kw: SubscriptionEventCallbacks()
    try:
        yield
    finally:
        _common.PublisherEventCallbacks, _common.SubscriptionEventCallbacks = (PublisherEventCallbacks,
                                                                               SubscriptionEventCallbacks)


MAIN_TARGETS_S = {'one process': 2.0, 'one process per node': 5.0}   # issue 21, item 5


def main_job(tmp: Path, slots: int, repeats: int) -> None:
    """Wall times of the main job: the command, the graph in one process (also as before), one per node."""
    from uav_mec_nodes.graph.launcher import run_multi_process, run_single_process
    from uav_mec_nodes.graph.layout import GraphConfig
    from uav_mec_nodes.policies import shipped_policy_path
    runs = iter(range(10 ** 6))

    def graph(runner, content_filters: str = 'on') -> float:
        g = GraphConfig(bag_path=str(tmp / f'bag_{next(runs)}'), policy=str(shipped_policy_path()), num_slots=slots,
                        content_filters=content_filters)
        start = time.perf_counter()
        result = runner(g, timeout_s=3600)
        if result.exit_code != 0:
            raise SystemExit(f'the main job failed: {result.stopped}')
        return time.perf_counter() - start

    def command() -> float:
        start = time.perf_counter()
        out = subprocess.run([str(Path(sys.prefix) / 'bin' / 'uav-mec'), 'run', '--out', str(tmp / f'cmd_{next(runs)}'),
                              '--slots', str(slots)], capture_output=True, text=True, cwd=tmp)
        if out.returncode != 0:
            raise SystemExit(f'uav-mec run failed: {out.stderr.strip()[-500:]}')
        return time.perf_counter() - start
    graph(run_single_process)   # imports and compiled kernels loaded: each row measures runs only
    single, before, filtered = [], [], []
    for _ in range(repeats):    # interleaved: the machine's speed drifts
        single.append(graph(run_single_process))
        with default_event_handlers():
            before.append(graph(run_single_process))
        filtered.append(graph(run_single_process, 'off'))
    rows = [('`uav-mec run` (start-up, run, report)', [command() for _ in range(repeats)], None, None),
            ('one process', single, np.median(before), MAIN_TARGETS_S['one process']),
            ('one process, default QoS event handlers (before)', before, None, None),
            ('one process, --content-filters off', filtered, None, None),
            ('one process per node', [graph(run_multi_process) for _ in range(repeats)], None,
             MAIN_TARGETS_S['one process per node'])]
    print(f'| main job ({slots} slots, I=10, J=3, SAC-PER, bag on) | wall time [s], median of {repeats} | '
          'before / now | target [s] | met |')
    print('|---|---|---|---|---|')
    for label, times, ref, target in rows:
        med = float(np.median(times))
        print(f'| {label} | {med:.2f} | {f"{ref / med:.2f}" if ref else "-"} | {target or "-"} | '
              f'{("yes" if med <= target else "no") if target else "-"} |', flush=True)


def main(argv=None) -> int:
    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.graph.layout import GraphConfig
    from uav_mec_nodes.graph.launcher import run_multi_process, run_single_process
    from uav_mec_nodes.policies import make_policy, shipped_policy_path
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--slots', type=int, default=60, help='slots per latency run (default 60)')
    parser.add_argument('--main-only', action='store_true', help='only the main job\'s wall times')
    parser.add_argument('--main-slots', type=int, default=60, help='slots of the main job (default 60)')
    parser.add_argument('--repeats', type=int, default=3, help='runs of each main-job row (default 3)')
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix='uav_mec_bench_'))
    if args.main_only:
        main_job(tmp, args.main_slots, args.repeats)
        return 0
    print(f"| {'I':>4} | {'J':>3} | {'policy':<26} | {'ros median ms':>13} | {'ros p99 ms':>10} | "
          f"{'gym median ms':>13} | {'ros/gym':>7} |")
    print('|------|-----|----------------------------|---------------|------------|---------------|---------|')
    for users, uavs in ((10, 3), (200, 20)):
        cfg = load_scenario().replace(scenario__num_users=users, scenario__num_uavs=uavs,
                                      scenario__num_slots=args.slots)
        policies = ['offload-all', 'random-partition']
        if users == 10:
            policies += ['greedy', str(shipped_policy_path())]
        else:
            policies += [untrained_actor_file(cfg, tmp / 'actor_200_20.pt')]
        for name in policies:
            g = GraphConfig(num_users=users, num_uavs=uavs, num_slots=args.slots, policy=name, record=False)
            ros = np.array(run_single_process(g, timeout_s=3600).decision_times_s)
            gym = gym_decision_times(cfg, make_policy(name), 0)
            label = name if not name.endswith('.pt') else ('SAC-PER (shipped)' if users == 10
                                                            else 'SAC-PER actor (untrained)')
            print(f'| {users:>4} | {uavs:>3} | {label:<26} | {np.median(ros) * 1e3:13.2f} | '
                  f'{np.percentile(ros, 99) * 1e3:10.2f} | {np.median(gym) * 1e3:13.2f} | '
                  f'{np.median(ros) / np.median(gym):7.2f} |', flush=True)
    print()
    main_job(tmp, args.main_slots, args.repeats)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
