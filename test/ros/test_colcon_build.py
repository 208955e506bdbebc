"""The package builds with colcon in a throwaway workspace, as in a normal ROS 2 install."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TRACKED = ['package.xml', 'CMakeLists.txt', 'setup.py', 'msg', 'uav_mec_nodes', 'launch',
           'config', 'scripts']


@pytest.mark.slow
def test_colcon_build_and_import(tmp_path):
    src = tmp_path / 'ws' / 'src' / 'uav_mec_nodes'
    src.mkdir(parents=True)
    for name in TRACKED:
        path = REPO_ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        elif path.exists():
            shutil.copy2(path, src / name)
    venv = Path(sys.prefix)
    env = os.environ.copy()
    env.update(AMENT_PREFIX_PATH=str(venv), CMAKE_PREFIX_PATH=str(venv),
               PATH=f'{venv / "bin"}:{env["PATH"]}', VIRTUAL_ENV=str(venv))
    ws = tmp_path / 'ws'
    build = subprocess.run(
        [str(venv / 'bin' / 'colcon'), 'build', '--merge-install', '--event-handlers', 'console_direct-',
         '--cmake-args', f'-DPython3_EXECUTABLE={sys.executable}', '-DBUILD_TESTING=OFF'],
        cwd=ws, env=env, capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    install = ws / 'install'
    site = install / 'lib' / f'python{sys.version_info.major}.{sys.version_info.minor}' / 'site-packages'
    assert (site / 'uav_mec_nodes' / 'msg' / '__init__.py').exists()
    for room in ('cli/__init__.py', 'graph/contract.py', 'bags/io.py', 'experiments/episode.py', 'nodes/planner.py'):
        assert (site / 'uav_mec_nodes' / room).exists(), room   # every room, not only the top level
    assert (install / 'share' / 'uav_mec_nodes' / 'package.xml').exists()
    assert (install / 'share' / 'ament_index' / 'resource_index' / 'packages' / 'uav_mec_nodes').exists()
    assert (install / 'share' / 'uav_mec_nodes' / 'config').is_dir()
    # The workspace's copy, not the .venv's, is what a sourced workspace imports.
    env = os.environ.copy()
    env['PYTHONPATH'] = str(site)
    env['LD_LIBRARY_PATH'] = f'{install / "lib"}:{env.get("LD_LIBRARY_PATH", "")}'
    env.pop('_ROS_WHEELS_BOOTSTRAP_COMPLETE', None)
    probe = subprocess.run(
        [sys.executable, '-c',
         'import uav_mec_nodes, uav_mec_nodes.msg as m; print(uav_mec_nodes.__file__); '
         'p = m.Plan(); p.decisions = [m.OffloadDecision(partition_layer=4)]; '
         'from rclpy.serialization import serialize_message, deserialize_message; '
         'print(deserialize_message(serialize_message(p), m.Plan).decisions[0].partition_layer)'],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    where, layer = probe.stdout.split()
    assert Path(where).is_relative_to(site)
    assert layer == '4'
