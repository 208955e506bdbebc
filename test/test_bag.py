"""BagWriter's checkpoints survive a SIGKILL of the writing process; recover() finishes an mcap file."""
import subprocess
import sys
import textwrap

import pytest

from uav_mec_nodes.bag import read_bag, recover
from uav_mec_nodes.errors import UserInputError

WRITER = textwrap.dedent('''
    import os, signal, sys
    from uav_mec_nodes.bag import BagWriter
    from uav_mec_nodes.contract import QosSpec
    bag = BagWriter(sys.argv[1], sys.argv[2])
    conn = bag.add_topic('/numbers', 'std_msgs/msg/UInt32', QosSpec(depth=16))
    cls = bag.store.types['std_msgs/msg/UInt32']
    for n in range(int(sys.argv[3]) + int(sys.argv[4])):
        bag.write(conn, 1000 + n, bag.serialize(cls(data=n), 'std_msgs/msg/UInt32'))
        if n + 1 == int(sys.argv[3]):
            bag.checkpoint()   # as the recorder does after every slot
    if sys.argv[5] == 'kill':
        os.kill(os.getpid(), signal.SIGKILL)
    bag.close()
''')


def _write(tmp_path, storage, checkpointed, more, end):
    path = tmp_path / 'bag'
    proc = subprocess.run([sys.executable, '-c', WRITER, str(path), storage, str(checkpointed), str(more), end])
    return path, proc.returncode


@pytest.mark.parametrize('storage', ['sqlite3', 'mcap'])
def test_a_killed_writer_keeps_everything_up_to_its_last_checkpoint(tmp_path, storage):
    path, code = _write(tmp_path, storage, 300, 50, 'kill')
    assert code == -9
    if storage == 'mcap':
        with pytest.raises(UserInputError, match='uav-mec recover'):
            read_bag(path)
        assert recover(path).endswith('300 messages readable')
    else:   # readable as it stands
        assert recover(path).endswith('300 messages readable')
    assert [m.data for m in read_bag(path)['/numbers']] == list(range(300))
    assert recover(path).startswith('nothing to do')   # recovering twice changes nothing


@pytest.mark.parametrize('storage', ['sqlite3', 'mcap'])
def test_a_closed_bag_holds_everything_and_its_qos(tmp_path, storage):
    path, code = _write(tmp_path, storage, 10, 5, 'close')
    assert code == 0
    assert [m.data for m in read_bag(path)['/numbers']] == list(range(15))
    from uav_mec_nodes.bag import offered_qos
    (qos,) = offered_qos(path)['/numbers']
    assert qos.depth == 16 and qos.reliability.name == 'RELIABLE'


def test_recover_rebuilds_a_lost_metadata_file(tmp_path):
    path, _ = _write(tmp_path, 'sqlite3', 20, 0, 'kill')
    (path / 'metadata.yaml').unlink()
    with pytest.raises(UserInputError, match='uav-mec recover'):
        read_bag(path)
    assert 'metadata.yaml rebuilt' in recover(path)
    assert len(read_bag(path)['/numbers']) == 20
