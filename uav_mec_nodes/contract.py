"""The graph's contract, without ROS: topics, message types, QoS, who may publish, parameters.

Every node, the launchers, the recorder, the bag and report tools and the
tests read this one module, so a topic, its QoS or its owner is named once.

The slot protocol (one slot t, all on simulated time):
  sequencer      /clock = t delta, /plant/command START t
  plant          /world/uav_states (one UavState per UAV): `world` (kinematic) or `px4_bridge`
  uav_<j>        /uav_<j>/state (its own state; MANUAL_BY_TOPIC liveliness, asserted
                 by a heartbeat thread, so a killed or silenced UAV loses its lease)
  channel_sim    /users, /channel for slot t (once it has every UAV's world state)
  planner        /plan for slot t (once it has /users, /channel and a state, or a lost
                 lease, for every UAV it believes alive)
  uav_<j>        /uav_<j>/cmd: its command from the plan, relayed to the world
  channel_sim    /task_reports (one per task) and /slot_metrics for slot t
  sequencer      the commands through the safety layer: /plant/command MOVE t (the plant
                 flies them); then t + 1 once the slot's metrics (and the bag) are in, at once
                 with a real-time factor of 0, else after delta / rtf of wall time
  failure_injector  /failures when a UAV fails, and a FailureReport for every slot (the
                 accounting and the world's motion of slot t wait for report t)
  px4_bridge     (--plant px4) /plant/report t once the vehicles have flown slot t in real time,
                 with the failures PX4 reported during it: the slot's accounting waits for it
  recorder       /recorder/progress: slots written in full (the world waits for it)

Trust: a message is believed only if its writer belongs to a node that owns
the topic (`TopicSpec.publishers`, checked on the DDS writer's GID) and, for
this package's messages, it carries the run's identity (`run_id`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

PACKAGE = 'uav_mec_nodes'

TOPIC_CLOCK = '/clock'
TOPIC_PLANT_COMMAND = '/plant/command'
TOPIC_PLANT_REPORT = '/plant/report'       # FailureReport: a real-time plant's word once it has flown a slot
TOPIC_WORLD_UAVS = '/world/uav_states'
TOPIC_USERS = '/users'
TOPIC_CHANNEL = '/channel'
TOPIC_PLAN = '/plan'
TOPIC_FAILURES = '/failures'
TOPIC_FAILURE_REPORT = '/failure_injector/report'
TOPIC_TASK_REPORTS = '/task_reports'
TOPIC_SLOT_METRICS = '/slot_metrics'
TOPIC_MARKERS = '/markers'
TOPIC_RECORDER_PROGRESS = '/recorder/progress'
# written into the bag by the recorder itself (not published): what the run was, what it ignored
TOPIC_RUN_INFO = '/run_info'
TOPIC_STRAY_INPUT = '/recorder/stray_input'


def uav_node_name(j: int) -> str:
    return f'uav_{j}'


def uav_state_topic(j: int) -> str:
    return f'/uav_{j}/state'


def uav_cmd_topic(j: int) -> str:
    return f'/uav_{j}/cmd'


# --- plants ---------------------------------------------------------------------------------------
# what moves the UAVs and reports their states: plant name -> its node's module (and node name)
PLANTS = {'kinematic': 'world', 'px4': 'px4_bridge'}


# --- failure modes ------------------------------------------------------------------------------
# FailureEvent.mode values; the injector's modes are the first three, and px4_motor (px4 plant only:
# a motor failure through PX4, which the graph learns of from PX4's own reports alone)
FAILURE_MODES = ('announce', 'silence', 'kill', 'liveliness lost', 'reported by PX4')
INJECTED_FAILURE_MODES = FAILURE_MODES[:3] + ('px4_motor',)


# --- QoS ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QosSpec:
    """A QoS profile as plain data (nodes turn it into rclpy's, the recorder into the bag's)."""
    reliability: str = 'reliable'          # reliable | best_effort
    durability: str = 'transient_local'    # transient_local | volatile
    depth: int = 10                        # KEEP_LAST depth
    liveliness_lease_s: float = 0.0        # > 0: MANUAL_BY_TOPIC liveliness with this lease


# Per-slot topics keep HISTORY_SLOTS slots of messages for late joiners (reliable, transient
# local): at rtf 0 a slot can be over before DDS has matched every reader with every writer.
# The slot protocol is lock-step (the world waits for each slot's metrics and, when recording,
# for the recorder), so no reader that gates progress lags by more than a slot; a bounded depth
# keeps every writer's memory flat over long episodes.
HISTORY_SLOTS = 8


# A reader's KEEP_LAST queue is shared by every writer of the topic: a flood of foreign samples
# could push the owner's sample out before the node takes it. Readers therefore queue deeper than
# writers keep history; the queue only fills while a node falls behind, so it costs nothing else.
READER_DEPTH_MIN = 2000


def reader_qos(spec: QosSpec) -> QosSpec:
    return QosSpec(spec.reliability, spec.durability, max(spec.depth, READER_DEPTH_MIN), spec.liveliness_lease_s)


def per_slot_qos(messages_per_slot: int, lease_s: float = 0.0) -> QosSpec:
    return QosSpec(depth=max(HISTORY_SLOTS * max(messages_per_slot, 1), 16), liveliness_lease_s=lease_s)


# --- PX4 (v1.16) on the wire: ../shared/px4/README.md -----------------------------------------
def px4_namespace(j: int) -> str:
    """UAV j flies PX4 instance j + 1, which runs in namespace px4_<j+1> (instance 0 has none)."""
    return f'px4_{j + 1}'


def px4_sys_id(j: int) -> int:
    """MAV_SYS_ID of UAV j's PX4: its instance + 1, as PX4's SITL numbers them."""
    return j + 2


PX4_TO = 'fmu/in/'             # topics to PX4, relative to the vehicle's namespace
PX4_FROM = 'fmu/out/'          # topics from PX4
PX4_STATUS_TOPIC = 'vehicle_status_v1'   # versioned in v1.16 (MESSAGE_VERSION 1); a parameter where used
# PX4 publishes best effort + transient local and subscribes best effort + volatile; a reliable
# reader never matches its writers
PX4_OUT_QOS = QosSpec(reliability='best_effort', durability='transient_local', depth=1)
PX4_IN_QOS = QosSpec(reliability='best_effort', durability='volatile', depth=1)
PX4_CMD_DO_SET_MODE = 176      # param1 = 1 (custom), param2 = 6: offboard
PX4_CMD_ARM_DISARM = 400       # param1 = 1 arm, 0 disarm
PX4_CMD_INJECT_FAILURE = 420   # param1 = unit (101 motor), param2 = type (1 off), param3 = instance (0 all)
PX4_CMD_NAV_LAND = 21
PX4_MODE_OFFBOARD = 6          # DO_SET_MODE's param2 for offboard
PX4_FAILURE_UNIT_MOTOR = 101
PX4_FAILURE_TYPE_OFF = 1
PX4_NAV_STATES_DOWN = (13,)    # termination: a vehicle in it is down, whatever else it says
PX4_ARMED = 2


@dataclass(frozen=True)
class TopicSpec:
    name: str
    type_name: str                     # 'pkg/msg/Name'
    publishers: Tuple[str, ...]        # node names allowed to publish on it
    qos: QosSpec = field(default_factory=QosSpec)

    @property
    def carries_run_id(self) -> bool:
        """Messages of this package carry the run's identity; foreign types (Clock, markers) do not."""
        return self.type_name.startswith(PACKAGE + '/')


