"""Bags of a run with rosbags (no ROS needed): reading, crash-safe writing, recovering.

Writing: `BagWriter` wraps rosbags' rosbag2 writer. `checkpoint()` (the
recorder calls it after every slot) makes everything written so far survive a
SIGKILL: sqlite3 bags commit (write-ahead log, checkpointed into the .db3) and
metadata.yaml is rewritten, so the bag is readable as it stands; mcap bags close
their chunk and flush it, and `recover()` (`uav-mec recover BAG`) then adds the
summary-less end an interrupted mcap file lacks. Each topic's offered QoS
profile is written to the metadata, so `ros2 bag play` replays with the graph's QoS.
"""
from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional

from uav_mec_nodes.graph.contract import QosSpec
from uav_mec_nodes.errors import UserInputError

MCAP_MAGIC = b'\x89MCAP0\r\n'


# --- message definitions ----------------------------------------------------------------------
def msg_definitions_dir(package: str = 'uav_mec_nodes') -> Path:
    """share/<package>/msg of the install (ament index), where rosidl put the .msg files."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
        return Path(get_package_share_directory(package)) / 'msg'
    except (ImportError, PackageNotFoundError, OSError):  # no ament index: the venv prefix
        return Path(sys.prefix) / 'share' / package / 'msg'


# packages whose messages a bag of ours can hold beyond ROS 2's own: ours, and PX4's (plant px4)
BAG_PACKAGES = ('uav_mec_nodes', 'px4_msgs')


def typestore():
    """rosbags typestore of ROS 2 Kilted plus this package's and PX4's messages (their installed .msg files)."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore
    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for package in BAG_PACKAGES:
        for path in sorted(msg_definitions_dir(package).glob('*.msg')):
            types.update(get_types_from_msg(path.read_text(), f'{package}/msg/{path.stem}'))
    store.register(types)
    return store


# --- reading --------------------------------------------------------------------------------------
def _check_readable(path: Path) -> None:
    if not (path / 'metadata.yaml').exists():
        hint = ''
        if path.is_dir() and (any(path.glob('*.mcap')) or any(path.glob('*.db3'))):
            hint = f'; its recorder was stopped before writing it: run `uav-mec recover {path}`'
        raise UserInputError(f'bag: {path} is not a rosbag2 folder (no metadata.yaml){hint}')
    for mcap in path.glob('*.mcap'):
        with mcap.open('rb') as f:
            f.seek(max(mcap.stat().st_size - 8, 0))
            if mcap.stat().st_size <= len(MCAP_MAGIC) or f.read(8) != MCAP_MAGIC:
                raise UserInputError(f'bag: {mcap} is unfinished (its recorder was killed); '
                                     f'run `uav-mec recover {path}` first')


def bag_typestore(connections):
    """The types a bag was written with (its own definitions), so a bag of an older version reads right.

    Falls back to the installed definitions for a bag that stores none (or ones rosbags cannot parse).
    """
    from rosbags.typesys import Stores, TypesysError, get_types_from_msg, get_typestore
    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    try:
        for conn in connections:
            if conn.msgtype not in store.types and conn.msgdef.data:
                types.update(get_types_from_msg(conn.msgdef.data, conn.msgtype))
        store.register(types)
    except (TypesysError, ValueError):
        return typestore()
    if any(c.msgtype not in store.types for c in connections):
        return typestore()
    return store


def read_bag(path) -> Dict[str, List]:
    """{topic: [message, ...]} in the bag's own message definitions; raises UserInputError if unreadable."""
    from rosbags.rosbag2 import Reader
    path = Path(path)
    _check_readable(path)
    out: Dict[str, List] = defaultdict(list)
    try:
        with Reader(path) as reader:
            store = bag_typestore(reader.connections)
            for conn, _, raw in reader.messages():
                out[conn.topic].append(store.deserialize_cdr(raw, conn.msgtype))
    except UserInputError:
        raise
    except Exception as exc:   # a damaged file: say which, in one line
        raise UserInputError(f'bag: {path} cannot be read ({type(exc).__name__}: {exc})') from None
    return dict(out)


def topic_counts(path) -> Dict[str, int]:
    from rosbags.rosbag2 import Reader
    with Reader(Path(path)) as reader:
        return {c.topic: c.msgcount for c in reader.connections}


def offered_qos(path) -> Dict[str, list]:
    """{topic: [Qos, ...]} as the bag's metadata records them."""
    from rosbags.rosbag2 import Reader
    with Reader(Path(path)) as reader:
        return {c.topic: list(c.ext.offered_qos_profiles) for c in reader.connections}


