"""The graph's jobs: `run` (the main job) and `params` (every node's ROS 2 parameters)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from uav_mec_nodes.cli.registry import subcommand
from uav_mec_nodes.cli.shared import check_scenario_args, make_env, scenario_args, stderr, writable_dir


def _run_args(parser):
    scenario_args(parser)
    parser.add_argument('--policy', help='baseline name or policy file, either with polish: before it (default: '
                                         'the shipped policy, else greedy)')
    parser.add_argument('--seed', type=int, default=0, help='episode seed (default 0)')
    parser.add_argument('--out', default='runs/main', help='output folder (default runs/main)')
    parser.add_argument('--overwrite', action='store_true', help='replace the bag already in --out')
    parser.add_argument('--engine', choices=('ros', 'gym'), default='ros',
                        help='ros: the ROS 2 node graph (default); gym: the Gymnasium env alone')
    parser.add_argument('--processes', choices=('single', 'multi'), default='single',
                        help='all nodes in one process (default) or one process per node')
    parser.add_argument('--failure-mode', default='announce',
                        help='announce (default), silence, kill; with --plant px4 also px4_termination (flight '
                             'termination through PX4) or px4_motor (a motor failure through PX4, which SIH and '
                             'gz ignore in v1.16)')
    parser.add_argument('--failure-schedule', help='"uav:slot,..." (default: the scenario\'s random failure)')
    parser.add_argument('--rtf', type=float, help='real-time factor; 0: as fast as possible (default; with --plant '
                                                  'px4: 1, the only one PX4 flies at)')
    parser.add_argument('--storage', default='sqlite3', help='bag storage: sqlite3 (default) or mcap')
    parser.add_argument('--missing-uavs', help='UAV ids whose nodes are not started, e.g. "2" (a drill)')
    parser.add_argument('--run-torch-layers', action='store_true',
                        help='UAV nodes run the real torch tail layers of their tasks (slow)')
    parser.add_argument('--domain-id', default='auto',
                        help='ROS 2 domain of the run: auto (default: one no other uav-mec run on this host '
                             'holds) or 0-232')
    parser.add_argument('--discovery', default='localhost',
                        help='DDS discovery: localhost (default: this host only) or subnet')
    parser.add_argument('--plant', choices=('kinematic', 'px4'), default='kinematic',
                        help='what moves the UAVs: kinematic (the world node, default) or px4 (the PX4 bridge; '
                             'PX4 stand-ins are started unless --px4-external)')
    parser.add_argument('--px4-external', action='store_true',
                        help='with --plant px4: fly PX4 vehicles already running (SITL or real) on this domain')
    parser.add_argument('--px4-homes', help='with --plant px4: each vehicle\'s home (its local NED origin) in the '
                                            'world frame, "x,y,z;x,y,z;..." [m] (default: under its start position)')
    parser.add_argument('--safety', choices=('on', 'off'), default='on',
                        help='the safety layer below the planner: area margin, altitude band, speed and '
                             'acceleration limits, d_safe (default on; off: the paper\'s dynamics, as `evaluate` '
                             'and training use)')
    parser.add_argument('--timeout', type=float, default=0.0,
                        help='stop the run after this many seconds of wall time (default 0: twice the '
                             'simulated time when paced, else 10 s a slot, plus 5 min)')


@subcommand('run', 'main job: one episode of the ROS 2 graph with a UAV failure; bag, summary table, plots',
                   arguments=_run_args)
def run(args) -> int:
    from uav_mec_nodes.experiments.episode import format_summary
    from uav_mec_nodes.errors import UserInputError
    out = Path(args.out)
    if args.engine == 'gym':
        from uav_mec_nodes.experiments.episode import run_episode
        from uav_mec_nodes.policies import make_policy
        from uav_mec_nodes.policies.learned import default_policy_name
        env = make_env(args)
        writable_dir('--out', out)
        policy = make_policy(args.policy or default_policy_name())
        log = run_episode(env, policy, args.seed)
        summary = log.summary()
        print(format_summary(summary))
        (out / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
        print(f'\noutputs written to {out.resolve()}')
        return 0
    from uav_mec_nodes.graph.layout import GraphConfig, parse_missing, resolved_num_uavs
    from uav_mec_nodes.graph.isolation import parse_domain
    from uav_mec_nodes.graph.launcher import run_multi_process, run_single_process
    from uav_mec_nodes.policies import make_policy
    from uav_mec_nodes.policies.learned import default_policy_name
    check_scenario_args(args)
    policy = args.policy or default_policy_name()
    g = GraphConfig(num_users=args.users or 0, num_uavs=args.uavs or 0,
                    max_failures=-1 if args.max_failures is None else args.max_failures, seed=args.seed,
                    scenario_file=args.config or '', failure_mode=args.failure_mode,
                    failure_schedule=args.failure_schedule or '', policy=policy, record=True,
                    bag_path=str(out / 'bag'), storage=args.storage, real_time_factor=args.rtf or 0.0,
                    missing_uavs=parse_missing(args.missing_uavs), run_torch_layers=args.run_torch_layers,
                    domain_id=parse_domain(args.domain_id), discovery=args.discovery, timeout_s=args.timeout,
                    safety=args.safety == 'on', plant=args.plant, px4_external=args.px4_external,
                    px4_homes=args.px4_homes or '')
    if args.rtf is None:   # as fast as the graph allows; PX4 flies in real time
        g.real_time_factor = 1.0 if args.plant == 'px4' else 0.0
    g.validate(resolved_num_uavs(g))
    chosen = make_policy(policy)   # a bad --policy is said here, not by a node's log
    if hasattr(chosen, 'check_env'):   # and so is a policy file for other numbers of users and UAVs
        chosen.check_env(make_env(args))
    label = chosen.name
    bag = out / 'bag'
    writable_dir('--out', out)
    if bag.exists():
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
    return _report_run(args, result, label, out)


def _progress_line():
    def show(done: int, total: int) -> None:
        print(f'\rslot {done}/{total}', end='', file=sys.stderr, flush=True)
    return show


def _report_run(args, result, policy: str, out: Path) -> int:
    """Summary of a finished or stopped run from its bag; a stopped one ends with its reason, non-zero."""
    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.experiments.episode import format_summary
    from uav_mec_nodes.errors import UserInputError
    from uav_mec_nodes.bags.report import summarize_run
    bag = out / 'bag'
    if result.detail:
        (out / 'error.log').write_text(result.detail + '\n')
    try:
        summary, plots = summarize_run(bag, policy, args.seed, out, load_scenario(args.config).energy)
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
    print('# ROS 2 parameters of the default graph (uav_mec_nodes/graph.py), with the PX4 bridge and stand-ins\n'
          '# of --plant px4; regenerate with `uav-mec params > config/params.yaml`. Use with:\n'
          '# ros2 run uav_mec_nodes <node> --ros-args --params-file config/params.yaml')
    print(yaml.safe_dump(params_yaml(specs), sort_keys=False), end='')
    return 0