def _t(name: str) -> str:
    return f'{PACKAGE}/msg/{name}'


def graph_topics(num_users: int, num_uavs: int, lease_s: float = 0.5) -> Dict[str, TopicSpec]:
    """Every topic of a graph with I users and J UAVs, by name."""
    i, j = num_users, num_uavs
    specs = [
        TopicSpec(TOPIC_CLOCK, 'rosgraph_msgs/msg/Clock', ('sequencer',), QosSpec(durability='volatile')),
        TopicSpec(TOPIC_PLANT_COMMAND, _t('PlantCommand'), ('sequencer',), per_slot_qos(2)),
        TopicSpec(TOPIC_WORLD_UAVS, _t('UavState'), tuple(PLANTS.values()), per_slot_qos(j)),
        TopicSpec(TOPIC_PLANT_REPORT, _t('FailureReport'), ('px4_bridge',), per_slot_qos(1)),
        TopicSpec(TOPIC_USERS, _t('UserStates'), ('channel_sim',), per_slot_qos(1)),
        TopicSpec(TOPIC_CHANNEL, _t('ChannelState'), ('channel_sim',), per_slot_qos(1)),
        TopicSpec(TOPIC_PLAN, _t('Plan'), ('planner',), per_slot_qos(1)),
        # at most one injected and one detected failure per UAV in an episode: all kept
        TopicSpec(TOPIC_FAILURES, _t('FailureEvent'), ('failure_injector', 'planner', 'px4_bridge'),
                  per_slot_qos(2 * j)),
        TopicSpec(TOPIC_FAILURE_REPORT, _t('FailureReport'), ('failure_injector',), per_slot_qos(1)),
        TopicSpec(TOPIC_TASK_REPORTS, _t('TaskReport'), ('channel_sim',), per_slot_qos(i)),
        TopicSpec(TOPIC_SLOT_METRICS, _t('SlotMetrics'), ('channel_sim',), per_slot_qos(1)),
        TopicSpec(TOPIC_MARKERS, 'visualization_msgs/msg/MarkerArray', ('channel_sim',),
                  QosSpec(durability='volatile')),
        TopicSpec(TOPIC_RECORDER_PROGRESS, _t('RecorderProgress'), ('recorder',), per_slot_qos(1)),
    ]
    for u in range(j):
        specs.append(TopicSpec(uav_state_topic(u), _t('UavState'), (uav_node_name(u),), per_slot_qos(1, lease_s)))
        specs.append(TopicSpec(uav_cmd_topic(u), _t('UavCommand'), (uav_node_name(u),), per_slot_qos(1)))
    return {s.name: s for s in specs}


