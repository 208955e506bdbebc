"""Jobs that train: `train`, `sweep` (on Ray), `figures`."""
from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path

from uav_mec_nodes.cli.registry import subcommand
from uav_mec_nodes.cli.shared import make_env, scenario_args, stderr
from uav_mec_nodes.learners.agent import AGENTS
from uav_mec_nodes.learners.config import LearnerConfig


def _flagged():
    return [f for f in fields(LearnerConfig) if 'flag' in f.metadata]


def _learner_flags(parser) -> None:
    """The hyper-parameter options, one per LearnerConfig field with a flag (its help, default and type)."""
    for f in _flagged():
        _learner_flag(parser, f)


def _learner_flag(parser, f) -> None:
    m = f.metadata
    default = ' '.join(map(str, f.default)) if isinstance(f.default, tuple) else f.default
    parser.add_argument(m['flag'], dest=f.name, help=f"{m['help']} (default {default}{m['note']})", **m['argparse'])


def _learner_overrides(args) -> dict:
    """The LearnerConfig fields the options gave (None: the algorithm's default; a command without the option
    leaves the field alone too)."""
    out = {}
    for f in _flagged():
        value = getattr(args, f.name, None)
        for name in (f.name,) + f.metadata['also']:
            out[name] = tuple(value) if isinstance(value, list) else value
    return out


def _train_args(parser):
    scenario_args(parser)
    parser.add_argument('--algo', default='sac-per', help=f"one of {', '.join(AGENTS)} (default sac-per; "
                        'sac-per-ua is ours: sac-per with --per-actor-batch uniform)')
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
    _learner_flags(parser)
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')


@subcommand('train', 'train SAC-PER, SAC, REDQ or our SAC-PER-UA on a scenario; logs, evaluations, checkpoints, '
                     '--resume',
                     arguments=_train_args)
def train_cmd(args) -> int:
    from uav_mec_nodes.learners.trainer import TrainSettings, train
    env = make_env(args)
    learner = LearnerConfig.for_algo(args.algo, **_learner_overrides(args))
    settings = TrainSettings(steps=args.steps, seed=args.seed, eval_every=args.eval_every,
                             eval_episodes=args.eval_episodes, checkpoint_every=args.checkpoint_every,
                             threads=args.threads, progress=not args.no_progress)
    result = train(learner, env.cfg, settings, args.out, resume=args.resume)
    print(f"trained {args.algo} for {result['step']} steps ({result['episodes']} episodes, "
          f"{result['wall_s']:.0f} s); policy: {Path(args.out) / 'checkpoint.pt'}")
    return 0


IMITATE_LEARNER_FIELDS = ('set_users', 'set_uavs', 'set_width', 'set_motion_prior')   # the student's network


def _imitate_args(parser):
    from uav_mec_nodes.learners.config import ImitationSettings
    scenario_args(parser)
    for f in fields(ImitationSettings):
        rng = f.metadata.get('range')
        shown = f'{f.default}; {rng[0]}-{rng[1]}' if rng else f.default
        parser.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=type(f.default), default=f.default,
                            help=f"{f.metadata['help']} (default {shown})")
    for f in _flagged():
        if f.name in IMITATE_LEARNER_FIELDS:
            _learner_flag(parser, f)
    parser.add_argument('--out', required=True, help='output folder (imitate.csv, best.pt, checkpoint.pt)')


@subcommand('imitate', "train a set policy's actor to imitate a flying policy (behaviour cloning of its decisions "
                       'and orbit motion on training episodes; best.pt chosen on validation episodes)',
                       arguments=_imitate_args)
def imitate_cmd(args) -> int:
    from uav_mec_nodes.learners.imitation import ImitationSettings, imitate
    env = make_env(args)
    settings = ImitationSettings(**{f.name: getattr(args, f.name) for f in fields(ImitationSettings)})
    learner = LearnerConfig.for_algo('sac-per', **{**_learner_overrides(args), 'network': 'set'})
    result = imitate(learner, env.cfg, settings, args.out)
    best = result['best']
    print(f"imitated {settings.teacher} on {result['samples']} slots in {result['wall_s']:.0f} s; best validation "
          f"reward {best['reward_mean']:.3f} at update {best['update']}: {Path(args.out) / 'best.pt'}")
    return 0


def _sweep_args(parser):
    parser.add_argument('--figure', default='all', help='fig3, fig4, fig5, robustness or all (default)')
    parser.add_argument('--results', default='docs/results', help='results folder (default docs/results)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2], help='training seeds (default 0 1 2)')
    parser.add_argument('--steps', type=int, default=20000, help='training steps per run (default 20000)')
    from uav_mec_nodes.experiments.plans import LEARNERS, NAMED_POLICIES, SET_STEPS
    parser.add_argument('--set-steps', type=int, default=SET_STEPS,
                        help=f'training steps of a set policy run (default {SET_STEPS})')
    parser.add_argument('--algos', nargs='+', default=list(LEARNERS),
                        help=f'learners to train and evaluate (default {" ".join(LEARNERS)})')
    parser.add_argument('--baselines', nargs='+', default=list(NAMED_POLICIES),
                        help=f'policies without training to evaluate (default {" ".join(NAMED_POLICIES)})')
    parser.add_argument('--address', help='join this Ray cluster (HOST:PORT of `ray start --head`, or auto); '
                                          'default: start a local Ray on this machine')
    parser.add_argument('--workers', type=int, help='local Ray only: CPUs to use, one task each (default: all)')
    from uav_mec_nodes.experiments.sweeps import CHUNK_STEPS
    parser.add_argument('--chunk-steps', type=int, default=CHUNK_STEPS,
                        help=f'training steps per Ray task; a run is trained piece by piece and a lost worker '
                             f'costs at most one piece (default {CHUNK_STEPS})')
    parser.add_argument('--learning-starts', type=int,
                        help="random-action steps before learning (default: the learner's, 1000); for tiny sweeps")
    parser.add_argument('--no-progress', action='store_true', help='no progress lines')
    parser.add_argument('--evals-only', action='store_true',
                        help='train nothing: evaluate baselines and learners whose runs are finished')


@subcommand('sweep', 'train and evaluate what a figure needs, every run and evaluation a Ray task (local Ray by '
                     'default, --address for a cluster; resumable: finished runs are skipped)',
                     arguments=_sweep_args)
def sweep_cmd(args) -> int:
    from uav_mec_nodes.errors import UserInputError
    import signal

    from uav_mec_nodes.experiments.plans import FIGURES
    from uav_mec_nodes.experiments.sweeps import Interrupted, sweep
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


def _figures_args(parser):
    parser.add_argument('--results', default='docs/results', help='results folder (default docs/results)')
    parser.add_argument('--out', help='where to write PNG and CSV (default: the results folder)')
    parser.add_argument('--readme', help='also replace the result tables block of this markdown file '
                        '(docs/learners.md)')


@subcommand('figures', 'draw Fig. 3, 4, 5 and the failure-robustness figure (PNG + CSV) from sweep results',
                       arguments=_figures_args)
def figures_cmd(args) -> int:
    from uav_mec_nodes.experiments.figures import make_figures, update_readme
    out = Path(args.out or args.results)
    notes = make_figures(Path(args.results), out)
    for note in notes:
        print(f'missing: {note}')
    print(f'figures and tables.md written to {out.resolve()}')
    if args.readme:
        update_readme(Path(args.readme), (out / 'tables.md').read_text())
        print(f'result tables of {args.readme} updated')
    return 0
