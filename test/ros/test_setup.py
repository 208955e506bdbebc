"""The setup step is idempotent: a second run reinstalls and recompiles nothing."""
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_second_setup_run_does_no_reinstall():
    venv = Path(__import__('sys').prefix)
    stamp = venv / '.uav_mec_requirements'
    assert stamp.exists(), 'the setup stamp is missing: was the suite started by `make test`?'
    before = stamp.stat().st_mtime_ns
    run = subprocess.run(['bash', str(REPO_ROOT / 'scripts' / 'bootstrap.sh')],
                         capture_output=True, text=True, timeout=300,
                         env={'PATH': '/usr/bin:/bin', 'UAV_MEC_VENV': str(venv)})
    assert run.returncode == 0, run.stdout + run.stderr
    assert 'pip skipped' in run.stdout
    assert 'Collecting' not in run.stdout + run.stderr
    assert ' 0 object(s) compiled' in run.stdout
    assert stamp.stat().st_mtime_ns == before
