"""The graph's jobs: `run` (the main job) and `params` (every node's ROS 2 parameters)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from uav_mec_nodes.cli.registry import subcommand
from uav_mec_nodes.cli.shared import check_scenario_args, make_env, scenario_args, stderr, writable_dir
from uav_mec_nodes.graph.contract import REAL_TIME_PLANTS


def _run_args(parser):
    from uav_mec_nodes.graph.arguments import RUN_ARGUMENTS, add_flags
    add_flags(parser, [a.name for a in RUN_ARGUMENTS if a.flag])   # graph/arguments.py declares each once
    parser.add_argument('--out', default='runs/main', help='output folder: bag, summary, plots (default runs/main)')
    parser.add_argument('--overwrite', action='store_true', help='replace the bag already in --out')
    parser.add_argument('--engine', choices=('ros', 'gym'), default='ros',
                        help='ros: the ROS 2 node graph (default); gym: the Gymnasium env alone')
    parser.add_argument('--processes', choices=('single', 'multi'), default='single',
                        help='all nodes in one process (default) or one process per node')


@subcommand('run', 'main job: one episode of the ROS 2 graph with a UAV failure; bag, summary table, plots',
                   arguments=_run_args)
def run(args) -> int:
    from uav_mec_nodes.experiments.episode import format_summary
    from uav_mec_nodes.errors import UserInputError
    from uav_mec_nodes.graph.arguments import RUN_ARGUMENTS, given_flags
    from uav_mec_nodes.graph.layout import GraphConfig, resolved_num_uavs
    from uav_mec_nodes.policies import make_policy
    from uav_mec_nodes.policies.learned import default_policy_name
    out = Path(args.out)
    given = given_flags(args, [a.name for a in RUN_ARGUMENTS if a.flag])   # a flag given wins over the YAML
    g = GraphConfig(**given, bag_path=str(out / 'bag'))
    g.record = g.nodes != 'uavs'   # the core's recorder writes the bag of a split graph
    g.policy = g.policy or default_policy_name()
    if 'real_time_factor' not in given:   # as fast as the graph allows; PX4 flies in real time
        g.real_time_factor = 1.0 if g.plant in REAL_TIME_PLANTS else 0.0
    if args.engine == 'gym':
        from uav_mec_nodes.experiments.episode import run_episode
        env = make_env(args, safety=g.safety)
        writable_dir('--out', out)
        log = run_episode(env, make_policy(g.policy), g.seed)
        summary = log.summary()
        print(format_summary(summary))
        (out / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
        print(f'\noutputs written to {out.resolve()}')
        return 0
    from uav_mec_nodes.graph.launcher import run_multi_process, run_single_process
    g.validate(resolved_num_uavs(g))
    policy = g.policy
    chosen = make_policy(policy)   # a bad --policy is said here, not by a node's log
    if hasattr(chosen, 'check_env'):   # and so is a policy file for other numbers of users and UAVs
        chosen.check_env(make_env(args, safety=g.safety))
    label = chosen.name
    bag = out / 'bag'
    writable_dir('--out', out)
    if bag.exists() and g.record:
        if not args.overwrite:
            raise UserInputError(f'--out: {bag} exists; pass --overwrite or choose another --out')
        import shutil
        shutil.rmtree(bag)
    progress = _progress_line() if sys.stderr.isatty() else None
    if args.processes == 'multi':
        result = run_multi_process(g, say=stderr, log_dir=out / 'logs', on_progress=progress)
    else:
        result = run_single_process(g, say=stderr, on_progress=progress)
    if progress is not None:
        print(file=sys.stderr)
    if not g.record:
        return _report_uav_host(result)
    return _report_run(args, result, label, out, g.seed)


def _report_uav_host(result) -> int:
    """A host of UAV nodes alone (--nodes uavs): how each ended; the bag and the numbers are the core host's."""
    print(f'run {result.run_id}: UAV nodes of this host; the bag and the summary are on the host of --nodes core')
    for name, code in sorted(result.returncodes.items()):
        how = {0: 'ended with the episode'}.get(code, 'killed (SIGKILL)' if code == -9 else 'failed or stopped')
        print(f'  {name}: {how} (exit {code})')
    if result.stopped:
        heard = (f'; no slot has come from the core since slot {result.slots_done - 1} (is the link to its host '
                 'down?)' if 0 < result.slots_done < result.num_slots else '')
        stderr(f'uav-mec run: {result.stopped} after {result.slots_done} of {result.num_slots} slots{heard}')
        return result.exit_code
    return 0


def _progress_line():
    def show(done: int, total: int) -> None:
        print(f'\rslot {done}/{total}', end='', file=sys.stderr, flush=True)
    return show


def _report_run(args, result, policy: str, out: Path, seed: int) -> int:
    """Summary of a finished or stopped run from its bag; a stopped one ends with its reason, non-zero."""
    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.experiments.episode import format_summary
    from uav_mec_nodes.errors import UserInputError
    from uav_mec_nodes.bags.report import summarize_run
    bag = out / 'bag'
    if result.detail:
        (out / 'error.log').write_text(result.detail + '\n')
    try:
        summary, plots = summarize_run(bag, policy, seed, out, load_scenario(args.config).energy)
    except UserInputError as exc:
        if not result.stopped:
            raise
        stderr(f'uav-mec run: no summary: {exc}')
        summary = None
    if summary is not None:
        summary.update(wall_s=result.wall_s, processes=args.processes)
        if result.stopped:
            summary['stopped'] = result.stopped
        print(format_summary(summary))
        (out / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
        print(f'\nwall time {result.wall_s:.1f} s ({args.processes} process)')
        print(f'bag:     {bag.resolve()}')
        for path in plots:
            print(f'plot:    {path.resolve()}')
        print(f'summary: {(out / "summary.json").resolve()}')
    if result.stopped:
        held = f' after {summary["slots"]} of {result.num_slots} slots (all in the bag)' if summary else ''
        more = f'; details in {(out / "error.log").resolve()}' if result.detail else ''
        stderr(f'uav-mec run: {result.stopped}{held}{more}')
        return result.exit_code
    return 0


@subcommand('params', 'print the ROS 2 parameters of every node of the default graph (config/params.yaml)',
                      arguments=lambda p: None)
def params_cmd(args) -> int:
    import yaml

    from uav_mec_nodes.graph.layout import GraphConfig, node_specs, params_yaml, resolved_num_uavs
    g = GraphConfig()
    specs = node_specs(g, resolved_num_uavs(g))
    px4 = GraphConfig(plant='px4', real_time_factor=1.0)   # its bridge and stand-ins, for --plant px4
    specs += [s for s in node_specs(px4, resolved_num_uavs(px4)) if s.module in ('px4_bridge', 'px4_standin')]
    print('# ROS 2 parameters of the default graph (graph/layout.py, graph/arguments.py), with the PX4 bridge\n'
          '# and stand-ins of --plant px4; regenerate with `uav-mec params > config/params.yaml`. Use with:\n'
          '# ros2 run uav_mec_nodes <node> --ros-args --params-file config/params.yaml')
    print(yaml.safe_dump(params_yaml(specs), sort_keys=False), end='')
    return 0
