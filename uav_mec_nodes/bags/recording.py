"""The recorder's logic, without ROS: one run into one bag, and how many of its slots the bag holds whole.

`Recording` opens a new bag folder (never an existing one), writes the run's
/run_info, takes every received message's bytes as DDS delivered them, counts the
stray input it was told of (into /recorder/stray_input at each checkpoint), and
checkpoints the bag after every slot it holds in full (`SlotLedger`: every message
contract.slot_messages names, the failure events its reports list, the MOVE before
it), so a killed recorder loses at most the slot it was writing. The world waits for
a slot to be recorded before the next, so a reader that DDS matches late (its
discovery lost a packet: seconds on a loaded machine) stalls the run until the
writers' history reaches it, instead of leaving messages out of the bag.
"""
from __future__ import annotations

import hashlib
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Optional

from uav_mec_nodes import __version__
from uav_mec_nodes.bags.io import BagWriter
from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.graph.contract import (PLANT_MOVE, TOPIC_CLOCK, TOPIC_FAILURE_REPORT, TOPIC_FAILURES,
                                          TOPIC_PLANT_COMMAND, TOPIC_PLANT_REPORT, TOPIC_RUN_INFO, TOPIC_STRAY_INPUT)

DRAIN_S = 0.5   # after the last slot, late messages (the final /clock) still get in, if it does not come first
REPORTS = (TOPIC_FAILURE_REPORT, TOPIC_PLANT_REPORT)


class SlotLedger:
    """Which of each slot's messages the bag holds; `whole`: slots 0..whole-1 are held in full.

    Besides the messages every slot has (contract.slot_messages; of /plant/command the START), a slot
    needs the failure events its reports list and the MOVE of the slot before (`flown`: slots whose
    MOVE is in; the last one is waited for at the episode's end). All come from the graph's core
    nodes, whose end stops the run; a UAV node's relay of its command is not waited for (a UAV process
    killed after sending it could leave the recorder waiting for good; the plan and the MOVE hold it)."""

    def __init__(self, slot_messages: dict):
        self.expected = dict(slot_messages)       # topic -> messages every slot has
        self.held = defaultdict(Counter)          # slot -> topic -> messages held (slots not yet whole)
        self.listed = defaultdict(set)            # slot -> failure events (uav, slot) its reports list
        self.events = set()                       # failure events held
        self.whole = self.flown = 0

    def take(self, topic: str, msg) -> bool:
        """One of the run's messages is in the bag; True when it made one or more slots whole."""
        if topic == TOPIC_FAILURES:
            self.events.add((msg.uav_id, msg.slot))
        elif topic == TOPIC_PLANT_COMMAND and msg.kind == PLANT_MOVE:
            self.flown = max(self.flown, msg.slot + 1)
        elif topic in self.expected and msg.slot >= self.whole:
            self.held[msg.slot][topic] += 1
            if topic in REPORTS:
                self.listed[msg.slot].update((e.uav_id, e.slot) for e in msg.failures)
        before = self.whole
        while self._has_all(self.whole):
            self.held.pop(self.whole, None)
            self.listed.pop(self.whole, None)
            self.whole += 1
        return self.whole > before

    def _has_all(self, slot: int) -> bool:
        held = self.held.get(slot)
        return held is not None and self.flown >= slot and all(held[t] >= n for t, n in self.expected.items()) \
            and self.listed.get(slot, set()) <= self.events

    def started(self, slot: int) -> bool:
        """Whether the bag holds some, not all, of slot `slot`'s messages."""
        return bool(self.held.get(slot))   # a whole slot's count is dropped

    def missing(self, slot: int) -> list:
        """What slot `slot` still lacks (for the recorder's word on a bag that ends in the middle of it)."""
        held = self.held.get(slot, Counter())
        lacks = [f'{t} ({held[t]} of {n})' for t, n in self.expected.items() if held[t] < n]
        lacks += [f'the MOVE of slot {slot - 1}'] if self.flown < slot else []
        unheld = sorted(self.listed.get(slot, set()) - self.events)
        return lacks + [f'/failures (UAV {j} in slot {s})' for j, s in unheld]