# --- writing ----------------------------------------------------------------------------------------
def rosbags_qos(spec: QosSpec):
    from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
    forever = QosTime(sec=2147483647, nsec=4294967295)   # what rosbag2 writes for "infinite"
    return Qos(history=QosHistory.KEEP_LAST, depth=spec.depth,
               reliability=QosReliability.RELIABLE if spec.reliability == 'reliable' else QosReliability.BEST_EFFORT,
               durability=QosDurability.TRANSIENT_LOCAL if spec.durability == 'transient_local'
               else QosDurability.VOLATILE,
               deadline=forever, lifespan=forever,
               liveliness=QosLiveliness.AUTOMATIC, liveliness_lease_duration=forever,
               avoid_ros_namespace_conventions=False)


class BagWriter:
    """A rosbag2 bag (version 9) written message by message, with crash-safe checkpoints."""

    def __init__(self, path, storage: str = 'sqlite3'):
        from rosbags.rosbag2 import StoragePlugin, Writer
        self.path = Path(path)
        self.storage = storage
        self.store = typestore()
        self.writer = Writer(self.path, version=9,
                             storage_plugin=StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3)
        self.writer.open()
        if storage == 'sqlite3':
            # write-ahead log: a killed writer leaves the .db3 as of its last checkpoint
            self.writer.storage.conn.execute('PRAGMA journal_mode=WAL')
        self.closed = False
        self._topic_yaml: dict = {}   # each topic's entry of metadata.yaml (_metadata_text)

    def add_topic(self, topic: str, type_name: str, qos: Optional[QosSpec] = None):
        return self.writer.add_connection(topic, type_name, typestore=self.store,
                                          offered_qos_profiles=[rosbags_qos(qos)] if qos else [])

    def write(self, connection, timestamp_ns: int, data: bytes) -> None:
        self.writer.write(connection, timestamp_ns, data)

    def serialize(self, msg, type_name: str) -> bytes:
        return bytes(self.store.serialize_cdr(msg, type_name))

    def checkpoint(self) -> None:
        """Everything written so far survives the writer's process being killed."""
        storage = self.writer.storage
        if self.storage == 'sqlite3':
            storage.conn.commit()
            storage.conn.execute('PRAGMA wal_checkpoint(PASSIVE)')
        else:
            if storage.chunk.bio.tell():
                storage.close_chunk()
            storage.bio.flush()
        _write_atomic(self.path / 'metadata.yaml', self._metadata_yaml())

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.storage == 'sqlite3':   # a plain rollback-journal database, as ros2 bag writes them
            self.writer.storage.conn.commit()
            self.writer.storage.conn.execute('PRAGMA journal_mode=DELETE')
        self.writer.close()

    def _metadata_yaml(self) -> str:
        w = self.writer
        name = w.storage.path.name
        start = w.min_timestamp if w.max_timestamp else 0
        duration = max(0, w.max_timestamp - w.min_timestamp)
        return _metadata_text(self.storage, name, start, duration,
                              [(c, w.counts[c.id]) for c in w.connections], self._topic_yaml)


def _metadata_text(storage: str, file_name: str, start: int, duration: int, connections,
                   topic_cache: Optional[dict] = None) -> str:
    """metadata.yaml of a one-file rosbag2 bag (version 9) from its connections and their counts.

    `topic_cache` (a dict kept by the caller) holds each topic's entry as YAML, which only its count
    changes: the recorder rewrites this file after every slot, and dumping every topic's QoS profiles
    anew cost most of a checkpoint. The text is that of one yaml.dump of the whole (test_bag.py).
    """
    count = sum(n for _, n in connections)
    info = {
        'version': 9, 'storage_identifier': storage, 'relative_file_paths': [file_name],
        'duration': {'nanoseconds': duration}, 'starting_time': {'nanoseconds_since_epoch': start},
        'message_count': count,
        'topics_with_message_count': _TOPICS_HERE,
        'compression_format': '', 'compression_mode': '',
        'files': [{'path': file_name, 'starting_time': {'nanoseconds_since_epoch': start},
                   'duration': {'nanoseconds': duration}, 'message_count': count}],
        'custom_data': None, 'ros_distro': 'rosbags',
    }
    if not connections:
        info['topics_with_message_count'] = []
        return _dump({'rosbag2_bagfile_information': info})
    cache = {} if topic_cache is None else topic_cache
    topics = ''.join(_topic_entry(c, cache) + f'{n}\n' for c, n in connections)
    head, tail = _dump({'rosbag2_bagfile_information': info}).split(f'{_TOPICS_HERE}\n')
    return head.rstrip(' ') + '\n' + topics + tail   # head ends with the key: 'topics_with_message_count: '


