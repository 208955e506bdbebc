"""Subcommands of `uav-mec` (registered with cli.subcommand)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from uav_mec_nodes.cli import subcommand


SEED_MAX = 2 ** 31 - 1


def _check_range(flag: str, value, lo, hi) -> None:
    """One-line error naming the flag and its range (None: the flag was not given)."""
    from uav_mec_nodes.errors import UserInputError
    if value is not None and not lo <= value <= hi:
        raise UserInputError(f'{flag}: must be in [{lo}, {hi}], got {value}')


def _scenario_args(parser):
    parser.add_argument('--config', help='scenario YAML (default: built-in defaults = config/scenario.yaml)')
    parser.add_argument('--users', type=int, help='I, number of users (overrides the config)')
    parser.add_argument('--uavs', type=int, help='J, number of UAVs (overrides the config)')
    parser.add_argument('--max-failures', type=int, help='F_max (overrides the config)')


def _check_scenario_args(args) -> None:
    from uav_mec_nodes.contract import MAX_UAVS, MAX_USERS
    _check_range('--users', args.users, 1, MAX_USERS)
    _check_range('--uavs', args.uavs, 1, MAX_UAVS)
    _check_range('--max-failures', args.max_failures, 0, MAX_UAVS)
    _check_range('--seed', getattr(args, 'seed', None), 0, SEED_MAX)


def _make_env(args):
    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.env import UavMecEnv
    _check_scenario_args(args)
    cfg = load_scenario(args.config)
    if getattr(args, 'safety', 'off') == 'on':   # `run` flies through the safety layer, whichever engine
        cfg = cfg.replace(safety__enabled=True)
    if getattr(args, 'motion', None):           # `train --motion`: what the action's motion entries mean
        cfg = cfg.replace(modes__motion_action=args.motion)
    return UavMecEnv(cfg, num_users=args.users, num_uavs=args.uavs, max_failures=args.max_failures)


def _writable_dir(flag: str, path: Path) -> Path:
    """The folder, created if need be; a one-line error if it cannot be written."""
    import tempfile

    from uav_mec_nodes.errors import UserInputError
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix='.write-test-'):
            pass
    except OSError as exc:
        raise UserInputError(f'{flag}: cannot write to {path} ({exc.strerror or exc})') from None
    return path


def _slot_bar(args, slots: int, desc: str):
    """A progress bar of slots on stderr (--progress; default: when stderr is a terminal)."""
    from tqdm import tqdm
    show = args.progress or (args.progress is None and sys.stderr.isatty())
    return tqdm(total=slots, unit='slot', desc=desc, disable=not show, file=sys.stderr, dynamic_ncols=True)


def _env_policies_seeds(args, names):
    """The scenario's env, the named policies and the seeds SEED..SEED+N-1 of --seed and --episodes, checked."""
    from uav_mec_nodes.policies import make_policy
    _check_range('--episodes', args.episodes, 1, 10_000)
    env = _make_env(args)
    policies = {name: make_policy(name) for name in dict.fromkeys(names)}
    _check_range('--seed', args.seed + args.episodes - 1, 0, SEED_MAX)
    return env, policies, list(range(args.seed, args.seed + args.episodes))


