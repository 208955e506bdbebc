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
    parser.add_argument('--policy', default='offload-all', help='policy name (default: offload-all)')
    parser.add_argument('--seed', type=int, default=0, help='episode seed (default 0)')
    parser.add_argument('--out', help='folder for summary.json and slots.json')


run.add_arguments = _run_args


@subcommand('config', 'print the scenario configuration as commented YAML (defaults, or --config)')
def config_cmd(args) -> int:
    from uav_mec_nodes.config import load_scenario, render_yaml
    print(render_yaml(load_scenario(args.config)), end='')
    return 0


config_cmd.add_arguments = lambda p: p.add_argument('--config', help='scenario YAML to validate and print')
