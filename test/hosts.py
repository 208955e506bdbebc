"""Two hosts on one machine, for the tests of a graph and a sweep split over machines.

Each host is a network namespace (`ip netns`, root) with a mount namespace of
its own, held by one process: its own /dev/shm, /etc/machine-id and
/tmp/ray. The network alone would not make two hosts: Fast DDS takes the host
from /etc/machine-id and talks to a participant of "the same host" through
shared memory, past the network, so a cut link would not cut it; Ray keeps its
sockets under /tmp/ray. The two are joined by a veth pair with addresses in
10.231.N.0/24 that exist only inside the namespaces (nothing is routed out),
and a multicast route so DDS discovery works as on a LAN. `cut()` takes the
link down. Everything is removed on exit, processes of the hosts included.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, List

MOUNTS = ('mount -t tmpfs tmpfs /dev/shm && mount --bind "$0" /etc/machine-id && '
          'mkdir -p /tmp/ray && mount -t tmpfs tmpfs /tmp/ray && exec sleep infinity')


class Host:
    def __init__(self, name: str, netns: str, address: str, holder: subprocess.Popen):
        self.name, self.netns, self.address, self.holder = name, netns, address, holder

    def command(self, cmd: List[str]) -> List[str]:
        """`cmd` as run on this host (its network and its mounts)."""
        return ['nsenter', '-t', str(self.holder.pid), '-m', '-n', '--'] + [str(c) for c in cmd]

    def popen(self, cmd: List[str], **kwargs) -> subprocess.Popen:
        return subprocess.Popen(self.command(cmd), start_new_session=True, **kwargs)

    def processes(self) -> List[int]:
        """Every process in this host's mount namespace but its holder."""
        mine = os.readlink(f'/proc/{self.holder.pid}/ns/mnt')
        out = []
        for entry in Path('/proc').iterdir():
            if entry.name.isdigit() and int(entry.name) != self.holder.pid:
                try:
                    if os.readlink(entry / 'ns' / 'mnt') == mine:
                        out.append(int(entry.name))
                except OSError:
                    pass
        return out


def _ip(*args: str) -> None:
    subprocess.run(['ip', *args], check=True, capture_output=True, text=True)


@contextmanager
def two_hosts(tmp: Path):
    """Hosts A and B joined by one link; yields (A, B, cut)."""
    tag = f'{os.getpid() % 10000}{secrets.token_hex(1)}'
    net = 1 + os.getpid() % 250
    names = {'A': f'uavmecA{tag}', 'B': f'uavmecB{tag}'}
    links = {'A': f'vA{tag}', 'B': f'vB{tag}'}
    hosts: Dict[str, Host] = {}
    try:
        for h in names.values():
            _ip('netns', 'add', h)
        _ip('link', 'add', links['A'], 'type', 'veth', 'peer', 'name', links['B'])
        for k, (h, link) in enumerate(zip(names.values(), links.values()), start=1):
            _ip('link', 'set', link, 'netns', h)
            _ip('-n', h, 'addr', 'add', f'10.231.{net}.{k}/24', 'dev', link)
            _ip('-n', h, 'link', 'set', 'lo', 'up')
            _ip('-n', h, 'link', 'set', link, 'up')
            _ip('-n', h, 'route', 'add', '224.0.0.0/4', 'dev', link)   # DDS discovery's multicast, on the link
        for k, (key, h) in enumerate(names.items(), start=1):
            machine_id = tmp / f'machine-id-{key}'
            machine_id.write_text(secrets.token_hex(16) + '\n')
            holder = subprocess.Popen(['ip', 'netns', 'exec', h, 'unshare', '--mount', '--propagation', 'private',
                                       'sh', '-c', MOUNTS, str(machine_id)], start_new_session=True)
            hosts[key] = Host(key, h, f'10.231.{net}.{k}', holder)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(_mounted(host) for host in hosts.values()):
            time.sleep(0.05)
        assert all(_mounted(host) for host in hosts.values()), 'the hosts\' mounts were not made'

        def cut() -> None:
            _ip('-n', names['A'], 'link', 'set', links['A'], 'down')

        yield hosts['A'], hosts['B'], cut
    finally:
        for host in hosts.values():
            for pid in host.processes():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            host.holder.kill()
            host.holder.wait()
        for h in names.values():
            subprocess.run(['ip', 'netns', 'del', h], capture_output=True)


def _mounted(host: Host) -> bool:
    """The holder has made its mounts (its machine-id is no longer the machine's)."""
    try:
        mine = Path(f'/proc/{host.holder.pid}/root/etc/machine-id').read_text()
    except OSError:
        return False
    return mine != Path('/etc/machine-id').read_text()
