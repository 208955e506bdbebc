"""What several subcommands share: scenario flags and their checks, the env, output folders, progress."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from uav_mec_nodes.graph.arguments import SEED_MAX  # noqa: F401  (the subcommands' seed range)


def check_range(flag: str, value, lo, hi) -> None:
    """One-line error naming the flag and its range (None: the flag was not given)."""
    from uav_mec_nodes.errors import UserInputError
    if value is not None and not lo <= value <= hi:
        raise UserInputError(f'{flag}: must be in [{lo}, {hi}], got {value}')


def scenario_args(parser):
    """--config, --users, --uavs, --max-failures, as graph/arguments.py declares them."""
    from uav_mec_nodes.graph.arguments import SCENARIO_FLAGS, add_flags
    add_flags(parser, SCENARIO_FLAGS)


def check_scenario_args(args) -> None:
    from uav_mec_nodes.graph.arguments import SCENARIO_FLAGS, given_flags
    given_flags(args, SCENARIO_FLAGS + (('seed',) if isinstance(getattr(args, 'seed', None), int) else ()))


def make_env(args, safety=None):
    """The env of the scenario flags; safety: the safety layer's say (None: the scenario's)."""
    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.env import UavMecEnv
    check_scenario_args(args)
    cfg = load_scenario(args.config)
    if safety is not None and cfg.safety.enabled != safety:   # `run`: the flag decides, whichever engine
        cfg = cfg.replace(safety__enabled=safety)
    if getattr(args, 'slots', None):
        cfg = cfg.replace(scenario__num_slots=args.slots)
    if getattr(args, 'motion', None):           # `train --motion`: what the action's motion entries mean
        cfg = cfg.replace(modes__motion_action=args.motion)
    return UavMecEnv(cfg, num_users=args.users, num_uavs=args.uavs, max_failures=args.max_failures)


def writable_dir(flag: str, path: Path) -> Path:
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


def slot_bar(args, slots: int, desc: str):
    """A progress bar of slots on stderr (--progress; default: when stderr is a terminal)."""
    from tqdm import tqdm
    show = args.progress or (args.progress is None and sys.stderr.isatty())
    return tqdm(total=slots, unit='slot', desc=desc, disable=not show, file=sys.stderr, dynamic_ncols=True)


def env_policies_seeds(args, names):
    """The scenario's env, the named policies and the seeds SEED..SEED+N-1 of --seed and --episodes, checked."""
    from uav_mec_nodes.policies import make_policy
    check_range('--episodes', args.episodes, 1, 10_000)
    env = make_env(args)
    policies = {name: make_policy(name) for name in dict.fromkeys(names)}
    check_range('--seed', args.seed + args.episodes - 1, 0, SEED_MAX)
    return env, policies, list(range(args.seed, args.seed + args.episodes))


def progress_arg(parser):
    parser.add_argument('--progress', action=argparse.BooleanOptionalAction, default=None,
                        help='a progress bar on stderr (default: when stderr is a terminal)')


def stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def finite_json(value):
    """Strict JSON: a time or energy that is not finite (a task that never ends) becomes null."""
    import math
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
