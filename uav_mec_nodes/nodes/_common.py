"""What every node shares: the contract as rclpy objects, parameters, guarded input, conversions.

Topic names, QoS profiles, owners and parameters are defined once in
`uav_mec_nodes.graph.contract` (ROS-free); this module turns them into rclpy QoS
profiles, read-only declared parameters and subscriptions that believe only
the run's own messages from the topic's owners (see `_guard.InputGuard`).
"""
from __future__ import annotations

import math
import threading
import time
from types import SimpleNamespace
from typing import Callable, Optional

import numpy as np
from rclpy.clock import Clock, ClockType
from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message

from uav_mec_nodes.config import ScenarioConfig
# the topic names are re-exported: nodes write c.TOPIC_PLAN, c.uav_state_topic(j)
from uav_mec_nodes.graph.contract import (TOPIC_CHANNEL, TOPIC_CLOCK, TOPIC_FAILURE_REPORT, TOPIC_FAILURES,  # noqa: F401
                                    TOPIC_MARKERS, TOPIC_PLAN, TOPIC_PLANT_COMMAND, TOPIC_PLANT_REPORT,
                                    TOPIC_RECORDER_PROGRESS,
                                    TOPIC_SLOT_METRICS, TOPIC_TASK_REPORTS, TOPIC_USERS, TOPIC_WORLD_UAVS, QosSpec,
                                    HEARTBEATS_PER_LEASE, REAL_TIME_PLANTS, graph_topics, reader_qos, unmet_policies,
                                    uav_cmd_topic, uav_heartbeat_topic, uav_state_topic)
from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.graph.arguments import DEFAULT_LEASE_S, RUN_ID, parameters_of
from uav_mec_nodes.graph.layout import scenario_for
from uav_mec_nodes.nodes._guard import UNKNOWN, InputGuard


# rclpy's policies by QosSpec's names (qos() one way, ForeignWriters the other, POLICY_NAMES)
RELIABILITY = {'reliable': ReliabilityPolicy.RELIABLE, 'best_effort': ReliabilityPolicy.BEST_EFFORT}
DURABILITY = {'transient_local': DurabilityPolicy.TRANSIENT_LOCAL, 'volatile': DurabilityPolicy.VOLATILE}
POLICY_NAMES = {'reliability': {v: k for k, v in RELIABILITY.items()},
                'durability': {v: k for k, v in DURABILITY.items()}}


def qos(spec: QosSpec) -> QoSProfile:
    return QoSProfile(depth=spec.depth, history=HistoryPolicy.KEEP_LAST,
                      reliability=RELIABILITY.get(spec.reliability, ReliabilityPolicy.BEST_EFFORT),
                      durability=DURABILITY.get(spec.durability, DurabilityPolicy.VOLATILE))


def wall_clock() -> Clock:
    """Timers that must tick whatever /clock says (heartbeats, waits, polling)."""
    return Clock(clock_type=ClockType.STEADY_TIME)


# --- parameters -----------------------------------------------------------------------------------
def declare_parameters(node: Node, module: str) -> SimpleNamespace:
    """Declare every parameter of the contract for this node module, read-only, with its range.

    Changing a parameter of a running node would change nothing (each is read once, at
    start-up), so `ros2 param set` is refused instead of silently ignored. A value of the
    wrong type or out of range is a one-line UserInputError naming the parameter.
    """
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
    from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
    values = {}
    for p in parameters_of(module):
        desc = ParameterDescriptor(description=p.description, read_only=True)
        if p.choices:
            desc.additional_constraints = f'one of {list(p.choices)}'
        if isinstance(p.default, bool):
            pass
        elif isinstance(p.default, int) and p.lo is not None:
            desc.integer_range = [IntegerRange(from_value=int(p.lo), to_value=int(p.hi), step=0)]
        elif isinstance(p.default, float) and p.lo is not None:
            desc.floating_point_range = [FloatingPointRange(from_value=float(p.lo), to_value=float(p.hi), step=0.0)]
        try:
            value = node.declare_parameter(p.name, p.default, desc).value
        except (InvalidParameterTypeException, InvalidParameterValueException):
            override = getattr(node, '_parameter_overrides', {}).get(p.name)   # what was given, to name it
            given = override.value if override is not None else None
            raise UserInputError(f'{node.get_name()}: parameter {p.name}: expected {parameter_kind(p)}'
                                 + (f', got {given!r}' if given is not None else '')) from None
        if p.lo is not None and not p.lo <= value <= p.hi:
            raise UserInputError(f'{node.get_name()}: parameter {p.name}: must be in [{p.lo}, {p.hi}], got {value}')
        if p.choices and value not in p.choices:
            raise UserInputError(f'{node.get_name()}: parameter {p.name}: must be one of {list(p.choices)}, '
                                 f'got {value!r}')
        values[p.name] = value
    return SimpleNamespace(**values)


