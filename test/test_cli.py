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
