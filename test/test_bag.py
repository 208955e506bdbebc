"""BagWriter's checkpoints survive a SIGKILL of the writing process; recover() finishes an mcap file."""
import subprocess
import sys
import textwrap

import pytest

from uav_mec_nodes.bags.io import read_bag, recover
from uav_mec_nodes.errors import UserInputError

WRITER = textwrap.dedent('''
    import os, signal, sys
    from uav_mec_nodes.bags.io import BagWriter
    from uav_mec_nodes.graph.contract import QosSpec
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
    from uav_mec_nodes.bags.io import offered_qos
    (qos,) = offered_qos(path)['/numbers']
    assert qos.depth == 16 and qos.reliability.name == 'RELIABLE'


def test_recover_rebuilds_a_lost_metadata_file(tmp_path):
    path, _ = _write(tmp_path, 'sqlite3', 20, 0, 'kill')
    (path / 'metadata.yaml').unlink()
    with pytest.raises(UserInputError, match='uav-mec recover'):
        read_bag(path)
    assert 'metadata.yaml rebuilt' in recover(path)
    assert len(read_bag(path)['/numbers']) == 20


def test_a_bag_of_an_older_version_reads_with_its_own_definitions(tmp_path):
    """Messages recorded before run_id existed: read as they were written, and summarised."""
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    from uav_mec_nodes.bags.io import msg_definitions_dir
    from uav_mec_nodes.bags.report import summarize
    text = (msg_definitions_dir() / 'SlotMetrics.msg').read_text()
    old = '\n'.join(line for line in text.splitlines() if not line.startswith('string run_id'))
    store = get_typestore(Stores.ROS2_KILTED)
    store.register(get_types_from_msg(old, 'uav_mec_nodes/msg/SlotMetrics'))
    cls = store.types['uav_mec_nodes/msg/SlotMetrics']
    fields = {name: 0 for name in cls.__dataclass_fields__ if name not in ('header', '__msgtype__')}
    header = store.types['std_msgs/msg/Header'](stamp=store.types['builtin_interfaces/msg/Time'](sec=0, nanosec=0),
                                                 frame_id='')
    with Writer(tmp_path / 'old', version=9) as writer:
        conn = writer.add_connection('/slot_metrics', 'uav_mec_nodes/msg/SlotMetrics', typestore=store)
        for slot in range(3):
            msg = cls(header=header, **dict(fields, slot=slot, e_tot=0.5 + slot))
            writer.write(conn, slot + 1, bytes(store.serialize_cdr(msg, 'uav_mec_nodes/msg/SlotMetrics')))
    bag = read_bag(tmp_path / 'old')
    assert [m.e_tot for m in bag['/slot_metrics']] == [0.5, 1.5, 2.5]
    assert not hasattr(bag['/slot_metrics'][0], 'run_id')
    summary = summarize(bag, 'old', None)
    assert summary['slots'] == 3 and summary['e_tot'] == 4.5


def test_metadata_of_every_checkpoint_is_one_yaml_dump_of_the_whole(tmp_path):
    # the recorder rewrites metadata.yaml after every slot from each topic's entry kept as text: the file is
    # what one dump of the whole gives, checkpoint after checkpoint, with the topics' counts of the moment
    import yaml
    from rosbags.rosbag2.metadata import dump_qos_v9

    from uav_mec_nodes.bags.io import BagWriter
    from uav_mec_nodes.graph.contract import QosSpec
    bag = BagWriter(tmp_path / 'bag', 'sqlite3')
    conns = [bag.add_topic('/numbers', 'std_msgs/msg/UInt32', QosSpec(depth=16)),
             bag.add_topic('/more', 'std_msgs/msg/UInt32', QosSpec(depth=1, reliability='best_effort')),
             bag.add_topic('/none', 'std_msgs/msg/UInt32')]
    cls = bag.store.types['std_msgs/msg/UInt32']
    for n in range(7):
        bag.write(conns[n % 2], 1000 + 10 * n, bag.serialize(cls(data=n), 'std_msgs/msg/UInt32'))
        bag.checkpoint()
        counts = [n // 2 + 1, (n + 1) // 2, 0]
        info = {'version': 9, 'storage_identifier': 'sqlite3', 'relative_file_paths': ['bag.db3'],
                'duration': {'nanoseconds': 10 * n}, 'starting_time': {'nanoseconds_since_epoch': 1000},
                'message_count': n + 1,
                'topics_with_message_count': [
                    {'topic_metadata': {'name': c.topic, 'type': c.msgtype, 'serialization_format': 'cdr',
                                        'offered_qos_profiles': dump_qos_v9(c.ext.offered_qos_profiles),
                                        'type_description_hash': c.digest}, 'message_count': k}
                    for c, k in zip(conns, counts)],
                'compression_format': '', 'compression_mode': '',
                'files': [{'path': 'bag.db3', 'starting_time': {'nanoseconds_since_epoch': 1000},
                           'duration': {'nanoseconds': 10 * n}, 'message_count': n + 1}],
                'custom_data': None, 'ros_distro': 'rosbags'}
        whole = yaml.dump({'rosbag2_bagfile_information': info}, Dumper=yaml.SafeDumper, default_flow_style=False,
                          sort_keys=False)
        assert (tmp_path / 'bag' / 'metadata.yaml').read_text() == whole
    bag.close()
    from uav_mec_nodes.bags.io import topic_counts
    assert topic_counts(tmp_path / 'bag') == {'/numbers': 4, '/more': 3, '/none': 0}


def write_slot(recording, slot, skip=(), failures=()):
    """Every message the graph sends for a slot (contract.slot_messages, then its MOVE) but those of `skip`
    ('MOVE' too); the injector's report lists `failures` (uav ids); the bytes are made up."""
    from types import SimpleNamespace as NS

    from uav_mec_nodes.graph.contract import PLANT_MOVE, PLANT_START, TOPIC_FAILURE_REPORT, TOPIC_PLANT_COMMAND
    for topic, n in recording.ledger.expected.items():
        for _ in range(n - skip.count(topic)):
            events = [NS(uav_id=j, slot=slot) for j in failures] if topic == TOPIC_FAILURE_REPORT else []
            recording.write(topic, 1, b'\0' * 8, NS(slot=slot, kind=PLANT_START, failures=events))
    if 'MOVE' not in skip:
        recording.write(TOPIC_PLANT_COMMAND, 1, b'\0' * 8, NS(slot=slot, kind=PLANT_MOVE))


def test_a_slot_is_recorded_once_the_bag_holds_every_message_of_it(tmp_path):
    """A reader DDS matched late (CI: the recorder got no /plan for the first 7 slots, 60 /slot_metrics, exit
    0): the slot is not recorded, so the world waits, until the bag holds the message; the same for a failure
    event that the slot's report lists and the MOVE of the slot before; slots become whole in order."""
    from types import SimpleNamespace as NS

    from uav_mec_nodes.bags import recording as rec
    from uav_mec_nodes.graph.contract import (PLANT_MOVE, TOPIC_FAILURES, TOPIC_PLAN, recorded_topics,
                                              slot_messages)
    r = rec.Recording('run-a', tmp_path / 'bag', 'sqlite3', recorded_topics(2, 2), 4, slot_messages(2, 2, False),
                      slot_s=0.5)
    write_slot(r, 0, skip=(TOPIC_PLAN,))
    write_slot(r, 1, failures=(1,))
    assert r.slots_recorded == 0 and r.ledger.missing(0) == ['/plan (0 of 1)']
    assert r.ledger.started(0) and not r.ledger.started(2)
    assert r.write(TOPIC_PLAN, 1, b'\0' * 8, NS(slot=0))          # slot 0 whole; slot 1 waits for its event
    assert not r.ledger.started(0)
    assert r.slots_recorded == 1 and r.ledger.missing(1) == ['/failures (UAV 1 in slot 1)']
    r.write(TOPIC_FAILURES, 1, b'\0' * 8, NS(uav_id=0, slot=1))   # another UAV's event: not the one listed
    assert r.slots_recorded == 1
    assert r.write(TOPIC_FAILURES, 1, b'\0' * 8, NS(uav_id=1, slot=1))
    write_slot(r, 3, skip=('MOVE',))
    write_slot(r, 2, skip=('/world/uav_states', 'MOVE'))       # one of two UAV states: slot 3 waits too
    assert r.slots_recorded == 2 and r.done_at is None and r.ledger.missing(2) == ['/world/uav_states (1 of 2)']
    r.write('/world/uav_states', 1, b'\0' * 8, NS(slot=1))      # another slot's: no use
    assert r.slots_recorded == 2
    r.write('/world/uav_states', 1, b'\0' * 8, NS(slot=2))      # slot 3 needs the MOVE of slot 2
    assert r.slots_recorded == 3 and r.ledger.missing(3) == ['the MOVE of slot 2']
    r.write('/plant/command', 1, b'\0' * 8, NS(slot=2, kind=PLANT_MOVE))
    assert r.slots_recorded == 4 and r.done_at is None           # every slot whole; the episode's last MOVE not in
    r.write('/plant/command', 1, b'\0' * 8, NS(slot=3, kind=PLANT_MOVE))
    assert r.done_at is not None
    assert slot_messages(2, 2, True)['/plant/report'] == 1 and '/plant/report' not in r.ledger.expected
    r.close()


def test_a_recording_is_done_on_the_final_clock_or_after_its_drain_time(tmp_path):
    """The recorder ends as soon as the episode is whole: its last slot, its last MOVE and the sequencer's
    final /clock (stamped num_slots x slot_s); a /clock of an earlier slot does not end it, and without the
    final one it ends DRAIN_S after the rest."""
    from types import SimpleNamespace as NS

    from uav_mec_nodes.bags import recording as rec
    from uav_mec_nodes.graph.contract import TOPIC_CLOCK, recorded_topics, slot_messages

    def clock(seconds):
        return NS(clock=NS(sec=int(seconds), nanosec=int(round(seconds % 1 * 1e9))))

    def episode(name):
        r = rec.Recording('run-a', tmp_path / name, 'sqlite3', recorded_topics(1, 1), 2,
                          slot_messages(1, 1, False), slot_s=0.5)
        for slot in range(2):
            r.write(TOPIC_CLOCK, 1, b'\0' * 8, clock(slot * 0.5))
            write_slot(r, slot)
        assert r.slots_recorded == 2 and r.done_at is not None and not r.done
        return r
    r = episode('clock')
    r.write(TOPIC_CLOCK, 1, b'\0' * 8, clock(0.5))   # a repeated earlier stamp
    assert not r.done
    r.write(TOPIC_CLOCK, 1, b'\0' * 8, clock(1.0))   # 2 slots x 0.5 s: the end
    assert r.done
    r.close()
    r = episode('no-clock')
    r.done_at -= rec.DRAIN_S + 0.01                  # as if DRAIN_S had passed
    assert r.done
    r.close()