def _progress_arg(parser):
    parser.add_argument('--progress', action=argparse.BooleanOptionalAction, default=None,
                        help='a progress bar on stderr (default: when stderr is a terminal)')


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@subcommand('run', 'main job: one episode of the ROS 2 graph with a UAV failure; bag, summary table, plots')
def run(args) -> int:
    from uav_mec_nodes.episode import format_summary
    from uav_mec_nodes.errors import UserInputError
    out = Path(args.out)
    if args.engine == 'gym':
        from uav_mec_nodes.episode import run_episode
        from uav_mec_nodes.policies import make_policy
        from uav_mec_nodes.policies.learned import default_policy_name
        env = _make_env(args)
        _writable_dir('--out', out)
        policy = make_policy(args.policy or default_policy_name())
        log = run_episode(env, policy, args.seed)
        summary = log.summary()
        print(format_summary(summary))
        (out / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
        print(f'\noutputs written to {out.resolve()}')
        return 0
    from uav_mec_nodes.graph import GraphConfig, parse_missing, resolved_num_uavs
    from uav_mec_nodes.isolation import parse_domain
    from uav_mec_nodes.launcher import run_multi_process, run_single_process
    from uav_mec_nodes.policies import make_policy
    from uav_mec_nodes.policies.learned import default_policy_name
    _check_scenario_args(args)
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
        chosen.check_env(_make_env(args))
    label = chosen.name
    bag = out / 'bag'
    _writable_dir('--out', out)
    if bag.exists():
        if not args.overwrite:
            raise UserInputError(f'--out: {bag} exists; pass --overwrite or choose another --out')
        import shutil
        shutil.rmtree(bag)
    progress = _progress_line() if sys.stderr.isatty() else None
    if args.processes == 'multi':
        result = run_multi_process(g, say=_stderr, log_dir=out / 'logs', on_progress=progress)
    else:
        result = run_single_process(g, say=_stderr, on_progress=progress)
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
    from uav_mec_nodes.episode import format_summary
    from uav_mec_nodes.errors import UserInputError
    from uav_mec_nodes.report import summarize_run
    bag = out / 'bag'
    if result.detail:
        (out / 'error.log').write_text(result.detail + '\n')
    try:
        summary, plots = summarize_run(bag, policy, args.seed, out, load_scenario(args.config).energy)
    except UserInputError as exc:
        if not result.stopped:
            raise
        _stderr(f'uav-mec run: no summary: {exc}')
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
        _stderr(f'uav-mec run: {result.stopped}{held}{more}')
        return result.exit_code
    return 0


def _run_args(parser):
    _scenario_args(parser)
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


run.add_arguments = _run_args


@subcommand('replay', 'feed a recorded run\'s planner inputs to a planner; do its decisions equal the recorded ones?')
def replay_cmd(args) -> int:
    from uav_mec_nodes.replay import replay
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


def _replay_args(parser):
    parser.add_argument('bag', help='a bag of `uav-mec run` or `ros2 launch uav_mec_nodes sim.launch.py`')
    parser.add_argument('--policy', help='the planner to replay with (default: the recorded policy)')
    parser.add_argument('--json', action='store_true', help='print JSON')


replay_cmd.add_arguments = _replay_args


@subcommand('recover', 'make the bag of a killed recorder readable (mcap: add the missing end; any: metadata.yaml)')
def recover_cmd(args) -> int:
    from uav_mec_nodes.bag import recover
    print(f'{args.bag}: {recover(args.bag)}')
    return 0


recover_cmd.add_arguments = lambda p: p.add_argument('bag', help='the bag folder')


@subcommand('report', 'summary table and plots of a recorded bag (ours, or a `ros2 bag record` of the graph)')
def report(args) -> int:
    from uav_mec_nodes.bag import read_bag
    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.episode import format_summary
    from uav_mec_nodes import contract as c
    from uav_mec_nodes.errors import UserInputError
    from uav_mec_nodes.report import plot, summarize
    bag = read_bag(args.bag)
    if not bag.get(c.TOPIC_SLOT_METRICS):
        raise UserInputError(f'bag: {args.bag} has no {c.TOPIC_SLOT_METRICS} messages (record the channel_sim '
                             f'topics: {c.TOPIC_SLOT_METRICS}, {c.TOPIC_TASK_REPORTS}, ...)')
    plans = bag.get(c.TOPIC_PLAN, [])
    _check_range('--seed', args.seed, 0, SEED_MAX)
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


def _report_args(parser):
    parser.add_argument('bag', help='rosbag2 folder (sqlite3 or mcap)')
    parser.add_argument('--out', help='where to draw trajectories.png and energy.png (default: beside the bag)')
    parser.add_argument('--config', help='scenario YAML of the run, for the energy weights of the plot '
                                         '(default: built-in defaults)')
    parser.add_argument('--seed', type=int, help='the run\'s episode seed (default: the bag\'s /run_info)')
    parser.add_argument('--json', action='store_true', help='print the summary as JSON')


report.add_arguments = _report_args


@subcommand('config', 'print the scenario configuration as commented YAML (defaults, or --config)')
def config_cmd(args) -> int:
    from uav_mec_nodes.config import load_scenario, render_yaml
    print(render_yaml(load_scenario(args.config)), end='')
    return 0


config_cmd.add_arguments = lambda p: p.add_argument('--config', help='scenario YAML to validate and print')


@subcommand('profiles', 'print the per-layer FLOPs (8) and input sizes (9) of AlexNet, VGG16, VGG13')
def profiles_cmd(args) -> int:
    from uav_mec_nodes.config import DNN_NAMES
    from uav_mec_nodes.model import dnn_profiles
    table = dnn_profiles.layer_table()
    rows = []
    for name in DNN_NAMES:
        prof = dnn_profiles.profile(name, args.conv_flops, args.fc_flops)
        for layer, row in enumerate(table[name]):
            shape = (f"{row['h_in']}x{row['w_in']}x{row['c_in']} -> {row['h_out']}x{row['w_out']}x{row['c_out']}"
                     f" k{row['ker']}") if row['kind'] == 'conv' else f"{row['u_in']} -> {row['u_out']}"
            rows.append(dict(dnn=name, layer=layer + 1, kind=row['kind'], shape=shape,
                             flops=prof.flops[layer], input_bits=prof.input_bits[layer]))
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'dnn':8} {'layer':>5} {'kind':4} {'shape':34} {'GFLOPs':>9} {'D_l [Mbit]':>11}")
    for r in rows:
        print(f"{r['dnn']:8} {r['layer']:>5} {r['kind']:4} {r['shape']:34} {r['flops'] / 1e9:9.4f} "
              f"{r['input_bits'] / 1e6:11.4f}")
    return 0


