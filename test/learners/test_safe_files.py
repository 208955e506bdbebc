"""Policy and resume files from someone else: read weights-only, never unpickled; a hostile one is said in one line."""
import os

import pytest
import torch
from helpers import uav_mec

from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.policies.files import load_policy
from uav_mec_nodes.policies import shipped_policy_path


class Payload:
    """What a crafted .pt runs when unpickled: it creates a file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


def _crafted(path, marker, **extra):
    torch.save(dict(format='uav_mec_nodes.policy/1', actor=Payload(marker), **extra), path)
    return path


def test_the_crafted_file_is_hostile(tmp_path):
    """The test's own check: unpickled the old way, the file does run its payload."""
    marker = tmp_path / 'ran'
    torch.load(_crafted(tmp_path / 'evil.pt', marker), weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize('command', ['evaluate', 'run'])
def test_a_crafted_policy_file_does_not_run(tmp_path, command):
    marker = tmp_path / 'ran'
    evil = _crafted(tmp_path / 'evil.pt', marker)
    args = ['--episodes', '1'] if command == 'evaluate' else ['--out', tmp_path / 'out']
    out = uav_mec(command, '--policy', evil, *args, check=False)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert 'holds Python objects other than tensors and plain data' in out.stderr
    assert not marker.exists()


def test_a_crafted_resume_file_does_not_run(tmp_path):
    marker = tmp_path / 'ran'
    run = tmp_path / 'run'
    run.mkdir()
    torch.save(dict(learner={}, agent=Payload(marker)), run / 'resume.pt')
    out = uav_mec('train', '--steps', '10', '--out', run, '--resume', check=False)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert '--resume' in out.stderr and 'not loaded' in out.stderr
    assert not marker.exists()


def test_policy_files_that_do_not_fit_are_refused_without_building_them(tmp_path):
    state = torch.load(shipped_policy_path(), weights_only=True)
    cases = {
        'wide': (dict(learner=dict(state['learner'], hidden=[10 ** 9, 256])), 'hidden layer sizes'),
        'shapes': (dict(obs_dim=state['obs_dim'] + 1), 'do not fit a network'),
        'format': (dict(format='something/else'), 'format'),
        'scenario': (dict(scenario=dict(state['scenario'], scenario={'num_users': -1})), 'scenario.num_users'),
        'nan': (dict(actor={k: v * float('nan') for k, v in state['actor'].items()}), 'NaN or inf'),
    }
    for name, (change, needle) in cases.items():
        path = tmp_path / f'{name}.pt'
        torch.save(dict(state, **change), path)
        with pytest.raises(UserInputError, match=needle):
            load_policy(path)
    assert load_policy(shipped_policy_path())['obs_dim'] == state['obs_dim']   # ours still loads
