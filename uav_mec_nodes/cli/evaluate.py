"""Jobs that evaluate policies: `evaluate`, `compare`, `gap`, `select`."""
from __future__ import annotations

import json
from pathlib import Path

from uav_mec_nodes.cli.registry import subcommand
from uav_mec_nodes.cli.shared import (SEED_MAX, check_range, env_policies_seeds, finite_json, make_env,
                                     progress_arg, scenario_args, slot_bar, writable_dir)


def _evaluate_args(parser):
    scenario_args(parser)
    parser.add_argument('--policy', required=True, help='policy: offload-all, random-partition, greedy, optimal, '
                                                        'flying-greedy, flying-optimal or a policy file (see train); '
                                                        'polish:P polishes P\'s offloading by greedy\'s local search')
    parser.add_argument('--episodes', type=int, default=10, help='episodes, seeds SEED..SEED+N-1 (default 10)')
    parser.add_argument('--seed', type=int, default=0, help='first seed (default 0)')
    parser.add_argument('--json', action='store_true', help='print JSON')
    progress_arg(parser)


@subcommand('evaluate', 'run N episodes of a policy and print energy, deadline misses and task counts',
                        arguments=_evaluate_args)
def evaluate_cmd(args) -> int:
    from uav_mec_nodes.experiments.episode import summarize_episodes
    from uav_mec_nodes.errors import UserInputError
    from uav_mec_nodes.policies import make_policy
    if args.episodes < 1:
        raise UserInputError(f'--episodes: must be >= 1, got {args.episodes}')
    env = make_env(args)
    policy = make_policy(args.policy)
    check_range('--seed', args.seed + args.episodes - 1, 0, SEED_MAX)
    with slot_bar(args, args.episodes * env.num_slots, 'evaluate') as bar:
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


def _episodes_args(parser, episodes: int, seed: int, which: str):
    """--policies, --episodes and --seed of the commands that run policies over episodes, and the scenario's."""
    scenario_args(parser)
    parser.add_argument('--policies', nargs='+', required=True,
                        help='baseline names or policy files, either with polish: before it')
    parser.add_argument('--episodes', type=int, default=episodes,
                        help=f'episodes (default {episodes}), seeds SEED..SEED+N-1')
    parser.add_argument('--seed', type=int, default=seed, help=f'first seed (default {seed}: {which})')
    progress_arg(parser)


def _compare_args(parser):
    from uav_mec_nodes.experiments.evaluation import TEST_EPISODES, TEST_SEED
    _episodes_args(parser, TEST_EPISODES, TEST_SEED, 'the held-out test seeds, which no choice looks at')
    parser.add_argument('--reference', default='flying-greedy', help='the policy differences are taken to '
                                                                     '(default flying-greedy)')
    parser.add_argument('--json', action='store_true', help='print JSON')


@subcommand('compare', 'policies on the same held-out test episodes: energy, misses, motion, and the difference to a '
                       'reference with a 95% confidence interval (paired by seed)',
                       arguments=_compare_args)
def compare_cmd(args) -> int:
    from uav_mec_nodes.errors import UserInputError
    from uav_mec_nodes.experiments.evaluation import compare
    if args.episodes < 2:
        raise UserInputError(f'--episodes: must be >= 2 (a confidence interval needs two), got {args.episodes}')
    env, policies, seeds = env_policies_seeds(args, args.policies + [args.reference])
    with slot_bar(args, len(policies) * args.episodes * env.num_slots, 'compare') as bar:
        result = compare(env, policies, args.reference, seeds, on_slot=lambda: bar.update(1))
    if args.json:
        print(json.dumps(dict(seeds=[seeds[0], seeds[-1]], reference=args.reference, policies=result), indent=1))
        return 0
    print(f'{args.episodes} episodes, seeds {seeds[0]}-{seeds[-1]}; differences to {args.reference}, paired by seed, '
          'with 95% confidence intervals')
    print('| policy | energy [J] | vs reference [J] | deadline misses | vs reference [points] | UAV-slots at the '
          'border | user-UAV distance [m] | safety interventions | flight above its floor [J] |')
    print('|---|---|---|---|---|---|---|---|---|')
    for name, r in result.items():
        de, dm = r['energy_vs_reference_j'], r['misses_vs_reference']
        print(f"| {name} | {r['energy_mean_j']:.3f} ± {r['energy_std_j']:.3f} | {de['mean']:+.3f} "
              f"[{de['low']:+.3f}, {de['high']:+.3f}] | {r['deadline_miss_rate']:.2%} | {dm['mean'] * 100:+.2f} "
              f"[{dm['low'] * 100:+.2f}, {dm['high'] * 100:+.2f}] | {r['border_fraction']:.1%} | "
              f"{r['user_distance_m']:.1f} | {r['safety_interventions']} | {r['flight_above_floor_j']:.3f} |")
    return 0