def _profiles_args(parser):
    parser.add_argument('--conv-flops', choices=('output', 'paper_input'), default='output',
                        help='conv FLOPs from the output size (default, SPEC) or the paper input-size form')
    parser.add_argument('--fc-flops', choices=('paper', 'usual'), default='paper',
                        help='FC FLOPs 2(U_in-1)U_out (paper, default) or (2U_in-1)U_out')
    parser.add_argument('--json', action='store_true', help='print JSON')


profiles_cmd.add_arguments = _profiles_args


@subcommand('evaluate', 'run N episodes of a policy and print energy, deadline misses and task counts')
def evaluate_cmd(args) -> int:
    from uav_mec_nodes.episode import summarize_episodes
    from uav_mec_nodes.errors import UserInputError
    from uav_mec_nodes.policies import make_policy
    if args.episodes < 1:
        raise UserInputError(f'--episodes: must be >= 1, got {args.episodes}')
    env = _make_env(args)
    policy = make_policy(args.policy)
    _check_range('--seed', args.seed + args.episodes - 1, 0, SEED_MAX)
    with _slot_bar(args, args.episodes * env.num_slots, 'evaluate') as bar:
        result = summarize_episodes(env, policy, args.seed, args.episodes, on_slot=lambda: bar.update(1))
    result['policy'] = args.policy
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        result.pop('energy_per_episode')
        width = max(map(len, result))
        for key, value in result.items():
            print(f'{key:<{width}}  {value:.6g}' if isinstance(value, float) else f'{key:<{width}}  {value}')
    return 0


def _evaluate_args(parser):
    _scenario_args(parser)
    parser.add_argument('--policy', required=True, help='policy: offload-all, random-partition, greedy, optimal, '
                                                        'flying-greedy, flying-optimal or a policy file (see train); '
                                                        'polish:P polishes P\'s offloading by greedy\'s local search')
    parser.add_argument('--episodes', type=int, default=10, help='episodes, seeds SEED..SEED+N-1 (default 10)')
    parser.add_argument('--seed', type=int, default=0, help='first seed (default 0)')
    parser.add_argument('--json', action='store_true', help='print JSON')
    _progress_arg(parser)


evaluate_cmd.add_arguments = _evaluate_args


@subcommand('compare', 'policies on the same held-out test episodes: energy, misses, motion, and the difference to '
                       'a reference with a 95% confidence interval (paired by seed)')
