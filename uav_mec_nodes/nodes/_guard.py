"""Which input a node believes (no ROS inside): the topic's owners, and the run's own messages.

A writer is identified by its DDS GID, which the middleware attaches to every
sample; the ROS graph maps a GID to the node that created the writer. A writer
whose node the graph does not know yet (discovery of node names can lag the
data by a few milliseconds) is neither believed nor rejected: its samples wait,
in order, until the graph names it or `UNKNOWN_WRITER_S` passes.

Foreign message types (rosgraph Clock, RViz markers) carry no run identity: a
sample of one is believed once its writer's DDS participant (the first 12
bytes of the GID) has sent a message that does carry this run's identity.
"""
from __future__ import annotations

import time
from collections import Counter, deque
from typing import Callable, Deque, Dict, Iterable, List, Optional, Tuple

from uav_mec_nodes.graph.contract import TopicSpec

UNKNOWN_WRITER_S = 10.0       # how long samples of a writer the graph cannot name yet may wait
MAX_PENDING_PER_WRITER = 1000

# (gid, node namespace, node name) of the writers on a topic, from the ROS graph
WriterLookup = Callable[[str], Iterable[Tuple[bytes, str, str]]]


class Unknown:
    """Verdict: the graph does not know this writer's node yet."""


UNKNOWN = Unknown()


class InputGuard:
    def __init__(self, run_id: str, topics: Dict[str, TopicSpec], lookup: WriterLookup):
        self.run_id = run_id
        self.topics = topics
        self.lookup = lookup
        self.writers: Dict[bytes, str] = {}        # gid -> fully qualified node name
        self.strays: Counter = Counter()           # (topic, reason) -> messages ignored
        self.pending: Dict[bytes, Deque] = {}      # gid -> deque of (since, item)
        self.participants = set()                  # GID prefixes that sent a message of this run

    # --- verdicts: None (believe it), a reason string (ignore it), or UNKNOWN -------------------
    def writer_verdict(self, topic: str, gid: bytes):
        name = self.writers.get(gid)
        if name is None:
            for wgid, namespace, node in self.lookup(topic):
                if node and not node.startswith('_NODE_NAME_UNKNOWN'):
                    self.writers[bytes(wgid)] = namespace.rstrip('/') + '/' + node
            name = self.writers.get(gid)
        if name is None:
            return UNKNOWN
        spec = self.topics[topic]
        if name.lstrip('/') not in spec.publishers:
            return f"writer '{name}' does not own {topic}"
        if not spec.carries_run_id and gid[:12] not in self.participants:
            return UNKNOWN   # believed once its participant has shown it belongs to this run
        return None

    def run_verdict(self, topic: str, msg, gid: bytes) -> Optional[str]:
        if not self.topics[topic].carries_run_id:
            return None
        if msg.run_id != self.run_id:
            return f'message of another run ({msg.run_id or "no run id"!s})'
        self.participants.add(gid[:12])
        return None

    def stray(self, topic: str, reason: str) -> bool:
        """Count an ignored message; True the first time this (topic, reason) is seen."""
        key = (topic, reason)
        self.strays[key] += 1
        return self.strays[key] == 1

    # --- samples of writers the graph cannot name yet -------------------------------------------
    def hold(self, gid: bytes, item) -> Optional[str]:
        """Keep a sample until its writer is known; returns a reason if one had to be dropped."""
        queue = self.pending.setdefault(gid, deque())
        queue.append((time.monotonic(), item))
        if len(queue) > MAX_PENDING_PER_WRITER:
            queue.popleft()
            return 'too many samples from a writer the ROS graph does not know'
        return None

    def holding(self, gid: bytes) -> bool:
        return bool(self.pending.get(gid))

    def release(self, topic_of: Callable[[object], str], final: bool = False) -> List[Tuple[object, Optional[str]]]:
        """Samples whose writer is now known or waited too long, in arrival order, with their verdict; final:
        every sample still held (the node is closing), those of writers still unknown with that reason."""
        out = []
        now = time.monotonic()
        for gid in list(self.pending):
            queue = self.pending[gid]
            while queue:
                since, item = queue[0]
                verdict = self.writer_verdict(topic_of(item), gid)
                if verdict is UNKNOWN:
                    if final:
                        verdict = 'writer still not known as one of this run when the node closed'
                    elif now - since < UNKNOWN_WRITER_S:
                        break
                    else:
                        verdict = f'writer not known as one of this run after {UNKNOWN_WRITER_S:.0f} s'
                queue.popleft()
                out.append((item, verdict))
            if not queue:
                del self.pending[gid]
        return out