def _gap_args(parser):
    from uav_mec_nodes.experiments.evaluation import TEST_SEED
    from uav_mec_nodes.policies.optimal import POINTS
    _episodes_args(parser, 5, TEST_SEED, 'held out')
    parser.add_argument('--points', type=int, default=POINTS,
                        help=f'points of each task\'s energy curve E(f), 2-1000 (default {POINTS}; more: a tighter '
                             'bound, slower)')
    parser.add_argument('--csv', type=Path, help='also write every slot of every policy to this CSV file')
    parser.add_argument('--json', action='store_true', help='print JSON')


@subcommand('gap', "slot by slot, how far each policy's offloading decisions are from the per-slot optimum (a mixed-"
                   'integer program) on the same states: late tasks and energy',
                   arguments=_gap_args)
def gap_cmd(args) -> int:
    from uav_mec_nodes.experiments.evaluation import slot_gaps, summarize_gaps, write_gaps_csv
    check_range('--points', args.points, 2, 1000)
    env, policies, seeds = env_policies_seeds(args, args.policies)
    with slot_bar(args, len(policies) * args.episodes * env.num_slots, 'gap') as bar:
        rows = {name: slot_gaps(env, policy, seeds, args.points, on_slot=lambda: bar.update(1))
                for name, policy in policies.items()}
    if args.csv:
        write_gaps_csv(writable_dir('--csv', args.csv.parent) / args.csv.name, rows)
    summary = {name: summarize_gaps(r) for name, r in rows.items()}
    if args.json:
        print(json.dumps(finite_json(dict(seeds=[seeds[0], seeds[-1]], points=args.points, policies=summary)),
                         indent=1, allow_nan=False))
        return 0
    print(f'{args.episodes} episodes, seeds {seeds[0]}-{seeds[-1]}; each slot\'s optimum on the state the policy '
          f'reached ({args.points} tangents per task to start, and at greedy\'s CPU prices); energy: the tasks\' '
          'weighted energy, flight excluded; '
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


def _parse_sizes(sizes):
    from uav_mec_nodes.graph.contract import MAX_UAVS, MAX_USERS
    from uav_mec_nodes.errors import UserInputError
    out = []
    for text in sizes:
        try:
            users, uavs = (int(v) for v in text.split(':'))
        except ValueError:
            raise UserInputError(f'--sizes: each is I:J (users:UAVs), got {text!r}') from None
        check_range('--sizes users', users, 1, MAX_USERS)
        check_range('--sizes UAVs', uavs, 1, MAX_UAVS)
        out.append((users, uavs))
    return out


def _select_args(parser):
    from uav_mec_nodes.experiments.evaluation import SELECTION_SEED
    _episodes_args(parser, 20, SELECTION_SEED, 'validation episodes; they must stay below the test seeds')
    parser.add_argument('--copy-to', type=Path, help='copy the best policy file here (e.g. the shipped policy)')
    parser.add_argument('--sizes', nargs='+', metavar='I:J',
                        help='rank on these numbers of users and UAVs, the mean over them (set policies); default: '
                             'the scenario\'s')


@subcommand('select', 'rank policy files on validation episodes (never the test ones) and copy the best where you ship '
                      'it',
                      arguments=_select_args)
def select_cmd(args) -> int:
    import shutil

    from uav_mec_nodes.errors import UserInputError
    from uav_mec_nodes.env import UavMecEnv
    from uav_mec_nodes.experiments.evaluation import TEST_SEED, select_over_sizes
    if args.seed + args.episodes > TEST_SEED:
        raise UserInputError(f'--seed: validation seeds end below the test seeds ({TEST_SEED}), got '
                             f'{args.seed}..{args.seed + args.episodes - 1}')
    env, policies, seeds = env_policies_seeds(args, args.policies)
    envs = [env] if not args.sizes else [UavMecEnv(env.cfg, num_users=i, num_uavs=j) for i, j in
                                         _parse_sizes(args.sizes)]
    with slot_bar(args, len(policies) * args.episodes * sum(e.num_slots for e in envs), 'select') as bar:
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
        writable_dir('--copy-to', args.copy_to.parent)
        shutil.copyfile(best, args.copy_to)
        hint = f' (run it as {PREFIX}{args.copy_to})' if best != Path(name) else ''
        print(f'copied {best} to {args.copy_to}{hint}')
    return 0
