"""How far a multi-process run is, told through files in the run's log folder.

The launcher holds no DDS participant of its own: one that lives while the
nodes' processes end can deadlock inside Fast DDS 3.2 (a remote writer removed
on the receive thread while the event thread announces the participant,
github.com/eprosima/Fast-DDS/issues/6502), and no Python watchdog can reach a thread stuck in C++.
So channel_sim, the recorder and the UAV nodes, started by the launcher, also
write their counters to small files (replaced whole, never half-written) that it
reads; a host of UAV nodes alone follows the core's slots through its UAV nodes.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

PROGRESS_ENV = 'UAV_MEC_PROGRESS_DIR'   # set by the launcher for the nodes it starts
SLOTS_DONE = 'slots_done'               # written by channel_sim: slots accounted
SLOTS_RECORDED = 'slots_recorded'       # written by the recorder: slots whose metrics are in the bag
SLOTS_SEEN = 'slots_seen'               # written by each UAV node (SLOTS_SEEN.<node>): slots whose metrics came


class ProgressFiles:
    def __init__(self, folder: Optional[Path]):
        self.folder = Path(folder) if folder else None   # None: nobody reads (write does nothing)

    @classmethod
    def from_environment(cls) -> 'ProgressFiles':
        """The launcher's folder; none for a node started otherwise (ros2 launch, ros2 run)."""
        return cls(os.environ.get(PROGRESS_ENV))

    def clear(self) -> None:
        """Forget an earlier run's counts (a log folder used again)."""
        for path in self.folder.glob('slots_*.progress'):
            path.unlink(missing_ok=True)

    def write(self, name: str, count: int) -> None:
        if self.folder is None:
            return
        path = self.folder / f'{name}.progress'
        tmp = path.with_name(f'.{path.name}.{os.getpid()}')
        tmp.write_text(str(int(count)))
        os.replace(tmp, path)   # atomic: a reader sees the old number or the new one

    def read_most(self, prefix: str) -> int:
        """The largest count of the files `prefix.*` (each UAV node's), 0 if none."""
        if self.folder is None:
            return 0
        names = [p.name[:-len('.progress')] for p in self.folder.glob(f'{prefix}.*.progress')]
        return max((self.read(name) for name in names), default=0)

    def read(self, name: str) -> int:
        """0 until the node has written (or if the file is not a count)."""
        if self.folder is None:
            return 0
        try:
            return max(int((self.folder / f'{name}.progress').read_text()), 0)
        except (OSError, ValueError):
            return 0
