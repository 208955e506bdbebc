"""The `uav-mec` command line: one subcommand per job (see `uav-mec --help`), its modules by subject:
run (the graph), bags, model, evaluate, learn; each registers its jobs in `registry`."""
import argparse
import importlib
import sys
from typing import List, Optional

from uav_mec_nodes import __version__
from uav_mec_nodes.cli.registry import SUBCOMMANDS
from uav_mec_nodes.errors import UserInputError

SUBJECTS = ('run', 'bags', 'model', 'evaluate', 'learn')   # modules of this folder, in `uav-mec --help` order


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
    for name, (help_text, run, arguments) in SUBCOMMANDS.items():
        # argparse %-formats help (not descriptions): a literal '95%' must not read as a format
        sub = subparsers.add_parser(name, help=help_text.replace('%', '%%'), description=help_text)
        if arguments is not None:
            arguments(sub)
        sub.set_defaults(_run=run)
    return parser


def load_subcommands() -> None:
    """Each subject's module registers its jobs (their heavy imports stay inside the jobs)."""
    for subject in SUBJECTS:
        importlib.import_module(f'uav_mec_nodes.cli.{subject}')


def main(argv: Optional[List[str]] = None) -> int:
    load_subcommands()
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