def parameter_kind(p) -> str:
    """What a parameter takes, in words: 'an integer in [0, 1000]', 'one of [...]', 'true or false'."""
    if p.choices:
        return f'one of {list(p.choices)}'
    if isinstance(p.default, bool):
        return 'true or false'
    kind = {int: 'an integer', float: 'a number', str: 'a string'}[type(p.default)]
    return f'{kind} in [{p.lo}, {p.hi}]' if p.lo is not None else kind


def px4_versions(node: Node, text: str) -> dict:
    """The px4_message_versions parameter, parsed; a bad one is a one-line error naming it."""
    from uav_mec_nodes.graph.contract import parse_px4_versions
    try:
        return parse_px4_versions(text)
    except ValueError as exc:
        raise UserInputError(f'{node.get_name()}: parameter px4_message_versions: {exc}') from None


def declare_node(node: Node, module: str):
    """(parameters, scenario config) of a node: every parameter declared, the scenario built."""
    params = declare_parameters(node, module)
    if getattr(params, 'lease_s', None) == 0.0:   # not given (a node of its own, `ros2 run`): the usual lease
        params.lease_s = DEFAULT_LEASE_S
    return params, scenario_for(vars(params), node.get_name())


# How often a node that waits on time (a lease running out, a stalled slot, the start-up) looks again. Its
# inputs wake it at once (each input callback ends in the node's tick), so this bounds only how late a
# time-out is seen, not how long a slot takes; a faster poll cost an executor wake-up each, a third of
# the single-process graph's callbacks at 2 ms.
POLL_S = 0.02
# The sequencer's poll when it paces slots to wall time (rtf > 0): the slot starts within this of its time.
PACE_POLL_S = 0.002


def then(callback: Callable, tick: Callable[[], None]) -> Callable:
    """An input callback followed by the node's tick: a slot moves on as soon as its last input is in."""
    def both(msg) -> None:
        callback(msg)
        tick()
    return both


# --- the contract's endpoints --------------------------------------------------------------------
def publisher(node: Node, msg_type, topic: str, topics: dict):
    """A publisher of a contract topic, with the contract's QoS and without rclpy's default QoS event handlers.

    rclpy gives every publisher and subscription two (incompatible QoS, incompatible type), and an executor
    visits each on every wait: in the single-process graph they were 192 of its 322 entities, about a third
    of the run's time (bench/planner_latency.py). Between the graph's own endpoints they cannot fire (one
    contract sets both sides' QoS and type); a foreign endpoint's mismatch is still logged by its own side,
    and by the recorder, which reads every contract topic and looks for such writers (ForeignWriters).
    """
    return node.create_publisher(msg_type, topic, qos(topics[topic].qos),
                                 event_callbacks=PublisherEventCallbacks(use_default_callbacks=False))


# --- guarded input ---------------------------------------------------------------------------------
def content_filter(run_id: Optional[str], field: Optional[str] = None, value: int = 0):
    """A DDS content filter passing only this run's messages (run_id None: any run's) and, with a field, only
    those whose field equals value; None if it would pass everything."""
    from rclpy.subscription_content_filter_options import ContentFilterOptions
    terms, params = [], []
    if run_id is not None and RUN_ID.fullmatch(run_id):   # an id the filter cannot quote as it is: no run filter
        terms, params = ['run_id = %0'], [f"'{run_id}'"]
    if field is not None:
        terms.append(f'{field} = %{len(params)}')
        params.append(str(int(value)))
    return ContentFilterOptions(' AND '.join(terms), params) if terms else None