# the topics the recorder writes to a bag (everything but its own progress)
def recorded_topics(num_users: int, num_uavs: int, lease_s: float = 0.5) -> Dict[str, TopicSpec]:
    topics = graph_topics(num_users, num_uavs, lease_s)
    topics.pop(TOPIC_RECORDER_PROGRESS)
    return topics


# --- array bounds ---------------------------------------------------------------------------------
# Message fields are uint16 for user and UAV ids and per-slot task counts; the scenario's ranges
# (config.py) stay inside them, and nodes reject arrays longer than the graph's I and J before
# looking at them.
MAX_USERS = 65535
MAX_UAVS = 1000


# --- parameters -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParamSpec:
    """A ROS parameter: default (its type), meaning, and range (None: unbounded) or choices."""
    name: str
    default: object
    description: str
    lo: Optional[float] = None
    hi: Optional[float] = None
    choices: Tuple[str, ...] = ()


SCENARIO_PARAMETERS = (
    ParamSpec('run_id', '', 'identity of the run: messages with another run_id are ignored'),
    ParamSpec('scenario_file', '', 'scenario YAML (empty: the package defaults)'),
    ParamSpec('seed', 0, 'episode seed (same seed, same episode as the Gym env)', 0, 2 ** 31 - 1),
    ParamSpec('num_users', 0, 'I, users (0: from the scenario)', 0, MAX_USERS),
    ParamSpec('num_uavs', 0, 'J, UAVs (0: from the scenario)', 0, MAX_UAVS),
    ParamSpec('max_failures', -1, 'F_max (-1: from the scenario)', -1, MAX_UAVS),
    ParamSpec('num_slots', 0, 'T, slots (0: from the scenario)', 0, 1_000_000),
    ParamSpec('failure_schedule', '', '"uav:slot,..." failures (failures.model: schedule); '
                                      'empty: the scenario\'s failure model'),
    ParamSpec('safety', False, 'the safety layer below the planner (scenario key safety.enabled)'),
)

_LEASE = ParamSpec('lease_s', 0.5, 'liveliness lease of the UAV state topics (wall) [s]', 0.05, 60.0)
_PX4_VEHICLES = (
    ParamSpec('px4_namespaces', '', 'PX4 namespace of each UAV, comma-separated (empty: px4_1, px4_2, ...)'),
    ParamSpec('px4_sys_ids', '', 'MAV_SYS_ID of each UAV, comma-separated (empty: 2, 3, ...: instance + 1)'),
)

