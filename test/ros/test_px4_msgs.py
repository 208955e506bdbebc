"""px4_msgs: PX4's own message names and fields (release/1.16), built by the setup step like msg/."""
from pathlib import Path

import pytest
from ament_index_python.packages import get_package_share_directory

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / 'shared' / 'px4'   # the field lists the bridge must meet (beside the checkout)
NAMES = ['OffboardControlMode', 'TrajectorySetpoint', 'VehicleCommand', 'VehicleCommandAck',
         'VehicleLocalPosition', 'VehicleOdometry', 'VehicleStatus']


def _fields(text: str):
    """(type, name) of each field, constants left out, in order."""
    out = []
    for line in text.splitlines():
        line = line.split('#')[0].strip()
        if line and '=' not in line:
            out.append(tuple(line.split()[:2]))
    return out


@pytest.mark.parametrize('name', NAMES)
def test_each_message_is_pxs_own(name, monkeypatch):
    import sys

    import px4_msgs.msg as px4
    monkeypatch.setenv('AMENT_PREFIX_PATH', sys.prefix)   # the ament index of the .venv install
    ours = (REPO_ROOT / 'px4_msgs' / 'msg' / f'{name}.msg').read_text()
    installed = Path(get_package_share_directory('px4_msgs')) / 'msg' / f'{name}.msg'
    assert installed.read_text() == ours
    if SHARED.is_dir():   # the field lists of ../shared/px4: the same, line for line
        assert ours == (SHARED / f'{name}.fields').read_text()
    cls = getattr(px4, name)
    generated = list(cls.get_fields_and_field_types())
    assert generated == [field for _, field in _fields(ours)]   # names and order, as DDS will see them
    assert len(generated) > 0 and cls.__module__.startswith('px4_msgs.msg')


def test_the_constants_the_bridge_relies_on():
    from px4_msgs.msg import VehicleCommand, VehicleCommandAck, VehicleStatus
    assert (VehicleCommand.VEHICLE_CMD_DO_SET_MODE, VehicleCommand.VEHICLE_CMD_COMPONENT_ARM_DISARM,
            VehicleCommand.VEHICLE_CMD_INJECT_FAILURE) == (176, 400, 420)
    assert VehicleCommandAck.VEHICLE_CMD_RESULT_ACCEPTED == 0
    assert (VehicleStatus.NAVIGATION_STATE_OFFBOARD, VehicleStatus.ARMING_STATE_ARMED) == (14, 2)
    assert VehicleStatus.MESSAGE_VERSION == 1   # topic vehicle_status_v1
