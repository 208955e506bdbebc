"""Bad flags, files and paths: exit status 2 and one line naming the field and what is allowed, never a traceback."""
import json

import pytest
from helpers import REPO_ROOT, uav_mec

from uav_mec_nodes.cli import main

EXAMPLE = REPO_ROOT / 'examples' / 'slot_failure.json'


def _one_line_error(capsys, argv, *needles):
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and 'Traceback' not in err, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.mark.parametrize('flags,needles', [
    (['--users', '0'], ['--users: must be in [1, 65535], got 0']),      # not silently I=10
    (['--users', '-5'], ['--users: must be in [1, 65535]']),
    (['--users', '70000'], ['--users: must be in [1, 65535]']),         # I must fit the uint16 message fields
    (['--users', 'x'], ['--users', "invalid int value: 'x'"]),
    (['--uavs', '0'], ['--uavs: must be in [1, 1000]']),
    (['--seed', '-1'], ['--seed: must be in [0, 2147483647]']),
    (['--max-failures', '5000'], ['--max-failures: must be in [0, 1000]']),
    (['--max-failures', '5'], ['failures.max_failures', 'scenario.num_uavs=3']),
    (['--missing-uavs', 'x'], ['--missing-uavs', 'UAV ids separated by commas']),
    (['--missing-uavs', '7'], ['--missing-uavs: UAV ids must be in [0, 2]']),
    (['--domain-id', '999'], ['--domain-id: must be in [0, 232]']),
    (['--domain-id', 'any'], ['--domain-id: must be auto or an integer']),
    (['--discovery', 'wan'], ["argument --discovery: invalid choice: 'wan' (choose from 'localhost', 'subnet')"]),
    (['--timeout', '-3'], ['--timeout: must be in [0, 10000000], got -3.0']),
    (['--rtf', '-1'], ['--rtf: must be in [0, 1000]']),
    (['--rtf', 'nan'], ['--rtf: must be in [0, 1000]']),
    (['--storage', 'zip'], ["argument --storage: invalid choice: 'zip' (choose from 'sqlite3', 'mcap')"]),
    (['--failure-mode', 'explode'], ['--failure-mode', 'announce']),
    (['--failure-schedule', '1-4'], ['failure_schedule', 'uav:slot']),
    (['--policy', 'no-such-policy'], ['no-such-policy']),
    (['--config', 'missing.yaml'], ['scenario file not found: missing.yaml']),
    (['--plant', 'gazebo'], ['--plant', "invalid choice: 'gazebo'"]),
    (['--plant', 'px4', '--rtf', '0'], ['--rtf: plant px4 flies in real time, so --plant px4 needs 1']),
    (['--plant', 'px4', '--px4-homes', '1,2'], ['--px4-homes: expected 3 points']),
    (['--failure-mode', 'px4_motor'], ['--failure-mode px4_motor: only with --plant px4']),
    (['--safety', 'maybe'], ['--safety', "invalid choice: 'maybe'"]),
])
def test_run_bad_flags(capsys, tmp_path, flags, needles):
    _one_line_error(capsys, ['run', '--out', tmp_path, *flags], *needles)
    assert not (tmp_path / 'bag').exists()   # nothing was started


def test_run_unwritable_out(capsys, tmp_path):
    (tmp_path / 'file').write_text('')
    _one_line_error(capsys, ['run', '--out', tmp_path / 'file' / 'run'], '--out: cannot write to')


@pytest.mark.parametrize('argv,needles', [
    (['evaluate', '--policy', 'offload-all', '--seed', '-1'], ['--seed: must be in [0, 2147483647]']),
    (['evaluate', '--policy', 'offload-all', '--episodes', '0'], ['--episodes: must be >= 1']),
    (['evaluate', '--policy', 'offload-all', '--users', '0'], ['--users: must be in [1, 65535]']),
    (['train', '--steps', '10', '--seed', '-2', '--out', 'x'], ['--seed: must be in [0, 2147483647]']),
    (['report', str(REPO_ROOT), '--seed', '-1'], ['metadata.yaml']),
    (['replay', str(REPO_ROOT)], ['not a rosbag2 folder']),
    (['recover', str(EXAMPLE)], ['is not a bag folder']),
    (['slot', 'missing.json'], ['missing.json: no such file']),
    (['nosuchcommand'], ['invalid choice']),
    (['gap', '--policies', 'greedy', '--points', '1'], ['--points: must be in [2, 1000], got 1']),
    (['gap', '--policies', 'greedy', '--episodes', '0'], ['--episodes: must be in [1, 10000], got 0']),
    (['gap', '--policies', 'no-such-policy'], ['no-such-policy']),
    (['gap', '--policies', 'greedy', '--csv', str(EXAMPLE / 'x.csv')], ['--csv: cannot write to']),
    (['compare', '--policies', 'greedy', '--episodes', '1'], ['--episodes: must be >= 2']),
])
def test_other_commands_bad_input(capsys, argv, needles):
    _one_line_error(capsys, argv, *needles)


def _slot_file(tmp_path, change) -> str:
    spec = json.loads(EXAMPLE.read_text())
    change(spec)
    path = tmp_path / 'slot.json'
    path.write_text(json.dumps(spec))
    return str(path)


@pytest.mark.parametrize('change,needles', [
    (lambda s: s.__setitem__('fading', [[-1.0] * 3] * 3), ['fading: small-scale fading powers must be >= 0']),
    (lambda s: s['uavs'][0].__setitem__('velocity', [1e6, 0, 0]), ['uavs[0].velocity: speed must be in [0, v_max=20]']),
    (lambda s: s['users'][0].__setitem__('position', [-10, 5]), ['users[0].position: must be inside the area']),
    (lambda s: s['uavs'][0].__setitem__('alive_start', False) or s['uavs'][0].__setitem__('alive_end', False),
     ["decisions[0].serving_uav: UAV 0 is down at the slot's start"]),       # SPEC: invalid input (28h)
    (lambda s: s['decisions'][0].__setitem__('partition_layer', 1e300), ['decisions[0].partition_layer']),
    (lambda s: s['users'].__setitem__(0, 5), ['users[0]: expected an object']),
    (lambda s: s.__setitem__('config', [1, 2]), ['config: expected an object']),
])
def test_malformed_slot_files(capsys, tmp_path, change, needles):
    _one_line_error(capsys, ['slot', _slot_file(tmp_path, change)], *needles)


def test_slot_file_that_is_not_an_object(capsys, tmp_path):
    path = tmp_path / 'list.json'
    path.write_text('[1, 2, 3]')
    _one_line_error(capsys, ['slot', path], 'expected a JSON object')


def test_the_installed_command_says_it_in_one_line_too(tmp_path):
    out = uav_mec('run', '--users', '0', '--out', tmp_path, check=False)
    assert out.returncode == 2 and out.stderr == 'uav-mec run: error: --users: must be in [1, 65535], got 0\n'
    out = uav_mec('run', '--users', 'x', check=False)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