NODE_PARAMETERS: Dict[str, Tuple[ParamSpec, ...]] = {
    'sequencer': (
        ParamSpec('real_time_factor', 0.0, 'simulated / wall time; 0: as fast as the graph allows', 0.0, 1000.0),
        ParamSpec('startup_wait_s', 3.0, 'wall time to wait for UAV nodes before slot 0 [s]', 0.0, 600.0),
        ParamSpec('wait_for_recorder', False, 'start with the recorder, and let it finish each slot first'),
        _LEASE,
    ),
    'world': (),
    'channel_sim': (
        ParamSpec('plant', 'kinematic', 'what moves the UAVs; px4: a slot is accounted once PX4 has flown it '
                                        '(/plant/report)', choices=tuple(PLANTS)),
    ),
    'planner': (
        ParamSpec('policy', '', 'policy: a baseline name or a policy file; empty: shipped SAC-PER'),
        _LEASE,
        ParamSpec('startup_wait_s', 5.0, 'wall time to wait for a UAV never heard of before slot 0 [s]',
                  0.0, 600.0),
    ),
    'failure_injector': (
        ParamSpec('mode', 'announce', 'how an injected failure shows (px4_motor: a motor failure through '
                                      'PX4, px4 plant only)', choices=INJECTED_FAILURE_MODES),
    ) + _PX4_VEHICLES,
    'px4_bridge': _PX4_VEHICLES + (
        ParamSpec('home_positions', '', 'each vehicle\'s home (its local NED origin) in the world frame, '
                                        '"x,y,z;x,y,z;..." [m, ENU] (empty: on the ground under its start)'),
        ParamSpec('setpoint_rate_hz', 20.0, 'OffboardControlMode + TrajectorySetpoint stream rate [Hz]', 10.0, 100.0),
        ParamSpec('status_topic', PX4_STATUS_TOPIC, 'PX4\'s vehicle status topic (versioned)'),
        ParamSpec('stream_before_offboard_s', 1.0, 'setpoint stream before offboard is asked for [s]', 0.5, 10.0),
        ParamSpec('lease_s', 1.0, 'a vehicle whose vehicle_status stops this long is down (wall) [s]', 0.2, 60.0),
    ),
    'uav': (
        ParamSpec('uav_id', 0, 'j, this UAV\'s 0-based id', 0, MAX_UAVS - 1),
        _LEASE,
        ParamSpec('own_process', False, 'this node has its process to itself (KILL ends it)'),
        ParamSpec('run_torch_layers', False, 'run the real torch tail layers of each task it computes'),
    ),
    'recorder': (
        ParamSpec('bag_path', 'runs/bag', 'output bag folder (must not exist)'),
        ParamSpec('storage', 'sqlite3', 'bag storage plugin', choices=('sqlite3', 'mcap')),
        ParamSpec('policy', '', 'the planner\'s policy, written into the bag\'s /run_info'),
        ParamSpec('failure_mode', 'announce', 'the injector\'s mode, written into the bag\'s /run_info',
                  choices=INJECTED_FAILURE_MODES),
        _LEASE,
    ),
}


# not nodes of a run's graph: no scenario, no run identity (a stand-in plays a PX4 vehicle)
VEHICLE_PARAMETERS: Dict[str, Tuple[ParamSpec, ...]] = {
    'px4_standin': (
        ParamSpec('sys_id', 1, 'MAV_SYS_ID: commands for another target_system are not taken', 1, 255),
        ParamSpec('v_max_mps', 20.0, 'speed limit of its position controller [m/s]', 0.1, 200.0),
        ParamSpec('a_max_mps2', 5.0, 'acceleration limit [m/s^2]', 0.1, 100.0),
        ParamSpec('offboard_loss_s', 1.0, 'COM_OF_LOSS_T: offboard lost after this long without the stream [s]',
                  0.1, 60.0),
        ParamSpec('loss_action', 'hold', 'COM_OBL_RC_ACT: what it does then', choices=('hold', 'land')),
        ParamSpec('failure_injection', True, 'SYS_FAILURE_EN: VEHICLE_CMD_INJECT_FAILURE is honoured'),
        ParamSpec('local_position_hz', 50.0, 'vehicle_local_position rate [Hz]', 1.0, 250.0),
        ParamSpec('status_hz', 5.0, 'vehicle_status rate [Hz]', 0.5, 50.0),
        ParamSpec('status_topic', 'vehicle_status_v1', 'its vehicle status topic (versioned)'),
    ),
}


def parameters_of(module: str) -> Tuple[ParamSpec, ...]:
    """Every parameter a node of this module declares, shared scenario ones first."""
    if module in VEHICLE_PARAMETERS:
        return VEHICLE_PARAMETERS[module]
    return SCENARIO_PARAMETERS + NODE_PARAMETERS[module]


def parameter_defaults(module: str) -> Dict[str, object]:
    """Each parameter's default (what a node declares when nothing is given)."""
    return {p.name: p.default for p in parameters_of(module)}
