"""The `uav-mec` entry point installed into the environment."""
import subprocess
import sys
from pathlib import Path

import uav_mec_nodes

UAV_MEC = str(Path(sys.prefix) / 'bin' / 'uav-mec')


def test_version():
    out = subprocess.run([UAV_MEC, '--version'], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert out.stdout.strip() == f'uav-mec {uav_mec_nodes.__version__}'


def test_help_lists_subcommands():
    out = subprocess.run([UAV_MEC, '--help'], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for name in ('run', 'config', 'evaluate', 'slot', 'profiles'):
        assert name in out.stdout
    for name in ('compare', 'gap', 'select'):
        assert name in out.stdout


def test_every_subcommands_help_renders(capsys):
    # argparse %-formats help strings: a stray '%' in one breaks `--help` of all
    from uav_mec_nodes import cli
    cli.load_subcommands()
    for name in cli.SUBCOMMANDS:
        assert cli.main([name, '--help']) == 0, name
        assert name in capsys.readouterr().out


HEAVY = ('torch', 'scipy.optimize', 'numba', 'matplotlib', 'gymnasium', 'rclpy')


def test_parsing_the_command_line_imports_nothing_heavy(tmp_path):
    # every job's flags are built before any job runs: a module they read that imports torch (seconds) would
    # make every command, `--help` included, wait for it (a policy file's paths and the optimum's defaults did)
    code = ('import sys\nfrom uav_mec_nodes import cli\ncli.load_subcommands()\ncli.build_parser()\n'
            f'print(",".join(m for m in {HEAVY!r} if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)   # the installed package, not the source tree
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ''


def test_node_modules_import_nothing_heavy(tmp_path):
    # the nodes that evaluate no slot and run no network start in a fraction of a second (issue 21, item 5)
    from uav_mec_nodes.graph.launcher import NODE_MODULES
    code = ('import importlib, sys\n'
            f'for m in {sorted(NODE_MODULES)!r}:\n    importlib.import_module("uav_mec_nodes.nodes." + m)\n'
            f'print(",".join(m for m in {HEAVY[:5]!r} if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)   # the installed package, not the source tree
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ''
