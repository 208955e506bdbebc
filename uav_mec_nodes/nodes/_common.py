"""What every node shares: topic names, QoS profiles, parameters, message <-> array conversion.

The slot protocol (one slot t, all on simulated time):
  world          /clock = t delta, /world/uav_states (one UavState per UAV)
  uav_<j>        /uav_<j>/state (its own state; MANUAL_BY_TOPIC liveliness, asserted
                 by a wall-clock heartbeat, so a killed or silenced UAV loses its lease)
  channel_sim    /users, /channel for slot t (once it has every UAV's world state)
  planner        /plan for slot t (once it has /users, /channel and a state, or a lost
                 lease, for every UAV it believes alive)
  uav_<j>        /uav_<j>/cmd: its command from the plan, relayed to the world
  channel_sim    /task_reports (one per task) and /slot_metrics for slot t
  world          applies the commands, then moves on to t + 1 (at once with a
                 real-time factor of 0, else after delta / rtf of wall time)
  failure_injector  /failures when a UAV fails, and a FailureReport for every slot (the
                 accounting and the world's motion of slot t wait for report t)
"""
from __future__ import annotations

import math
from typing import Dict, Optional

import numpy as np
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, LivelinessPolicy, QoSProfile, ReliabilityPolicy)

from uav_mec_nodes.config import ScenarioConfig, load_scenario

TOPIC_CLOCK = '/clock'
TOPIC_WORLD_UAVS = '/world/uav_states'
TOPIC_USERS = '/users'
TOPIC_CHANNEL = '/channel'
TOPIC_PLAN = '/plan'
TOPIC_FAILURES = '/failures'
TOPIC_FAILURE_REPORT = '/failure_injector/report'   # FailureReport, one per slot
TOPIC_TASK_REPORTS = '/task_reports'
TOPIC_SLOT_METRICS = '/slot_metrics'
TOPIC_MARKERS = '/markers'
TOPIC_RECORDER_PROGRESS = '/recorder/progress'   # std_msgs/UInt32: slots recorded in full


def uav_state_topic(j: int) -> str:
    return f'/uav_{j}/state'


def uav_cmd_topic(j: int) -> str:
    return f'/uav_{j}/cmd'


# Every slot's data matters and must survive late matching: at rtf 0 an episode can be over
# before DDS has matched every publisher with every subscriber (discovery is pairwise), so
# all per-slot topics keep their history for late joiners (reliable, transient local). KEEP_ALL
# would be exact but Fast DDS caps its history (publishing fails past about 5000 samples), so
# a deep KEEP_LAST: the world waits for each slot's metrics, so no reader lags by thousands.
HISTORY_DEPTH = 20000
RELIABLE = QoSProfile(depth=HISTORY_DEPTH, reliability=ReliabilityPolicy.RELIABLE,
                      history=HistoryPolicy.KEEP_LAST, durability=DurabilityPolicy.TRANSIENT_LOCAL)
LATCHED = RELIABLE


def liveliness_qos(lease_s: float) -> QoSProfile:
    """UAV state QoS: the lease runs out when the UAV stops asserting (killed, silenced, never started)."""
    return QoSProfile(depth=HISTORY_DEPTH, reliability=ReliabilityPolicy.RELIABLE,
                      history=HistoryPolicy.KEEP_LAST,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL, liveliness=LivelinessPolicy.MANUAL_BY_TOPIC,
                      liveliness_lease_duration=Duration(seconds=lease_s))


# --- parameters -----------------------------------------------------------------------------
def declare(node: Node, name: str, default, description: str, lo=None, hi=None):
    """Declare a typed parameter with its range and meaning; return its value, checked."""
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
    desc = ParameterDescriptor(description=description)
    if isinstance(default, bool):
        pass
    elif isinstance(default, int) and lo is not None:
        desc.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=0)]
    elif isinstance(default, float) and lo is not None:
        desc.floating_point_range = [FloatingPointRange(from_value=float(lo), to_value=float(hi), step=0.0)]
    value = node.declare_parameter(name, default, desc).value
    if lo is not None and not isinstance(default, bool) and not lo <= value <= hi:
        from uav_mec_nodes.errors import UserInputError
        raise UserInputError(f'{node.get_name()}: parameter {name}: must be in [{lo}, {hi}], got {value}')
    return value


def declare_scenario(node: Node) -> tuple[ScenarioConfig, int]:
    """The scenario parameters every node shares; returns (config, seed)."""
    path = declare(node, 'scenario_file', '', 'scenario YAML (empty: the package defaults)')
    seed = declare(node, 'seed', 0, 'episode seed (same seed, same episode as the Gym env)', 0, 2 ** 31 - 1)
    users = declare(node, 'num_users', 0, 'I, users (0: from the scenario)', 0, 100000)
    uavs = declare(node, 'num_uavs', 0, 'J, UAVs (0: from the scenario)', 0, 1000)
    failures = declare(node, 'max_failures', -1, 'F_max (-1: from the scenario)', -1, 1000)
    slots = declare(node, 'num_slots', 0, 'T, slots (0: from the scenario)', 0, 1000000)
    schedule = declare(node, 'failure_schedule', '', '"uav:slot,..." failures (failures.model: schedule); '
                       'empty: the scenario\'s failure model')
    overrides: Dict[str, object] = {}
    if users:
        overrides['scenario.num_users'] = users
    if uavs:
        overrides['scenario.num_uavs'] = uavs
    if slots:
        overrides['scenario.num_slots'] = slots
    cfg = load_scenario(path or None, overrides)
    if failures >= 0:
        cfg = cfg.replace(failures__max_failures=failures,
                          failures__num_failures=min(cfg.failures.num_failures, failures))
    if schedule:
        pairs = parse_schedule(schedule, f'{node.get_name()}: parameter failure_schedule')
        cfg = cfg.replace(failures__model='schedule', failures__schedule=pairs,
                          failures__max_failures=max(cfg.failures.max_failures, len(pairs)))
    return cfg, seed


def parse_schedule(text: str, where: str) -> tuple:
    """'uav:slot,uav:slot' -> ((uav, slot), ...); the scenario check then bounds uav, slot and F_max."""
    from uav_mec_nodes.errors import UserInputError
    pairs = []
    for entry in (e for e in text.replace(' ', '').split(',') if e):
        try:
            uav, slot = (int(v) for v in entry.split(':'))
        except ValueError:
            raise UserInputError(f'{where}: entry {entry!r} is not uav:slot (e.g. "1:20")') from None
        pairs.append((uav, slot))
    return tuple(pairs)


# --- conversions ---------------------------------------------------------------------------
def stamp(node_or_time, slot: int, slot_s: float):
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
