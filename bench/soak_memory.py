"""Soak benchmark: memory of the ROS graph over a long episode (not a test: it runs for many minutes).

    .venv/bin/python bench/soak_memory.py [--slots 20000] [--every 1000] [--processes single|multi]
                                          [--policy offload-all] [--storage sqlite3|mcap] [--out runs/soak]

Runs one episode of the default scenario (I=10, J=3, one failure) at real-time
factor 0, with the bag recorded, and samples the resident memory (VmRSS) of the
graph: the launcher's own process in single-process mode, every node process
in multi-process mode. The reference is the memory after the first `--every`
slots of the same run (start-up, imports and DDS pools are settled by then);
the table prints each sample's ratio to it and the growth per slot from there.
A flat run keeps the ratio near 1.00 and the growth near 0 KB/slot.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path


def rss_mb(pid: str = 'self') -> float:
    try:
        for line in Path(f'/proc/{pid}/status').read_text().splitlines():
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--slots', type=int, default=20000)
    parser.add_argument('--every', type=int, default=1000, help='slots between samples')
    parser.add_argument('--processes', choices=('single', 'multi'), default='single')
    parser.add_argument('--policy', default='offload-all')
    parser.add_argument('--storage', choices=('sqlite3', 'mcap'), default='sqlite3')
    parser.add_argument('--out', default='runs/soak')
    args = parser.parse_args()

    import shutil

    from uav_mec_nodes.graph.layout import GraphConfig
    from uav_mec_nodes.graph.launcher import MultiProcessRun, run_single_process
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    g = GraphConfig(num_slots=args.slots, policy=args.policy, storage=args.storage, bag_path=str(out / 'bag'))
    samples = []     # (slot, wall s, {process: MB})
    start = time.monotonic()
    processes = {}

    def sample(done: int, total: int) -> None:
        if done % args.every == 0 or done == total:
            if processes:
                mem = {name: rss_mb(str(p.pid)) for name, p in processes.items() if p.poll() is None}
            else:
                mem = {'graph (one process)': rss_mb()}
            samples.append((done, time.monotonic() - start, mem))
            print(f'slot {done:6d}  {sum(mem.values()):8.1f} MB', flush=True)

    if args.processes == 'multi':
        with MultiProcessRun(g, log_dir=out / 'logs') as run:
            processes.update(run.processes)
            result = run.wait(on_progress=sample)
    else:
        result = run_single_process(g, on_progress=sample)
    if result.stopped:
        raise SystemExit(f'the soak run stopped: {result.stopped}')

    ref_slot, _, ref = samples[0]
    names = sorted(ref)
    print(f'\n{args.slots} slots, {args.processes} process(es), policy {args.policy}, {args.storage} bag, '
          f'wall {result.wall_s:.0f} s ({result.wall_s / args.slots * 1e3:.1f} ms a slot)\n')
    head = '| slot | wall [s] | ' + ' | '.join(f'{n} [MB]' for n in names)
    head += ' | total [MB] | ratio to slot {} | growth since [KB/slot] |'.format(ref_slot)
    print(head)
    print('|' + '---|' * (head.count('|') - 1))
    ref_total = sum(ref.values())
    for slot, wall, mem in samples:
        total = sum(mem.get(n, 0.0) for n in names)
        growth = (total - ref_total) * 1024.0 / (slot - ref_slot) if slot > ref_slot else 0.0
        cells = ' | '.join(f'{mem.get(n, 0.0):.1f}' for n in names)
        print(f'| {slot} | {wall:.0f} | {cells} | {total:.1f} | {total / ref_total:.3f} | {growth:+.2f} |')


if __name__ == '__main__':
    main()