def compare_cmd(args) -> int:
    from uav_mec_nodes.errors import UserInputError
    from uav_mec_nodes.evaluation import compare
    if args.episodes < 2:
        raise UserInputError(f'--episodes: must be >= 2 (a confidence interval needs two), got {args.episodes}')
    env, policies, seeds = _env_policies_seeds(args, args.policies + [args.reference])
    with _slot_bar(args, len(policies) * args.episodes * env.num_slots, 'compare') as bar:
        result = compare(env, policies, args.reference, seeds, on_slot=lambda: bar.update(1))
    if args.json:
        print(json.dumps(dict(seeds=[seeds[0], seeds[-1]], reference=args.reference, policies=result), indent=1))
        return 0
    print(f'{args.episodes} episodes, seeds {seeds[0]}-{seeds[-1]}; differences to {args.reference}, paired by seed, '
          'with 95% confidence intervals')
    print('| policy | energy [J] | vs reference [J] | deadline misses | vs reference [points] | UAV-slots at the '
          'border | user-UAV distance [m] | safety interventions |')
    print('|---|---|---|---|---|---|---|---|')
    for name, r in result.items():
        de, dm = r['energy_vs_reference_j'], r['misses_vs_reference']
        print(f"| {name} | {r['energy_mean_j']:.3f} ± {r['energy_std_j']:.3f} | {de['mean']:+.3f} "
              f"[{de['low']:+.3f}, {de['high']:+.3f}] | {r['deadline_miss_rate']:.2%} | {dm['mean'] * 100:+.2f} "
              f"[{dm['low'] * 100:+.2f}, {dm['high'] * 100:+.2f}] | {r['border_fraction']:.1%} | "
              f"{r['user_distance_m']:.1f} | {r['safety_interventions']} |")
    return 0


def _episodes_args(parser, episodes: int, seed: int, which: str):
    """--policies, --episodes and --seed of the commands that run policies over episodes, and the scenario's."""
    _scenario_args(parser)
    parser.add_argument('--policies', nargs='+', required=True,
                        help='baseline names or policy files, either with polish: before it')
    parser.add_argument('--episodes', type=int, default=episodes,
                        help=f'episodes (default {episodes}), seeds SEED..SEED+N-1')
    parser.add_argument('--seed', type=int, default=seed, help=f'first seed (default {seed}: {which})')
    _progress_arg(parser)


def _compare_args(parser):
    from uav_mec_nodes.evaluation import TEST_EPISODES, TEST_SEED
    _episodes_args(parser, TEST_EPISODES, TEST_SEED, 'the held-out test seeds, which no choice looks at')
    parser.add_argument('--reference', default='flying-greedy', help='the policy differences are taken to '
                                                                     '(default flying-greedy)')
    parser.add_argument('--json', action='store_true', help='print JSON')


compare_cmd.add_arguments = _compare_args


@subcommand('gap', 'slot by slot, how far each policy\'s offloading decisions are from the per-slot optimum '
                   '(a mixed-integer program) on the same states: late tasks and energy')