_TOPICS_HERE = 'TOPICS-WITH-MESSAGE-COUNT'   # where the topics' entries go into the dumped text


def _dump(data) -> str:
    import yaml
    dumper = getattr(yaml, 'CSafeDumper', yaml.SafeDumper)   # libyaml where installed
    return yaml.dump(data, Dumper=dumper, default_flow_style=False, sort_keys=False)


def _topic_entry(connection, cache: dict) -> str:
    """A topic's entry in topics_with_message_count, as indented in the file, up to its count."""
    c = connection
    if c.id not in cache:
        from rosbags.rosbag2.metadata import dump_qos_v9
        entry = [{'topic_metadata': {'name': c.topic, 'type': c.msgtype, 'serialization_format': 'cdr',
                                     'offered_qos_profiles': dump_qos_v9(c.ext.offered_qos_profiles),
                                     'type_description_hash': c.digest},
                  'message_count': 0}]
        text = ''.join('  ' + line + '\n' for line in _dump(entry).splitlines())
        cache[c.id] = text[:-len('0\n')]
    return cache[c.id]


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + '.tmp')
    tmp.write_text(text)
    tmp.replace(path)


# --- recovering -------------------------------------------------------------------------------------
def _complete_mcap_length(data: bytes) -> int:
    """Bytes of an mcap file up to its last complete record (header and magic included)."""
    pos = len(MCAP_MAGIC)
    end = pos
    while pos + 9 <= len(data):
        op = data[pos]
        size = int.from_bytes(data[pos + 1:pos + 9], 'little')
        if op in (0x02, 0x0F) or pos + 9 + size > len(data):   # footer or data end: the rest is summary
            break
        pos += 9 + size
        end = pos
    return end


def recover(path) -> str:
    """Make the bag of a killed recorder readable; returns what was done, in one line."""
    from rosbags.rosbag2 import Reader
    path = Path(path)
    if not path.is_dir():
        raise UserInputError(f'recover: {path} is not a bag folder')
    done = []
    for mcap in path.glob('*.mcap'):
        data = mcap.read_bytes()
        if not data.startswith(MCAP_MAGIC):
            raise UserInputError(f'recover: {mcap} is not an mcap file')
        if data.endswith(MCAP_MAGIC) and len(data) > len(MCAP_MAGIC):
            continue
        keep = _complete_mcap_length(data)
        # a data-end record, then a footer with no summary: readers scan the records themselves
        tail = bytes([0x0F]) + (4).to_bytes(8, 'little') + (0).to_bytes(4, 'little')
        tail += bytes([0x02]) + (20).to_bytes(8, 'little') + bytes(20) + MCAP_MAGIC
        with mcap.open('r+b') as f:
            f.truncate(keep)
            f.seek(keep)
            f.write(tail)
        done.append(f'{mcap.name}: kept {keep} of {len(data)} bytes')
    for db in path.glob('*.db3'):
        import sqlite3
        conn = sqlite3.connect(str(db))   # read-write: sqlite rolls back an interrupted transaction
        conn.execute('PRAGMA journal_mode=DELETE')
        conn.close()
    files = sorted(list(path.glob('*.mcap')) + list(path.glob('*.db3')))
    if not files:
        raise UserInputError(f'recover: {path} holds no .mcap or .db3 file')
    if not (path / 'metadata.yaml').exists():
        _write_metadata_from_storage(path, files[0])
        done.append('metadata.yaml rebuilt')
    with Reader(path) as reader:
        count = sum(c.msgcount for c in reader.connections)
    return (', '.join(done) or 'nothing to do') + f'; {count} messages readable'


def _write_metadata_from_storage(path: Path, storage_file: Path) -> None:
    """metadata.yaml for a bag folder that has only its storage file (a recorder killed early)."""
    from rosbags.rosbag2.storage_mcap import McapReader
    from rosbags.rosbag2.storage_sqlite3 import Sqlite3Reader
    kind = 'mcap' if storage_file.suffix == '.mcap' else 'sqlite3'
    reader = (McapReader if kind == 'mcap' else Sqlite3Reader)(storage_file)
    reader.open()
    try:
        connections = list(reader.connections)
        counts = defaultdict(int)
        start, end = 2 ** 63 - 1, 0
        for conn, timestamp, _ in reader.messages(connections):
            counts[conn.id] += 1
            start, end = min(start, timestamp), max(end, timestamp)
    finally:
        reader.close()
    start = start if end else 0
    _write_atomic(path / 'metadata.yaml', _metadata_text(kind, storage_file.name, start, max(0, end - start),
                                                         [(c, counts[c.id]) for c in connections]))