class GuardedInput:
    """Subscriptions that hand a callback only the run's own messages from the topic's owners.

    Other runs' messages of this package are dropped by a DDS content filter on `run_id`
    (Fast DDS filters them before they reach Python, so a flood costs the node nothing);
    `filter_foreign_runs=False` lets them through to be counted (the recorder does, to
    put them in the bag). Subscriptions are raw: the writer is checked on the GID the
    middleware attaches to a sample before the sample is deserialised, so traffic of
    foreign writers costs no parsing. Ignored messages are counted (`guard.strays`) and
    logged once per kind. A node whose `content_filters` parameter is off sets no DDS
    filter at all (graph/isolation.py, content_filters_for, says when a run does so): the
    guard then drops another run's messages, and a UAV node's callbacks another UAV's.
    """

    def __init__(self, node: Node, run_id: str, cfg: ScenarioConfig, filter_foreign_runs: bool = True):
        self.node = node
        self.filters = not (node.has_parameter('content_filters')
                            and node.get_parameter('content_filters').value == 'off')   # auto: on, unresolved
        self.run_id = run_id if filter_foreign_runs else None
        self.topics = graph_topics(cfg.scenario.num_users, cfg.scenario.num_uavs)
        self.guard = InputGuard(run_id, self.topics, self._writers)
        self.on_stray: Optional[Callable[[str, str], None]] = None
        self._retry_timer = None
        self._readers = {}   # topic -> its subscriptions, for unheard()

    def _writers(self, topic: str):
        return [(bytes(e.endpoint_gid), e.node_namespace, e.node_name)
                for e in self.node.get_publishers_info_by_topic(topic)]

    def subscribe(self, msg_type, topic: str, callback: Callable, raw: bool = False, only: Optional[tuple] = None):
        """callback(msg), or callback(msg, serialized bytes) with raw=True; only=(field, value): the middleware
        delivers only the messages whose integer field equals value (a UAV node's own of a topic of all UAVs:
        the callback still checks, a filter is not a guard)."""
        spec = self.topics[topic]
        route = (msg_type, topic, callback, raw)
        reader = self.node.create_subscription(
            msg_type, topic, lambda data, info: self._receive(route, data, info), qos(reader_qos(spec.qos)), raw=True,
            content_filter_options=content_filter(self.run_id if spec.carries_run_id else None, *(only or ()))
            if self.filters else None,
            event_callbacks=SubscriptionEventCallbacks(use_default_callbacks=False))   # see publisher()
        self._readers.setdefault(topic, []).append(reader)
        return reader

    def unheard(self, topics) -> list:
        """Those of `topics` that no reader here has a writer matched with yet (DDS discovery under way)."""
        return [t for t in topics if not any(r.get_publisher_count() for r in self._readers.get(t, ()))]

    def _receive(self, route, data: bytes, info) -> None:
        gid = bytes(info['publisher_gid']['data']) if info.get('publisher_gid') else b''
        topic = route[1]
        if self.guard.holding(gid):   # keep a writer's samples in order
            self._hold(gid, route, data)
            return
        verdict = self.guard.writer_verdict(topic, gid)
        if verdict is UNKNOWN:
            self._hold(gid, route, data)
        else:
            self._deliver(route, data, gid, verdict)

    def _hold(self, gid: bytes, route, data: bytes) -> None:
        dropped = self.guard.hold(gid, (route, data, gid))
        if dropped:
            self._ignored(route[1], dropped)
        if self._retry_timer is None:
            self._retry_timer = self.node.create_timer(0.02, self._release, clock=wall_clock())

    def _release(self, final: bool = False) -> None:
        for (route, data, gid), verdict in self.guard.release(lambda item: item[0][1], final=final):
            self._deliver(route, data, gid, verdict)
        if not self.guard.pending and self._retry_timer is not None:
            self.node.destroy_timer(self._retry_timer)
            self._retry_timer = None

    def flush(self) -> None:
        """The node is closing: every sample still waiting for its writer's name is delivered or counted now."""
        self._release(final=True)

    def _deliver(self, route, data: bytes, gid: bytes, verdict) -> None:
        msg_type, topic, callback, raw = route
        if verdict:
            self._ignored(topic, verdict)
            return
        msg = deserialize_message(data, msg_type)
        verdict = self.guard.run_verdict(topic, msg, gid)
        if verdict:
            self._ignored(topic, verdict)
            return
        if raw:
            callback(msg, data)
        else:
            callback(msg)

    def _ignored(self, topic: str, reason: str) -> None:
        if self.guard.stray(topic, reason):
            self.node.get_logger().warning(f'ignored input on {topic}: {reason} (counted; not logged again)')
        if self.on_stray is not None:
            self.on_stray(topic, reason)


FOREIGN_WRITER_CHECK_S = 1.0   # how often ForeignWriters looks at the graph (wall clock)


