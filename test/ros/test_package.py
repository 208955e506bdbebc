"""package.xml is valid for catkin_pkg and every dependency it names is present."""
import importlib
import sys
from pathlib import Path

import pytest
from catkin_pkg.package import parse_package

REPO_ROOT = Path(__file__).resolve().parents[2]

# rosdep keys of Python packages -> the module they provide
PYTHON_KEYS = {
    'python3-numpy': 'numpy', 'python3-scipy': 'scipy', 'python3-yaml': 'yaml',
    'python3-transforms3d': 'transforms3d', 'python3-pytorch-pip': 'torch',
    'python3-gymnasium-pip': 'gymnasium', 'python3-rosbags-pip': 'rosbags',
    'python3-matplotlib': 'matplotlib', 'python3-tqdm': 'tqdm',
    'python3-pytest': 'pytest', 'python3-hypothesis': 'hypothesis',
}

# needed only by launch/sim.launch.py under a full ROS 2 install; no wheels of them exist here, and
# the package's own launcher (uav_mec_nodes.graph.launcher) starts the same graph without them
FULL_INSTALL_ONLY = {'launch', 'launch_ros'}


@pytest.fixture(scope='module')
def package():
    return parse_package(str(REPO_ROOT / 'package.xml'))


def test_package_xml_is_valid(package):
    package.validate()  # raises InvalidPackage on any error, bad e-mails included
    assert package.name == 'uav_mec_nodes'
    assert package.package_format == 3
    assert package.get_build_type() == 'ament_cmake'
    import uav_mec_nodes
    assert package.version == uav_mec_nodes.__version__


def test_every_dependency_is_installed(package, monkeypatch):
    from ament_index_python.packages import get_package_share_directory
    monkeypatch.setenv('AMENT_PREFIX_PATH', sys.prefix)
    deps = {d.name for d in package.buildtool_depends + package.build_depends
            + package.exec_depends + package.test_depends}
    assert deps, 'package.xml names no dependency'
    missing = []
    assert FULL_INSTALL_ONLY <= deps
    for name in sorted(deps - FULL_INSTALL_ONLY):
        if name.startswith('python3-'):
            assert name in PYTHON_KEYS, f'no import name known for rosdep key {name}'
            try:
                importlib.import_module(PYTHON_KEYS[name])
            except ImportError:
                missing.append(name)
        else:
            try:
                get_package_share_directory(name)
            except Exception:  # PackageNotFoundError
                missing.append(name)
    assert not missing, f'named in package.xml but not installed: {missing}'
