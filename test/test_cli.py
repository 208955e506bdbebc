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
