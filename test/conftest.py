"""Shared fixtures. Tests run against the package installed in .venv (see README)."""
import os
import random
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


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
    """A DDS domain of the test's own, so concurrent runs do not cross-talk."""
    domain = str(random.Random(os.getpid()).randint(1, 100))
    monkeypatch.setenv('ROS_DOMAIN_ID', domain)
    return domain


@pytest.fixture
def venv_python():
    return sys.executable
