"""Keeping runs apart on one host: a DDS domain of each run's own, a run identity, host-only discovery.

Every process on a host sees every ROS 2 graph on the same DDS domain. A run
therefore takes a domain nobody else of this package holds (an exclusive
`flock` on a file per domain, released when the run's process ends, even by
SIGKILL), limits discovery to the host (ROS_AUTOMATIC_DISCOVERY_RANGE), and
stamps its messages with a random run identity that every node checks, so a
graph that shares the domain anyway (chosen by hand, or not ours) is ignored.
At its end a run removes the shared memory its node processes left behind.
No ROS import here: the launchers and the tests use it before rclpy starts.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from uav_mec_nodes.errors import UserInputError

# Domains picked automatically. ROS 2 documents 0-101 as free of ephemeral-port clashes on Linux;
# the lower ones are left to people who set ROS_DOMAIN_ID by hand (0 is everyone's default).
AUTO_DOMAINS = range(60, 102)
DOMAIN_MAX = 232                       # Fast DDS's largest domain id
DISCOVERY_RANGES = ('localhost', 'subnet')
CONTENT_FILTERS = ('on', 'off', 'auto')   # the nodes' DDS content filters on run_id (and a UAV node's own UAV)


def new_run_id() -> str:
    """16 hex digits: unique per run for any practical number of runs."""
    return secrets.token_hex(8)


def lock_dir() -> Path:
    path = Path(os.environ.get('UAV_MEC_LOCK_DIR', Path(tempfile.gettempdir()) / 'uav_mec_nodes-domains'))
    path.mkdir(parents=True, exist_ok=True)
    try:
        path.chmod(0o1777)   # one folder for every user of the host, like /tmp
    except PermissionError:
        pass
    return path


@dataclass
class DomainLease:
    """A DDS domain held for one run; `close()` (or process exit) releases it."""
    domain_id: int
    exclusive: bool               # False: chosen by hand while another run of ours holds it
    holder: str = ''              # who held it when it was not exclusive
    _fd: Optional[int] = None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> 'DomainLease':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _try_lock(domain: int, run_id: str) -> Optional[int]:
    path = lock_dir() / f'domain-{domain}.lock'
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:   # another user's file: lock it read-only (flock does not care)
        fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f'pid {os.getpid()} run {run_id}\n'.encode(), 0)
    except OSError:
        pass   # read-only fd: the lock is what counts
    return fd


def _holder(domain: int) -> str:
    try:
        return (lock_dir() / f'domain-{domain}.lock').read_text().strip()
    except OSError:
        return ''


_last_auto: list = [None]   # index into AUTO_DOMAINS of this process's last automatic domain


def acquire_domain(requested: Optional[int], run_id: str) -> DomainLease:
    """The run's domain: `requested`, or (None) the first free one of AUTO_DOMAINS.

    A requested domain that another run of ours holds is still used (the user asked for
    it); the lease then says so, and the run identity keeps the two runs apart.
    """
    if requested is not None:
        if not 0 <= requested <= DOMAIN_MAX:
            raise UserInputError(f'--domain-id: must be in [0, {DOMAIN_MAX}] or auto, got {requested}')
        fd = _try_lock(requested, run_id)
        if fd is None:
            return DomainLease(requested, exclusive=False, holder=_holder(requested))
        return DomainLease(requested, exclusive=True, _fd=fd)
    # start at a pid-dependent place so simultaneous starts rarely try the same file first, and
    # after this process's last domain: a run never follows another of the same process on its
    # domain, where the last one's participants may still be saying goodbye
    first = os.getpid() % len(AUTO_DOMAINS) if _last_auto[0] is None else _last_auto[0] + 1
    for k in range(len(AUTO_DOMAINS)):
        index = (first + k) % len(AUTO_DOMAINS)
        fd = _try_lock(AUTO_DOMAINS[index], run_id)
        if fd is not None:
            _last_auto[0] = index
            return DomainLease(AUTO_DOMAINS[index], exclusive=True, _fd=fd)
    raise UserInputError(f'--domain-id: every automatic domain ({AUTO_DOMAINS.start}-{AUTO_DOMAINS.stop - 1}) '
                         'is held by another uav-mec run on this host; pass --domain-id N')


def content_filters_for(requested: str, domain_picked: bool, exclusive: bool, discovery: str) -> str:
    """'auto' -> 'off' where no other run of ours shares the domain unasked, else 'on'; 'on' and 'off' as they are.

    A run whose domain was picked for it and is held by it alone, with discovery on this host, meets no
    other run's messages unless someone later chooses that domain by hand; the guard still drops those by
    run id (every node checks it), only in Python. Fast DDS evaluates a content filter by deserialising
    each sample once per filtered reader (about 0.4 s of the 60-slot main job in one process, a tenth of
    its time: bench/planner_latency.py), which only a flood of another run's messages repays; but without
    them such a flood stalled the run (bench/foreign_traffic.py --content-filters off), so `on` is the
    default and auto an opt-in.
    """
    if requested != 'auto':
        return requested
    return 'off' if domain_picked and exclusive and discovery == 'localhost' else 'on'


def parse_domain(text: str) -> Optional[int]:
    """'auto' -> None, else an integer domain id (range checked by acquire_domain)."""
    if text == 'auto':
        return None
    try:
        return int(text)
    except ValueError:
        raise UserInputError(f'must be auto or an integer in [0, {DOMAIN_MAX}], got {text!r}') from None


# Fast DDS (the rmw of this package) takes a participant profile from this variable
PROFILES_ENV = 'FASTDDS_DEFAULT_PROFILES_FILE'
LOCALHOST_PROFILE = Path(__file__).resolve().parent / 'dds' / 'fastdds_localhost.xml'


def ros_environment(domain_id: int, discovery: str) -> dict:
    """Environment variables that put a process on the run's domain and discovery range.

    localhost also limits Fast DDS to loopback UDP and shared memory (dds/fastdds_localhost.xml):
    with discovery alone, ROS still advertises the host's other addresses, and a participant
    that listens on loopback only (PX4's agent with UXRCE_DDS_PTCFG=1) never answers. A
    profile file the user already chose is kept.
    """
    if discovery not in DISCOVERY_RANGES:
        raise UserInputError(f'--discovery: must be one of {list(DISCOVERY_RANGES)}, got {discovery!r}')
    env = {'ROS_DOMAIN_ID': str(domain_id), 'ROS_AUTOMATIC_DISCOVERY_RANGE': discovery.upper()}
    if discovery == 'localhost' and not os.environ.get(PROFILES_ENV):
        env[PROFILES_ENV] = str(LOCALHOST_PROFILE)
    return env


SHM_DIR = Path('/dev/shm')
SHM_MIN_AGE_S = 0.5   # a lock file younger than this may belong to a participant still setting up: left alone


def remove_dead_shared_memory(directory: Path = SHM_DIR, min_age_s: float = SHM_MIN_AGE_S) -> int:
    """Remove the shared-memory files of Fast DDS participants whose processes are gone; how many sets.

    rmw_fastrtps puts a participant of the localhost discovery range on shared memory whatever a
    profile says, and a node process ends without DDS teardown (nodes/_run.py): every run left each
    node's segment (about 0.5 MB of RAM) and port files in /dev/shm (5.3 GB of them on the CI machine),
    and a port segment a killed process left can crash the next participant that opens it. While its
    owner lives, Fast DDS holds a flock on each segment's and port's lock files (`*_el`, `*_sl`): a set
    none of whose lock files anybody holds is a dead owner's (what Fast DDS's `fastdds shm clean` removes).
    """
    try:
        names = set(os.listdir(directory))
    except OSError:
        return 0
    bases = {name[:-3] for name in names if name.startswith('fastdds_') and name.endswith(('_el', '_sl'))}
    removed = 0
    for base in sorted(bases):
        locks = [directory / f'{base}{end}' for end in ('_el', '_sl') if f'{base}{end}' in names]
        try:
            if any(time.time() - lock.stat().st_mtime < min_age_s for lock in locks):
                continue
            with contextlib.ExitStack() as held:
                for lock in locks:
                    fd = held.enter_context(open(lock, 'ab'))
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)   # fails while an owner holds it
                for path in (directory / base, directory / f'sem.{base}_mutex', *locks):   # removed while held
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
            removed += 1
        except OSError:   # held (its owner lives), gone meanwhile, or another user's
            continue
    return removed
