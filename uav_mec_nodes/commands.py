"""Subcommands of `uav-mec` (registered with cli.subcommand)."""
from __future__ import annotations

import json
from pathlib import Path

from uav_mec_nodes.cli import subcommand


def _scenario_args(parser):
    parser.add_argument('--config', help='scenario YAML (default: built-in defaults = config/scenario.yaml)')
    parser.add_argument('--users', type=int, help='I, number of users (overrides the config)')
    parser.add_argument('--uavs', type=int, help='J, number of UAVs (overrides the config)')
    parser.add_argument('--max-failures', type=int, help='F_max (overrides the config)')


def _make_env(args):
    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.env import UavMecEnv
    return UavMecEnv(load_scenario(args.config), num_users=args.users, num_uavs=args.uavs,
                     max_failures=args.max_failures)


@subcommand('run', 'main job: one simulated episode with a UAV failure; prints a summary table')
def run(args) -> int:
    from uav_mec_nodes.episode import format_summary, run_episode
    from uav_mec_nodes.policies import make_policy
    env = _make_env(args)
    log = run_episode(env, make_policy(args.policy), args.seed)
    summary = log.summary()
    print(format_summary(summary))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
        (out / 'slots.json').write_text(json.dumps(log.slots, indent=1, default=float) + '\n')
        print(f'\noutputs written to {out.resolve()}')
    return 0


def _run_args(parser):
    _scenario_args(parser)
    parser.add_argument('--policy', default='offload-all', help='policy: offload-all, random-partition, greedy (default: offload-all)')
    parser.add_argument('--seed', type=int, default=0, help='episode seed (default 0)')
    parser.add_argument('--out', help='folder for summary.json and slots.json')


run.add_arguments = _run_args


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
    import numpy as np

    from uav_mec_nodes.episode import run_episode
    from uav_mec_nodes.errors import UserInputError
    from uav_mec_nodes.policies import make_policy
    if args.episodes < 1:
        raise UserInputError(f'--episodes: must be >= 1, got {args.episodes}')
    env = _make_env(args)
    policy = make_policy(args.policy)
    summaries = [run_episode(env, policy, args.seed + n).summary() for n in range(args.episodes)]
    energy = np.array([s['e_tot'] for s in summaries])
    tasks = sum(s['tasks'] for s in summaries)
    result = dict(
        policy=args.policy, episodes=args.episodes, seed=args.seed,
        users=env.num_users, uavs=env.num_uavs, max_failures=env.cfg.failures.max_failures,
        energy_mean=float(energy.mean()), energy_std=float(energy.std(ddof=1)) if len(energy) > 1 else 0.0,
        deadline_miss_rate=sum(s['tasks_late'] + s['tasks_dropped'] for s in summaries) / tasks,
        tasks=tasks, tasks_completed=sum(s['tasks_completed'] for s in summaries),
        tasks_late=sum(s['tasks_late'] for s in summaries),
        tasks_dropped=sum(s['tasks_dropped'] for s in summaries),
        tasks_migrated=sum(s['tasks_migrated'] for s in summaries),
        failures_injected=sum(len(s['failures']) for s in summaries))
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        width = max(map(len, result))
        for key, value in result.items():
            print(f'{key:<{width}}  {value:.6g}' if isinstance(value, float) else f'{key:<{width}}  {value}')
    return 0


def _evaluate_args(parser):
    _scenario_args(parser)
    parser.add_argument('--policy', required=True, help='policy: offload-all, random-partition, greedy (or a checkpoint, see train)')
    parser.add_argument('--episodes', type=int, default=10, help='episodes, seeds SEED..SEED+N-1 (default 10)')
    parser.add_argument('--seed', type=int, default=0, help='first seed (default 0)')
    parser.add_argument('--json', action='store_true', help='print JSON')


evaluate_cmd.add_arguments = _evaluate_args


@subcommand('slot', 'evaluate one slot from a JSON file; prints each task and the totals as JSON')
def slot_cmd(args) -> int:
    from uav_mec_nodes.slot_file import evaluate_slot_file
    print(json.dumps(evaluate_slot_file(args.file), indent=1))
    return 0


slot_cmd.add_arguments = lambda p: p.add_argument('file', help='slot description (format: README)')


@subcommand('train', 'train SAC-PER, SAC or REDQ on a scenario; logs, evaluations, checkpoints, --resume')
def train_cmd(args) -> int:
    from uav_mec_nodes.learn.sac import LearnerConfig
    from uav_mec_nodes.learn.trainer import TrainSettings, train
    env = _make_env(args)
    learner = LearnerConfig.for_algo(args.algo, batch_size=args.batch_size, buffer_size=args.buffer_size,
                                     learning_starts=args.learning_starts, num_critics=args.critics,
                                     target_subset=args.target_subset, updates_per_step=args.utd,
                                     hidden=tuple(args.hidden) if args.hidden else None)
    settings = TrainSettings(steps=args.steps, seed=args.seed, eval_every=args.eval_every,
                             eval_episodes=args.eval_episodes, checkpoint_every=args.checkpoint_every,
                             threads=args.threads, progress=not args.no_progress)
    result = train(learner, env.cfg, settings, args.out, resume=args.resume)
    print(f"trained {args.algo} for {result['step']} steps ({result['episodes']} episodes, "
          f"{result['wall_s']:.0f} s); policy: {Path(args.out) / 'checkpoint.pt'}")
    return 0


def _train_args(parser):
    _scenario_args(parser)
    parser.add_argument('--algo', default='sac-per', help='sac-per (default), sac or redq')
    parser.add_argument('--steps', type=int, required=True, help='environment steps (slots) in total')
    parser.add_argument('--seed', type=int, default=0, help='seed of the networks, replay and episodes')
    parser.add_argument('--out', required=True, help='output folder (CSV logs, checkpoint.pt, resume.pt)')
    parser.add_argument('--resume', action='store_true', help='continue the run in --out from its resume.pt')
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
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')


train_cmd.add_arguments = _train_args
