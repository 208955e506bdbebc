"""Jobs on recorded bags: `report`, `replay`, `recover`."""
from __future__ import annotations

import json
from pathlib import Path

from uav_mec_nodes.cli.registry import subcommand
from uav_mec_nodes.cli.shared import SEED_MAX, check_range


def _replay_args(parser):
    parser.add_argument('bag', help='a bag of `uav-mec run` or `ros2 launch uav_mec_nodes sim.launch.py`')
    parser.add_argument('--policy', help='the planner to replay with (default: the recorded policy)')
    parser.add_argument('--json', action='store_true', help='print JSON')


@subcommand('replay', "feed a recorded run's planner inputs to a planner; do its decisions equal the recorded ones?",
                      arguments=_replay_args)
def replay_cmd(args) -> int:
    from uav_mec_nodes.bags.replay import replay
    report = replay(args.bag, args.policy)
    if args.json:
        print(json.dumps(dict(run_id=report.run_id, policy=report.policy, slots_compared=report.slots_compared,
                              slots_recorded=report.slots_recorded, first_difference=report.first_difference,
                              equal=report.equal, note=report.note), indent=1))
    else:
        print(report.line())
        if report.note:
            print(f'note: {report.note}')
    return 0 if report.equal else 1


@subcommand('recover', 'make the bag of a killed recorder readable (mcap: add the missing end; any: metadata.yaml)',
                       arguments=lambda p: p.add_argument('bag', help='the bag folder'))
def recover_cmd(args) -> int:
    from uav_mec_nodes.bags.io import recover
    print(f'{args.bag}: {recover(args.bag)}')
    return 0


def _report_args(parser):
    parser.add_argument('bag', help='rosbag2 folder (sqlite3 or mcap)')
    parser.add_argument('--out', help='where to draw trajectories.png and energy.png (default: beside the bag)')
    parser.add_argument('--config', help='scenario YAML of the run, for the energy weights of the plot '
                                         '(default: built-in defaults)')
    parser.add_argument('--seed', type=int, help='the run\'s episode seed (default: the bag\'s /run_info)')
    parser.add_argument('--json', action='store_true', help='print the summary as JSON')


@subcommand('report', 'summary table and plots of a recorded bag (ours, or a `ros2 bag record` of the graph)',
                      arguments=_report_args)
def report(args) -> int:
    from uav_mec_nodes.bags.io import read_bag
    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.experiments.episode import format_summary
    from uav_mec_nodes.graph import contract as c
    from uav_mec_nodes.errors import UserInputError
    from uav_mec_nodes.bags.report import plot, summarize
    bag = read_bag(args.bag)
    if not bag.get(c.TOPIC_SLOT_METRICS):
        raise UserInputError(f'bag: {args.bag} has no {c.TOPIC_SLOT_METRICS} messages (record the channel_sim '
                             f'topics: {c.TOPIC_SLOT_METRICS}, {c.TOPIC_TASK_REPORTS}, ...)')
    plans = bag.get(c.TOPIC_PLAN, [])
    check_range('--seed', args.seed, 0, SEED_MAX)
    summary = summarize(bag, plans[0].policy if plans else '-', args.seed)
    out = Path(args.out) if args.out else Path(args.bag).resolve().parent
    plots = plot(bag, out, load_scenario(args.config).energy)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_summary(summary))
        for path in plots:
            print(f'plot:    {path.resolve()}')
    return 0