def gap_cmd(args) -> int:
    from uav_mec_nodes.evaluation import slot_gaps, summarize_gaps, write_gaps_csv
    _check_range('--points', args.points, 2, 1000)
    env, policies, seeds = _env_policies_seeds(args, args.policies)
    with _slot_bar(args, len(policies) * args.episodes * env.num_slots, 'gap') as bar:
        rows = {name: slot_gaps(env, policy, seeds, args.points, on_slot=lambda: bar.update(1))
                for name, policy in policies.items()}
    if args.csv:
        write_gaps_csv(_writable_dir('--csv', args.csv.parent) / args.csv.name, rows)
    summary = {name: summarize_gaps(r) for name, r in rows.items()}
    if args.json:
        print(json.dumps(_finite_json(dict(seeds=[seeds[0], seeds[-1]], points=args.points, policies=summary)),
                         indent=1, allow_nan=False))
        return 0
    print(f'{args.episodes} episodes, seeds {seeds[0]}-{seeds[-1]}; each slot\'s optimum on the state the policy '
          f'reached ({args.points} tangents per task to start); energy: the tasks\' weighted energy, flight excluded; '
          'slots where a UAV fails apart (its drops count for every decision)')
    print('| policy | slots (with a failure) | late tasks: policy / optimum / proved least | late in failure slots: '
          'policy / optimum | slots with more late | tasks energy [J]: policy / optimum | energy gap at equal '
          'late: mean / median / p95 | slots at the optimum | bounds apart: mean / max | solve median / max [s] |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    for name, g in summary.items():
        print(f"| {name} | {g['slots']} ({g['failure_slots']}) | {g['late']} / {g['optimum_late']} / "
              f"{g['lower_late']} | {g['failure_late']} / {g['failure_optimum_late']} | {g['slots_more_late']} | "
              f"{g['energy_j']:.4f} / {g['optimum_energy_j']:.4f} | {g['energy_gap_mean']:+.2%} / "
              f"{g['energy_gap_median']:+.2%} / {g['energy_gap_p95']:+.2%} | {g['slots_at_optimum']} | "
              f"{g['bound_gap_mean']:.2e} / {g['bound_gap_max']:.2e} | {g['solve_median_s']:.2f} / "
              f"{g['solve_max_s']:.2f} |")
    return 0


def _gap_args(parser):
    from uav_mec_nodes.evaluation import TEST_SEED
    from uav_mec_nodes.policies.optimal import POINTS
    _episodes_args(parser, 5, TEST_SEED, 'held out')
    parser.add_argument('--points', type=int, default=POINTS,
                        help=f'points of each task\'s energy curve E(f), 2-1000 (default {POINTS}; more: a tighter '
                             'bound, slower)')
    parser.add_argument('--csv', type=Path, help='also write every slot of every policy to this CSV file')
    parser.add_argument('--json', action='store_true', help='print JSON')


gap_cmd.add_arguments = _gap_args


@subcommand('select', 'rank policy files on validation episodes (never the test ones) and copy the best where '
                      'you ship it')
def select_cmd(args) -> int:
    import shutil

    from uav_mec_nodes.errors import UserInputError
    from uav_mec_nodes.env import UavMecEnv
    from uav_mec_nodes.evaluation import TEST_SEED, select_over_sizes
    if args.seed + args.episodes > TEST_SEED:
        raise UserInputError(f'--seed: validation seeds end below the test seeds ({TEST_SEED}), got '
                             f'{args.seed}..{args.seed + args.episodes - 1}')
    env, policies, seeds = _env_policies_seeds(args, args.policies)
    envs = [env] if not args.sizes else [UavMecEnv(env.cfg, num_users=i, num_uavs=j) for i, j in
                                         _parse_sizes(args.sizes)]
    with _slot_bar(args, len(policies) * args.episodes * sum(e.num_slots for e in envs), 'select') as bar:
        ranked = select_over_sizes(envs, policies, seeds, on_slot=lambda: bar.update(1))
    where = '' if not args.sizes else f' at each of {len(envs)} sizes ({" ".join(args.sizes)}), means over them'
    print(f'{args.episodes} validation episodes, seeds {seeds[0]}-{seeds[-1]}{where}; best first')
    print('| policy | reward (31) | energy [J] | deadline misses |')
    print('|---|---|---|---|')
    for r in ranked:
        print(f"| {r['policy']} | {r['reward_mean']:.3f} | {r['energy_mean_j']:.3f} | {r['deadline_miss_rate']:.2%} |")
    if args.copy_to:
        from uav_mec_nodes.policies.polished import PREFIX
        name = ranked[0]['policy']
        best = Path(name[len(PREFIX):] if name.startswith(PREFIX) else name)
        if not best.is_file():
            raise UserInputError(f'--copy-to: the best is {name}, not a policy file')
        _writable_dir('--copy-to', args.copy_to.parent)
        shutil.copyfile(best, args.copy_to)
        print(f'copied {best} to {args.copy_to}' + (f' (run it as {PREFIX}{args.copy_to})' if best != Path(name) else ''))
    return 0


def _select_args(parser):
    from uav_mec_nodes.evaluation import SELECTION_SEED
    _episodes_args(parser, 20, SELECTION_SEED, 'validation episodes; they must stay below the test seeds')
    parser.add_argument('--copy-to', type=Path, help='copy the best policy file here (e.g. the shipped policy)')
    parser.add_argument('--sizes', nargs='+', metavar='I:J',
                        help='rank on these numbers of users and UAVs, the mean over them (set policies); default: '
                             'the scenario\'s')


def _parse_sizes(sizes):
    from uav_mec_nodes.contract import MAX_UAVS, MAX_USERS
    from uav_mec_nodes.errors import UserInputError
    out = []
    for text in sizes:
        try:
            users, uavs = (int(v) for v in text.split(':'))
        except ValueError:
            raise UserInputError(f'--sizes: each is I:J (users:UAVs), got {text!r}') from None
        _check_range('--sizes users', users, 1, MAX_USERS)
        _check_range('--sizes UAVs', uavs, 1, MAX_UAVS)
        out.append((users, uavs))
    return out


select_cmd.add_arguments = _select_args


@subcommand('slot', 'evaluate one slot from a JSON file; prints each task and the totals as JSON')
def slot_cmd(args) -> int:
    from uav_mec_nodes.slot_file import evaluate_slot_file
    print(json.dumps(_finite_json(evaluate_slot_file(args.file)), indent=1, allow_nan=False))
    return 0


def _finite_json(value):
    """Strict JSON: a time or energy that is not finite (a task that never ends) becomes null."""
    import math
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


slot_cmd.add_arguments = lambda p: p.add_argument('file', help='slot description (format: README)')


@subcommand('train', 'train SAC-PER, SAC, REDQ or our SAC-PER-UA on a scenario; logs, evaluations, '
                    'checkpoints, --resume')
def train_cmd(args) -> int:
    from uav_mec_nodes.learners.sac import LearnerConfig
    from uav_mec_nodes.learners.trainer import TrainSettings, train
    env = _make_env(args)
    learner = LearnerConfig.for_algo(args.algo, batch_size=args.batch_size, buffer_size=args.buffer_size,
                                     learning_starts=args.learning_starts, num_critics=args.critics,
                                     target_subset=args.target_subset, updates_per_step=args.utd,
                                     hidden=tuple(args.hidden) if args.hidden else None, gamma=args.gamma,
                                     reward_scale=args.reward_scale, init_alpha=args.init_alpha,
                                     actor_lr=args.lr, critic_lr=args.lr, alpha_lr=args.lr, tau=args.tau,
                                     per_alpha=args.per_alpha, per_beta0=args.per_beta0,
                                     per_actor_batch=args.per_actor_batch, network=args.network,
                                     set_users=tuple(args.set_users) if args.set_users else None,
                                     set_uavs=tuple(args.set_uavs) if args.set_uavs else None,
                                     set_width=args.set_width)
    settings = TrainSettings(steps=args.steps, seed=args.seed, eval_every=args.eval_every,
                             eval_episodes=args.eval_episodes, checkpoint_every=args.checkpoint_every,
                             threads=args.threads, progress=not args.no_progress)
    result = train(learner, env.cfg, settings, args.out, resume=args.resume)
    print(f"trained {args.algo} for {result['step']} steps ({result['episodes']} episodes, "
          f"{result['wall_s']:.0f} s); policy: {Path(args.out) / 'checkpoint.pt'}")
    return 0


def _train_args(parser):
    _scenario_args(parser)
    parser.add_argument('--algo', default='sac-per', help='sac-per (default), sac, redq or sac-per-ua '
                        '(ours: sac-per with --per-actor-batch uniform)')
    parser.add_argument('--steps', type=int, required=True, help='environment steps (slots) in total')
    parser.add_argument('--seed', type=int, default=0, help='seed of the networks, replay and episodes')
    parser.add_argument('--out', required=True, help='output folder (CSV logs, checkpoint.pt, resume.pt)')
    parser.add_argument('--resume', action='store_true', help='continue the run in --out from its resume.pt')
    parser.add_argument('--motion', choices=('acceleration', 'orbit'),
                        help="the action's motion entries (default: the config's modes.motion_action, "
                             'acceleration): accelerations as in the paper, or orbit (where to circle the UAV\'s '
                             'users at the cruise speed, flyable by construction)')
    parser.add_argument('--eval-every', type=int, default=2000, help='steps between evaluations (default 2000)')
    parser.add_argument('--eval-episodes', type=int, default=3, help='episodes per evaluation (default 3)')
    parser.add_argument('--checkpoint-every', type=int, default=5000, help='steps between resume points')
    parser.add_argument('--threads', type=int, default=1, help='torch threads (1: deterministic, default)')
    parser.add_argument('--batch-size', type=int, help='minibatch size (default 256)')
    parser.add_argument('--buffer-size', type=int, help='replay capacity (default 1000000)')
    parser.add_argument('--learning-starts', type=int, help='random-action steps first (default 1000)')
    parser.add_argument('--critics', type=int, help='N critics (default 2; redq 10)')
    parser.add_argument('--target-subset', type=int, help='M critics in the target min (default 2)')
    parser.add_argument('--utd', type=int, help='G updates per env step (default 1; redq 2)')
    parser.add_argument('--hidden', type=int, nargs='+', help='hidden layer sizes (default 256 256)')
    parser.add_argument('--gamma', type=float, help='discount factor (default 0.99)')
    parser.add_argument('--init-alpha', type=float, help='initial entropy temperature (default 0.2)')
    parser.add_argument('--reward-scale', type=float, help='factor on the rewards seen by the critics (default 100)')
    parser.add_argument('--lr', type=float, help='Adam learning rate of actor, critics and temperature (default 3e-4)')
    parser.add_argument('--tau', type=float, help='Polyak rate of the target critics (default 0.005)')
    parser.add_argument('--per-alpha', type=float, help='sac-per: priority exponent alpha (default 0.6)')
    parser.add_argument('--per-beta0', type=float,
                        help='sac-per: initial importance-weight exponent beta, annealed to 1 (default 0.4)')
    parser.add_argument('--per-actor-batch', choices=('prioritized', 'uniform'),
                        help="sac-per: the actor's minibatch: the critics' prioritized one (default, the paper) "
                             'or a uniform draw of its own')
    parser.add_argument('--network', choices=('flat', 'set'),
                        help='flat (default): MLPs for the scenario\'s I and J, as the paper; set: users and UAVs as '
                             'sets, one policy for every I in --set-users and J in --set-uavs, each episode of a '
                             'size drawn from them (--users/--uavs: the size validation starts from)')
    parser.add_argument('--set-users', type=int, nargs=2, metavar=('MIN', 'MAX'),
                        help='set network: the range of I it trains on and serves (default 4 12)')
    parser.add_argument('--set-uavs', type=int, nargs=2, metavar=('MIN', 'MAX'),
                        help='set network: the range of J (default 2 5)')
    parser.add_argument('--set-width', type=int, help='set network: embedding width (default 64; sweeps 32)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')


train_cmd.add_arguments = _train_args


@subcommand('sweep', 'train and evaluate what a figure needs, every run and evaluation a Ray task (local Ray by '
                     'default, --address for a cluster; resumable: finished runs are skipped)')
def sweep_cmd(args) -> int:
    from uav_mec_nodes.errors import UserInputError
    import signal

    from uav_mec_nodes.experiments import FIGURES
    from uav_mec_nodes.sweeps import Interrupted, sweep
    figures = FIGURES if args.figure == 'all' else (args.figure,)
    for flag, value, lo in (('--steps', args.steps, 1), ('--set-steps', args.set_steps, 1),
                            ('--chunk-steps', args.chunk_steps, 1), ('--learning-starts', args.learning_starts, 0)):
        if value is not None and value < lo:
            raise UserInputError(f'{flag}: must be >= {lo}, got {value}')
    overrides = {} if args.learning_starts is None else dict(learning_starts=args.learning_starts)
    progress = None if args.no_progress else (lambda text: print(text, file=sys.stderr, flush=True))
    for figure in figures:
        try:
            done = sweep(figure, Path(args.results), tuple(args.seeds), args.steps, address=args.address,
                         workers=args.workers, evals_only=args.evals_only, algos=tuple(args.algos),
                         baselines=tuple(args.baselines), chunk_steps=args.chunk_steps,
                         learner_overrides=overrides, set_steps=args.set_steps, progress=progress)
        except (KeyboardInterrupt, Interrupted) as exc:   # what the workers finished is written
            signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
            print(f'uav-mec sweep: interrupted by {signal.Signals(signum).name} during {figure}; every finished '
                  f'piece and evaluation is in {args.results}, the same command goes on from there', file=sys.stderr)
            return 128 + int(signum)
        for note in done.skipped:
            print(f'[{figure}] skipped {note}')
        print(f"{figure}: trained {done.runs_trained} run(s) ({done.pieces} piece(s), {done.train_s:.0f} s of "
              f"training), {done.evals_done} evaluation(s) in {done.eval_s:.0f} CPU s")
    return 0


def _sweep_args(parser):
    parser.add_argument('--figure', default='all', help='fig3, fig4, fig5, robustness or all (default)')
    parser.add_argument('--results', default='docs/results', help='results folder (default docs/results)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2], help='training seeds (default 0 1 2)')
    parser.add_argument('--steps', type=int, default=20000, help='training steps per run (default 20000)')
    from uav_mec_nodes.experiments import LEARNERS, NAMED_POLICIES, SET_STEPS
    parser.add_argument('--set-steps', type=int, default=SET_STEPS,
                        help=f'training steps of a set policy run (default {SET_STEPS})')
    parser.add_argument('--algos', nargs='+', default=list(LEARNERS),
                        help=f'learners to train and evaluate (default {" ".join(LEARNERS)})')
    parser.add_argument('--baselines', nargs='+', default=list(NAMED_POLICIES),
                        help=f'policies without training to evaluate (default {" ".join(NAMED_POLICIES)})')
    parser.add_argument('--address', help='join this Ray cluster (HOST:PORT of `ray start --head`, or auto); '
                                          'default: start a local Ray on this machine')
    parser.add_argument('--workers', type=int, help='local Ray only: CPUs to use, one task each (default: all)')
    from uav_mec_nodes.sweeps import CHUNK_STEPS
    parser.add_argument('--chunk-steps', type=int, default=CHUNK_STEPS,
                        help=f'training steps per Ray task; a run is trained piece by piece and a lost worker '
                             f'costs at most one piece (default {CHUNK_STEPS})')
    parser.add_argument('--learning-starts', type=int,
                        help="random-action steps before learning (default: the learner's, 1000); for tiny sweeps")
    parser.add_argument('--no-progress', action='store_true', help='no progress lines')
    parser.add_argument('--evals-only', action='store_true',
                        help='train nothing: evaluate baselines and learners whose runs are finished')


sweep_cmd.add_arguments = _sweep_args


@subcommand('figures', 'draw Fig. 3, 4, 5 and the failure-robustness figure (PNG + CSV) from sweep results')
def figures_cmd(args) -> int:
    from uav_mec_nodes.figures import make_figures, update_readme
    out = Path(args.out or args.results)
    notes = make_figures(Path(args.results), out)
    for note in notes:
        print(f'missing: {note}')
    print(f'figures and tables.md written to {out.resolve()}')
    if args.readme:
        update_readme(Path(args.readme), (out / 'tables.md').read_text())
        print(f'result tables of {args.readme} updated')
    return 0


def _figures_args(parser):
    parser.add_argument('--results', default='docs/results', help='results folder (default docs/results)')
    parser.add_argument('--out', help='where to write PNG and CSV (default: the results folder)')
    parser.add_argument('--readme', help='also replace the result tables block of this README')


figures_cmd.add_arguments = _figures_args


@subcommand('params', 'print the ROS 2 parameters of every node of the default graph (config/params.yaml)')
def params_cmd(args) -> int:
    import yaml

    from uav_mec_nodes.graph import GraphConfig, node_specs, params_yaml, resolved_num_uavs
    g = GraphConfig()
    specs = node_specs(g, resolved_num_uavs(g))
    px4 = GraphConfig(plant='px4', real_time_factor=1.0)   # its bridge and stand-ins, for --plant px4
    specs += [s for s in node_specs(px4, resolved_num_uavs(px4)) if s.module in ('px4_bridge', 'px4_standin')]
    print('# ROS 2 parameters of the default graph (uav_mec_nodes/graph.py), with the PX4 bridge and stand-ins\n'
          '# of --plant px4; regenerate with `uav-mec params > config/params.yaml`. Use with:\n'
          '# ros2 run uav_mec_nodes <node> --ros-args --params-file config/params.yaml')
    print(yaml.safe_dump(params_yaml(specs), sort_keys=False), end='')
    return 0


params_cmd.add_arguments = lambda p: None
