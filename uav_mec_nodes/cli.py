"""The `uav-mec` command line: one subcommand per job (see `uav-mec --help`)."""
import argparse
import sys
from typing import Callable, Dict, List, Optional

from uav_mec_nodes import __version__
from uav_mec_nodes.errors import UserInputError

# name -> (add_arguments, run); filled by the @subcommand decorator below
_SUBCOMMANDS: Dict[str, tuple] = {}


def subcommand(name: str, help_text: str):
    """Register `run(args) -> int` as a subcommand; `run.add_arguments(parser)` adds its flags."""
    def wrap(run: Callable):
        _SUBCOMMANDS[name] = (help_text, run)
        return run
    return wrap


class OneLineParser(argparse.ArgumentParser):
    """A bad flag is said in one line (the usage is one `--help` away), exit status 2."""

    def error(self, message: str):
        self.exit(2, f'{self.prog}: error: {message} (see {self.prog} --help)\n')


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog='uav-mec',
        description='Robust DNN partitioning and task offloading in multi-UAV MEC '
                    '(Meng & Li), as a ROS 2 package and a pure-Python core.')
    parser.add_argument('--version', action='version', version=f'uav-mec {__version__}')
    subparsers = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name, (help_text, run) in _SUBCOMMANDS.items():
        # argparse %-formats help (not descriptions): a literal '95%' must not read as a format
        sub = subparsers.add_parser(name, help=help_text.replace('%', '%%'), description=help_text)
        if hasattr(run, 'add_arguments'):
            run.add_arguments(sub)
        sub.set_defaults(_run=run)
    return parser


def _load_subcommands():
    # Imported here so `uav-mec --version` stays fast and each job pulls only its own deps.
    from uav_mec_nodes import commands  # noqa: F401


def main(argv: Optional[List[str]] = None) -> int:
    _load_subcommands()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:   # --help, --version, or a bad flag already said in one line
        return int(exc.code or 0)
    if not getattr(args, '_run', None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except UserInputError as exc:
        print(f'uav-mec {args.command}: error: {exc}', file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `uav-mec profiles | head`
        sys.stderr.close()
        return 0


if __name__ == '__main__':
    sys.exit(main())
