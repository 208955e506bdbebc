"""The greedy policy and the flying reference: milliseconds a slot, against the greedy they replaced.

    .venv/bin/python bench/greedy_latency.py [--slots N] [--quick]

For each size (I users, J UAVs) it flies one episode of N slots (seed 0, the default scenario's
failure: one UAV at a uniform slot) with the
package's greedy (policies/greedy.py) and, on the same slots, asks the greedy it replaced
(greedy_reference.py: every group of the local search solved anew; the allocation it calls is
today's) for its decisions, which must be the same; then the same for the flying reference
(flying-greedy, greedy offloading and orbiting UAVs) on both greedies. Wall clock a slot, median
over the slots after the first, one thread; issue 21's targets: 5 ms a slot at I=10 and 50 ms at
I=100. I=100 is run with J=30 (the default's ten users a UAV; 5 slots at most) and, greedy only,
with J=3 (every UAV about 7.6 times overloaded, most tasks late; 3 slots at most).
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault('OMP_NUM_THREADS', '1')

import numpy as np  # noqa: E402

from greedy_reference import ReferenceGreedy  # noqa: E402
from uav_mec_nodes.config import load_scenario  # noqa: E402
from uav_mec_nodes.env import UavMecEnv  # noqa: E402
from uav_mec_nodes.policies.flying import FlyingReference  # noqa: E402
from uav_mec_nodes.policies.greedy import GreedyOptimum  # noqa: E402

TARGET_MS = {10: 5.0, 100: 50.0}   # issue 21, item 2


def compare(policy, reference, num_users: int, num_uavs: int, slots: int) -> dict:
    """Median ms a slot of each on the same slots; exits if any decision differs."""
    cfg = load_scenario().replace(scenario__num_users=num_users, scenario__num_uavs=num_uavs,
                                  scenario__num_slots=slots)   # the default failures: one UAV, a uniform slot
    env = UavMecEnv(cfg)
    env.reset(seed=0)
    policy.reset(0)
    reference.reset(0)
    times = {'new': [], 'reference': []}
    for t in range(slots):
        start = time.perf_counter()
        decisions, accel = policy.act(env)
        times['new'].append(time.perf_counter() - start)
        start = time.perf_counter()
        ref, ref_accel = reference.act(env)
        times['reference'].append(time.perf_counter() - start)
        for field in ('partition_layer', 'serving_uav', 'migration_target'):
            if getattr(decisions, field).tolist() != getattr(ref, field).tolist():
                raise SystemExit(f'I={num_users} J={num_uavs} slot {t}: {field} differs from the reference')
        if not np.array_equal(accel, ref_accel):
            raise SystemExit(f'I={num_users} J={num_uavs} slot {t}: accelerations differ from the reference')
        env.step_decisions(decisions, accel)
    return {k: 1e3 * float(np.median(v[1:] if len(v) > 1 else v)) for k, v in times.items()}   # first: warm-up


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--slots', type=int, default=60, help='slots at I=10 (default 60: an episode)')
    parser.add_argument('--quick', action='store_true', help='only I=10, J=3 (a smoke run)')
    args = parser.parse_args(argv)
    # (I, J, slots): at I=100 fewer slots (the reference takes seconds a slot; with J=3 tens of seconds)
    sizes = [(10, 3, args.slots)] if args.quick else \
        [(10, 3, args.slots), (100, 30, min(args.slots, 5)), (100, 3, min(args.slots, 3))]
    GreedyOptimum().act(_warm_env())   # compiled solvers loaded before anything is timed
    print('ms a slot (median, one thread); the reference is the greedy before issue 21 on the same slots, '
          'same decisions checked; targets: ' + ', '.join(f'{v:g} ms at I={k}' for k, v in TARGET_MS.items()))
    print(f"| {'policy':>13} | {'I':>4} | {'J':>3} | {'ms a slot':>9} | {'reference [ms]':>14} | "
          f"{'reference/new':>13} | {'target met':>10} |")
    print('|---------------|------|-----|-----------|----------------|---------------|------------|')
    for num_users, num_uavs, slots in sizes:
        pairs = [('greedy', GreedyOptimum(), ReferenceGreedy())]
        if num_uavs > 3 or num_users == 10:   # the flying reference adds its motion, not the overloaded case
            pairs.append(('flying-greedy', FlyingReference(), FlyingReference(offloading=ReferenceGreedy())))
        for name, policy, reference in pairs:
            r = compare(policy, reference, num_users, num_uavs, slots)
            target = TARGET_MS.get(num_users)
            met = ('yes' if r['new'] <= target else 'no') if target and name == 'greedy' else '-'
            print(f"| {name:>13} | {num_users:>4} | {num_uavs:>3} | {r['new']:9.2f} | {r['reference']:14.2f} | "
                  f"{r['reference'] / r['new']:13.1f} | {met:>10} |", flush=True)
    return 0


def _warm_env():
    env = UavMecEnv(load_scenario().replace(scenario__num_users=4, scenario__num_uavs=2))
    env.reset(seed=0)
    return env


if __name__ == '__main__':
    raise SystemExit(main())