class Recording:
    def __init__(self, run_id: str, bag_path, storage: str, topics: dict, num_slots: int, slot_messages: dict,
                 slot_s: float):
        self.bag_path = Path(bag_path)
        if self.bag_path.exists():
            raise UserInputError(f'recorder: parameter bag_path: {self.bag_path} exists; bags are never '
                                 'overwritten: choose a new folder')
        try:
            self.bag_path.parent.mkdir(parents=True, exist_ok=True)
            self.bag = BagWriter(self.bag_path, storage)
        except OSError as exc:
            raise UserInputError(f'recorder: parameter bag_path: cannot write {self.bag_path} '
                                 f'({exc.strerror or exc})') from None
        self.run_id, self.num_slots = run_id, num_slots
        self.ledger = SlotLedger(slot_messages)
        self.end_ns = int(round(num_slots * slot_s * 1e9))   # the sequencer's last /clock: the episode's end
        self.end_clock_seen = False
        self.connections = {name: self.bag.add_topic(name, spec.type_name, spec.qos) for name, spec in topics.items()}
        self.info_connection = self.bag.add_topic(TOPIC_RUN_INFO, 'uav_mec_nodes/msg/RunInfo')
        self.stray_connection = self.bag.add_topic(TOPIC_STRAY_INPUT, 'uav_mec_nodes/msg/StrayInput')
        self.strays = Counter()          # (topic, reason) -> ignored since the last checkpoint
        self.closed = False
        self.done_at: Optional[float] = None
        self.last_message = time.monotonic()

    def add_topic(self, topic: str, spec) -> None:
        self.connections[topic] = self.bag.add_topic(topic, spec.type_name, spec.qos)

    def write_run_info(self, seed: int, policy: str, failure_mode: str, scenario_yaml: str, domain_id: int) -> None:
        path = Path(policy)
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if policy.endswith('.pt') and path.is_file() else ''
        self.write_own(self.info_connection, 'RunInfo', dict(
            run_id=self.run_id, package_version=__version__, seed=seed, policy=policy, policy_sha256=digest,
            failure_mode=failure_mode, scenario_yaml=scenario_yaml, domain_id=domain_id))
        self.bag.checkpoint()

    def write_own(self, connection, type_name: str, fields: dict) -> None:
        """A message of the recorder's own into the bag (rosbags' typestore serialises it)."""
        store = self.bag.store
        full = f'uav_mec_nodes/msg/{type_name}'
        now = time.time_ns()
        header = store.types['std_msgs/msg/Header'](
            stamp=store.types['builtin_interfaces/msg/Time'](sec=now // 1_000_000_000, nanosec=now % 1_000_000_000),
            frame_id='')
        self.bag.write(connection, now, self.bag.serialize(store.types[full](header=header, **fields), full))

    def write(self, topic: str, stamp_ns: int, data: bytes, msg=None) -> bool:
        """A message's bytes into the bag; True when it completed a slot (the progress to say)."""
        if self.closed:
            return False
        self.bag.write(self.connections[topic], stamp_ns, data)
        self.last_message = time.monotonic()
        if topic == TOPIC_CLOCK:
            if msg.clock.sec * 1_000_000_000 + msg.clock.nanosec >= self.end_ns:
                self.end_clock_seen = True
            return False
        recorded = self.ledger.take(topic, msg)
        if recorded:
            self.checkpoint()
        # the last MOVE is published beside the last slot's accounting, not before it: wait for both
        if self.done_at is None and self.slots_recorded >= self.num_slots and self.ledger.flown >= self.num_slots:
            self.done_at = time.monotonic()
        return recorded

    @property
    def slots_recorded(self) -> int:
        return self.ledger.whole

    def stray(self, topic: str, reason: str) -> None:
        self.strays[(topic, reason)] += 1

    def checkpoint(self) -> None:
        """Stray counts of the slot into the bag, then everything so far made crash-safe."""
        for (topic, reason), count in sorted(self.strays.items()):
            self.write_own(self.stray_connection, 'StrayInput',
                           dict(run_id=self.run_id, slot=self.slots_recorded, topic=topic, reason=reason, count=count))
        self.strays.clear()
        self.bag.checkpoint()

    @property
    def done(self) -> bool:
        """The whole episode is in: its last slot, its last MOVE and the final /clock (which the sequencer
        publishes once this recording has the last slot; given DRAIN_S, should it never come)."""
        return self.done_at is not None and (self.end_clock_seen or time.monotonic() - self.done_at > DRAIN_S)

    def close(self) -> None:
        """Close the bag readable (also when the run is interrupted)."""
        if not self.closed:
            self.closed = True
            if self.strays:
                self.checkpoint()
            self.bag.close()
