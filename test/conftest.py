"""Shared fixtures. Tests run against the package installed in .venv (see README)."""
import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))   # `import helpers` from any test folder


def _check_installed_copy():
    import uav_mec_nodes
    where = Path(uav_mec_nodes.__file__).resolve()
    if REPO_ROOT / 'uav_mec_nodes' in where.parents:
        # The source tree shadows the installed package, which alone holds the
        # generated messages: say so instead of failing on `import ...msg`.
        raise pytest.UsageError(
            'uav_mec_nodes is imported from the source tree; run the tests with '
            '`make test` (or .venv/bin/pytest), not `python -m pytest`')


_check_installed_copy()


@pytest.fixture
def ros_domain_id(monkeypatch):
    """A DDS domain of the test's own, held like a run's (no run of ours can take it meanwhile)."""
    from uav_mec_nodes.graph.isolation import acquire_domain
    lease = acquire_domain(None, f'pytest-{os.getpid()}')
    monkeypatch.setenv('ROS_DOMAIN_ID', str(lease.domain_id))
    monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    yield str(lease.domain_id)
    lease.close()


@pytest.fixture
def context(ros_domain_id):
    """An rclpy context of the test's own, on the test's own domain."""
    import rclpy
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.try_shutdown(context=ctx)


@pytest.fixture
def venv_python():
    return sys.executable