class ForeignWriters:
    """Logs once each writer of these topics that DDS never matches with this node's readers of them: of
    another type, or offering less than they request (contract.unmet_policies). rclpy's default QoS event
    handlers say the same, but two a reader, each visited on every wait of the executor, cost the recorder's
    readers (18 at I=10, J=3) about a tenth of the single-process graph's CPU time; a look at the graph every
    FOREIGN_WRITER_CHECK_S costs one timer (0.09 ms a look there).

    readers: topic -> (type name, the QosSpec its readers request).
    """

    def __init__(self, node: Node, readers: dict):
        self.node, self.readers = node, readers
        self.judged = set()   # writers' GIDs
        self.timer = node.create_timer(FOREIGN_WRITER_CHECK_S, self.check, clock=wall_clock())

    def check(self) -> None:
        for topic, (type_name, requested) in self.readers.items():
            for info in self.node.get_publishers_info_by_topic(topic):
                gid = bytes(info.endpoint_gid)
                if gid in self.judged:
                    continue
                self.judged.add(gid)
                writer = f'{info.node_namespace.rstrip("/")}/{info.node_name}'
                if info.topic_type != type_name:
                    self.node.get_logger().warning(
                        f'publisher {writer} on {topic} is of type {info.topic_type}, not the contract\'s '
                        f'{type_name}: DDS never matches it with this node, nothing of it is read')
                    continue
                offered = {policy: names.get(getattr(info.qos_profile, policy))
                           for policy, names in POLICY_NAMES.items()}
                short = unmet_policies(requested, offered)
                if short:
                    self.node.get_logger().warning(
                        f'publisher {writer} on {topic} offers less than the contract\'s readers request '
                        f'({", ".join(f"{p} {offered[p]}" for p in short)}, where they ask '
                        f'{", ".join(getattr(requested, p) for p in short)}): DDS never matches it with '
                        'this node, nothing of it is read')


class UntilHeard:
    """`ready` once DDS has matched each of `topics` that `inputs` reads with a writer; then on_ready() once.
    Polled on the wall clock; after NOTE_S the node says, once, which topics still have no writer."""
    NOTE_S = 2.0

    def __init__(self, node: Node, inputs: GuardedInput, topics, on_ready: Callable[[], None]):
        self.node, self.inputs, self.topics, self.on_ready = node, inputs, list(topics), on_ready
        self.ready = False
        self._note_at = time.monotonic() + self.NOTE_S
        self._timer = node.create_timer(POLL_S, self._poll, clock=wall_clock())

    def _poll(self) -> None:
        unheard = self.inputs.unheard(self.topics)
        if unheard and self._note_at is not None and time.monotonic() > self._note_at:
            self._note_at = None
            self.node.get_logger().warning(f'no writer matched yet for {", ".join(unheard)} after {self.NOTE_S:g} s')
        if not unheard:
            self.ready = True
            self.node.destroy_timer(self._timer)
            self.on_ready()


class Heartbeats:
    """A thread of its own publishes `beat` (count + 1 each time) every period_s while beating() holds: so a
    lease says whether the process lives, whatever its callbacks are busy with."""

    def __init__(self, publisher, beat, period_s: float, beating: Callable[[], bool], name: str):
        self.publisher, self.beat, self.period_s, self.beating = publisher, beat, period_s, beating
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            if not self.beating():
                continue
            self.beat.count += 1
            try:
                self.publisher.publish(self.beat)
            except Exception:   # the node or its context is being destroyed
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)


def subscribe_heartbeats(inputs: GuardedInput, num_uavs: int, leases) -> None:
    """Each UAV's lease (a graph.failure_book.LeaseWatch) held on the heartbeats the guard believed: from
    its own node, of this run, on its own topic."""
    from uav_mec_nodes.msg import Heartbeat
    for j in range(num_uavs):
        inputs.subscribe(Heartbeat, uav_heartbeat_topic(j),
                         lambda msg, j=j: leases.heard(j, time.monotonic()) if msg.uav_id == j else None)


def episode_over(metrics, cfg: ScenarioConfig) -> bool:
    """The SlotMetrics of the episode's last slot: nodes that only serve the episode can end."""
    return metrics.slot + 1 >= cfg.scenario.num_slots


# --- conversions ---------------------------------------------------------------------------
def stamp(slot: int, slot_s: float):
    from builtin_interfaces.msg import Time
    ns = int(round(slot * slot_s * 1e9))
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def point_array(points) -> np.ndarray:
    return np.array([[p.x, p.y, p.z] for p in points], dtype=float).reshape(-1, 3)


def finite(*values) -> bool:
    return all(math.isfinite(v) for v in values)


def uav_state_ok(msg, num_uavs: int) -> Optional[str]:
    """None if a UavState is usable, else the reason to reject it."""
    if msg.uav_id >= num_uavs:
        return f'unknown UAV id {msg.uav_id} (J={num_uavs})'
    values = (msg.position.x, msg.position.y, msg.position.z, msg.velocity.x, msg.velocity.y, msg.velocity.z)
    if not finite(*values):
        return f'UAV {msg.uav_id}: NaN or inf position/velocity'
    return None
