"""The recorder's logic, without ROS: one run into one bag, and how many of its slots the bag holds whole.

`Recording` opens a new bag folder (never an existing one), writes the run's
/run_info, takes every received message's bytes as DDS delivered them, counts the
stray input it was told of (into /recorder/stray_input at each checkpoint), and
checkpoints the bag after every slot it holds in full (its metrics, every task's
report and, after the last slot, the last MOVE), so a killed recorder loses at most
the slot it was writing.
"""
from __future__ import annotations

import hashlib
import time
from collections import Counter
from pathlib import Path
from typing import Optional

from uav_mec_nodes import __version__
from uav_mec_nodes.bags.io import BagWriter
from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.graph.contract import (TOPIC_CLOCK, TOPIC_PLANT_COMMAND, TOPIC_RUN_INFO, TOPIC_SLOT_METRICS,
                                          TOPIC_STRAY_INPUT, TOPIC_TASK_REPORTS)

DRAIN_S = 0.5   # after the last slot, late messages (the final /clock) still get in, if it does not come first
MOVE = 1        # PlantCommand.KIND_MOVE


class Recording:
    def __init__(self, run_id: str, bag_path, storage: str, topics: dict, num_slots: int, num_users: int,
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
        self.run_id, self.num_slots, self.num_users = run_id, num_slots, num_users
        self.end_ns = int(round(num_slots * slot_s * 1e9))   # the sequencer's last /clock: the episode's end
        self.end_clock_seen = False
        self.connections = {name: self.bag.add_topic(name, spec.type_name, spec.qos) for name, spec in topics.items()}
        self.info_connection = self.bag.add_topic(TOPIC_RUN_INFO, 'uav_mec_nodes/msg/RunInfo')
        self.stray_connection = self.bag.add_topic(TOPIC_STRAY_INPUT, 'uav_mec_nodes/msg/StrayInput')
        self.counts = Counter()
        self.strays = Counter()          # (topic, reason) -> ignored since the last checkpoint
        self.metrics_seen = self.slots_recorded = self.moves_seen = 0
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
        self.counts[topic] += 1
        if topic == TOPIC_SLOT_METRICS:
            self.metrics_seen += 1
        if topic == TOPIC_PLANT_COMMAND and msg.kind == MOVE:
            self.moves_seen = max(self.moves_seen, msg.slot + 1)
        if topic == TOPIC_CLOCK and msg.clock.sec * 1_000_000_000 + msg.clock.nanosec >= self.end_ns:
            self.end_clock_seen = True
        recorded = False
        if topic in (TOPIC_SLOT_METRICS, TOPIC_TASK_REPORTS):
            # slots recorded in full (counts: topics are not ordered against each other)
            done = min(self.metrics_seen, self.counts[TOPIC_TASK_REPORTS] // max(self.num_users, 1))
            if done > self.slots_recorded:
                self.slots_recorded = done
                self.checkpoint()
                recorded = True
        # the last MOVE is published beside the last slot's accounting, not before it: wait for both
        if self.done_at is None and self.slots_recorded >= self.num_slots and self.moves_seen >= self.num_slots:
            self.done_at = time.monotonic()
        return recorded

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
