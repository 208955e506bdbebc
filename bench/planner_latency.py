"""Planner decision time per slot in the ROS graph, and the main job's wall time.

    .venv/bin/python bench/planner_latency.py [--slots N]

For I=10/J=3 and I=200/J=20 it runs the single-process graph (rtf 0, no bag)
with each policy and reads the planner's decision time per slot (Plan.
decision_time_s: from the slot's inputs to the plan), median and p99; the
reference is the same policy's `act` on the Gym env for the same episode,
measured in the same run, so `ros/gym` is the planner's overhead (building
the MDP state from messages). The SAC-PER row at I=200/J=20 is an untrained
actor of that size (the shipped policy is for I=10/J=3): inference cost only.
Then the wall time of the 60-slot main job (`uav-mec run`, rtf 0, bag on),
one process and one process per node.
"""
from __future__ import annotations

import argparse
import os
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


def main(argv=None) -> int:
    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.graph.layout import GraphConfig
    from uav_mec_nodes.graph.launcher import run_multi_process, run_single_process
    from uav_mec_nodes.policies import make_policy, shipped_policy_path
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--slots', type=int, default=60, help='slots per latency run (default 60)')
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix='uav_mec_bench_'))
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
    print('| main job (60 slots, I=10, J=3, SAC-PER, bag on) | wall time [s] |')
    print('|---|---|')
    for label, runner in (('one process', run_single_process), ('one process per node', run_multi_process)):
        bag = tmp / f'bag_{label.replace(" ", "_")}'
        g = GraphConfig(bag_path=str(bag), policy=str(shipped_policy_path()))
        start = time.perf_counter()
        runner(g, timeout_s=3600)
        print(f'| {label} | {time.perf_counter() - start:.1f} |', flush=True)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
