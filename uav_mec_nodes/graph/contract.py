"""The graph's contract, without ROS: topics, message types, QoS, who may publish, parameters.

Every node, the launchers, the recorder, the bag and report tools and the
tests read this one module, so a topic, its QoS or its owner is named once.

The slot protocol (one slot t, all on simulated time):
  sequencer      /clock = t delta, /plant/command START t
  plant          /world/uav_states (one UavState per UAV): `world` (kinematic) or `px4_bridge`
  uav_<j>        /uav_<j>/state (its own state), and /uav_<j>/heartbeat from a thread of
                 its own, HEARTBEATS_PER_LEASE a lease: a killed or silenced UAV loses
                 its lease. The lease is held only on heartbeats the guard believed (not
                 on DDS liveliness, which any writer on a topic could assert)
  channel_sim    /users, /channel for slot t (once it has every UAV's world state)
  planner        /plan for slot t (once it has /users, /channel, the plant's states, the
                 injector's report, and a UAV state or a lost lease for every UAV it
                 believes alive that does not fail during t)
  uav_<j>        /uav_<j>/cmd: its command from the plan, relayed to the world
  channel_sim    /task_reports (one per task) and /slot_metrics for slot t
  sequencer      the commands through the safety layer: /plant/command MOVE t (the plant
                 flies them); then t + 1 once the slot's metrics (and the bag) are in, at once
                 with a real-time factor of 0, else after delta / rtf of wall time
  failure_injector  /failures when a UAV fails, and a FailureReport for every slot (the
                 accounting and the world's motion of slot t wait for report t)
  px4_bridge     (--plant px4) /plant/report t once the vehicles have flown slot t in real time,
                 with the failures PX4 reported during it: the slot's accounting waits for it
  recorder       /recorder/progress: slots written in full (`slot_messages`; the world waits for it)

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


def uav_heartbeat_topic(j: int) -> str:
    return f'/uav_{j}/heartbeat'


HEARTBEATS_PER_LEASE = 5   # a UAV's heartbeats a lease: one late or lost sample never costs it its lease


# --- plants ---------------------------------------------------------------------------------------
# what moves the UAVs and reports their states: plant name -> its node's module (and node name)
PLANTS = {'kinematic': 'world', 'px4': 'px4_bridge'}
# plants that fly in wall time (a run at rtf 1) and report what failed in flight on /plant/report, which
# the slot's accounting and recording then wait for
REAL_TIME_PLANTS = ('px4',)
# PlantCommand.kind (msg/PlantCommand.msg's KIND_START, KIND_MOVE), for what reads a bag without ROS
PLANT_START, PLANT_MOVE = 0, 1


# --- failure modes ------------------------------------------------------------------------------
# FailureEvent.mode values; the injector's modes are the first three, and two through PX4 (px4 plant
# only): flight termination (VEHICLE_CMD_DO_FLIGHTTERMINATION) and a motor failure (VEHICLE_CMD_INJECT_FAILURE,
# which SIH and gz ignore in PX4 v1.16); the graph learns of those from PX4's own reports alone
FAILURE_MODES = ('announce', 'silence', 'kill', 'lease lost', 'reported by PX4')
# a FailureEvent of these modes gives the first slot the UAV is down at the start of: lost between slot-1
# and slot (its lease lapsed while the slot was awaited), slot-1 served to the end (model.failures);
# of the others, the slot during which it fails (its tasks of that slot migrate)
LOST_MODES = ('lease lost',)
INJECTED_FAILURE_MODES = FAILURE_MODES[:3] + ('px4_termination', 'px4_motor')
PX4_FAILURE_MODES = ('px4_termination', 'px4_motor')
PX4_END_ACTIONS = ('land', 'hold')


# --- QoS ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QosSpec:
    """A QoS profile as plain data (nodes turn it into rclpy's, the recorder into the bag's)."""
    reliability: str = 'reliable'          # reliable | best_effort
    durability: str = 'transient_local'    # transient_local | volatile
    depth: int = 10                        # KEEP_LAST depth


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


# DDS matches a reader with a writer only where the writer offers at least what the reader requests
# ("request vs offered", DDS 1.4 section 2.2.3; ROS 2's QoS compatibility table): of the policies a QosSpec
# sets, reliability (best_effort < reliable) and durability (volatile < transient_local). Depth never blocks.
QOS_STRENGTH = {'reliability': ('best_effort', 'reliable'), 'durability': ('volatile', 'transient_local')}


def unmet_policies(requested: QosSpec, offered: dict) -> list:
    """The policies ('reliability', 'durability': QosSpec's fields) in which a writer offering `offered`
    ({policy: value}; a value outside QOS_STRENGTH is not judged) falls short of a reader's request: DDS
    never matches the two."""
    return [policy for policy, order in QOS_STRENGTH.items()
            if offered.get(policy) in order and order.index(offered[policy]) < order.index(getattr(requested, policy))]


def reader_qos(spec: QosSpec) -> QosSpec:
    return QosSpec(spec.reliability, spec.durability, max(spec.depth, READER_DEPTH_MIN))


def per_slot_qos(messages_per_slot: int) -> QosSpec:
    return QosSpec(depth=max(HISTORY_SLOTS * max(messages_per_slot, 1), 16))


# heartbeats: only the latest counts, and a late one is worth nothing (a reader's queue still
# takes a flood of forged ones: see READER_DEPTH_MIN)
HEARTBEAT_QOS = QosSpec(reliability='best_effort', durability='volatile', depth=1)


# --- PX4 (v1.16) on the wire: ../shared/px4/README.md -----------------------------------------
def px4_namespace(j: int) -> str:
    """UAV j flies PX4 instance j + 1, which runs in namespace px4_<j+1> (instance 0 has none)."""
    return f'px4_{j + 1}'


def px4_sys_id(j: int) -> int:
    """MAV_SYS_ID of UAV j's PX4: its instance + 1, as PX4's SITL numbers them."""
    return j + 2


PX4_TO = 'fmu/in/'             # topics to PX4, relative to the vehicle's namespace
PX4_FROM = 'fmu/out/'          # topics from PX4
# The topics a bridge uses, by direction, with their MESSAGE_VERSION in PX4 v1.16 (a version N > 0
# appends _v<N> to the topic: dds_topics.yaml); later PX4 releases raise them, so they are a parameter
PX4_IN_TOPICS = {'offboard_control_mode': 'OffboardControlMode', 'trajectory_setpoint': 'TrajectorySetpoint',
                 'vehicle_command': 'VehicleCommand'}
PX4_OUT_TOPICS = {'vehicle_local_position': 'VehicleLocalPosition', 'vehicle_status': 'VehicleStatus',
                  'vehicle_command_ack': 'VehicleCommandAck'}
PX4_MESSAGE_VERSIONS = 'vehicle_status=1'   # v1.16: only VehicleStatus is versioned
# PX4 publishes best effort + transient local and subscribes best effort + volatile; a reliable
# reader never matches its writers
PX4_OUT_QOS = QosSpec(reliability='best_effort', durability='transient_local', depth=1)
PX4_IN_QOS = QosSpec(reliability='best_effort', durability='volatile', depth=1)
# VehicleCommand ids (vehicle_command.msg) and DO_SET_MODE's PX4 custom modes (px4_custom_mode.h)
PX4_CMD_NAV_LAND = 21
PX4_CMD_DO_SET_MODE = 176      # param1 = 1 (custom), param2 = main mode, param3 = sub mode
PX4_CMD_DO_FLIGHTTERMINATION = 185   # param1 = 1: terminate (armed only)
PX4_CMD_ARM_DISARM = 400       # param1 = 1 arm, 0 disarm
PX4_CMD_INJECT_FAILURE = 420   # param1 = unit (101 motor), param2 = type (1 off), param3 = instance (0 all)
PX4_MODE_POSCTL = 3            # DO_SET_MODE's param2 (custom main mode)
PX4_MODE_AUTO = 4
PX4_MODE_OFFBOARD = 6
PX4_SUBMODE_AUTO_LOITER = 3    # param3 with PX4_MODE_AUTO: Hold
PX4_SUBMODE_AUTO_LAND = 6
PX4_FAILURE_UNIT_MOTOR = 101
PX4_FAILURE_TYPE_OFF = 1
# vehicle_status.nav_state values (VehicleStatus.msg)
PX4_NAV_POSCTL, PX4_NAV_LOITER, PX4_NAV_TERMINATION, PX4_NAV_OFFBOARD, PX4_NAV_LAND = 2, 4, 13, 14, 18
PX4_NAV_STATES_DOWN = (PX4_NAV_TERMINATION,)   # a vehicle in it is down, whatever else it says
PX4_DISARMED, PX4_ARMED = 1, 2
PX4_RESULTS = ('ACCEPTED', 'TEMPORARILY_REJECTED', 'DENIED', 'UNSUPPORTED', 'FAILED', 'IN_PROGRESS', 'CANCELLED')


def px4_result_name(result: int) -> str:
    """A VehicleCommandAck result as PX4 names it (VehicleCommandAck.msg)."""
    return PX4_RESULTS[result] if 0 <= result < len(PX4_RESULTS) else f'result {result}'


def parse_px4_versions(text: str) -> Dict[str, int]:
    """'vehicle_status=1,...' -> {topic: MESSAGE_VERSION}; a ValueError names what is wrong."""
    versions = {}
    for item in (i.strip() for i in text.split(',') if i.strip()):
        name, _, value = item.partition('=')
        if name.strip() not in {**PX4_IN_TOPICS, **PX4_OUT_TOPICS} or not value.strip().isdigit():
            raise ValueError(f'expected "topic=N,..." over {sorted({**PX4_IN_TOPICS, **PX4_OUT_TOPICS})}, '
                             f'got {item!r}')
        versions[name.strip()] = int(value)
    return versions


def px4_topic(namespace: str, name: str, versions: Dict[str, int]) -> str:
    """The full topic of one of PX4's messages for the vehicle in `namespace` ('' : no namespace)."""
    direction = PX4_TO if name in PX4_IN_TOPICS else PX4_FROM
    suffix = f'_v{versions[name]}' if versions.get(name, 0) > 0 else ''
    return f'/{namespace}/{direction}{name}{suffix}' if namespace else f'/{direction}{name}{suffix}'


def px4_topics(namespaces, versions_text: str = PX4_MESSAGE_VERSIONS) -> Dict[str, 'TopicSpec']:
    """Every PX4 topic of these vehicles with PX4's QoS, for recording (their writers are PX4's or the bridge's)."""
    versions = parse_px4_versions(versions_text)
    specs = {}
    for ns in namespaces:
        for name, type_name in {**PX4_IN_TOPICS, **PX4_OUT_TOPICS}.items():
            qos = PX4_IN_QOS if name in PX4_IN_TOPICS else PX4_OUT_QOS
            topic = px4_topic(ns, name, versions)
            specs[topic] = TopicSpec(topic, f'px4_msgs/msg/{type_name}', (), qos)
    return specs


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


def graph_topics(num_users: int, num_uavs: int) -> Dict[str, TopicSpec]:
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
        specs.append(TopicSpec(uav_state_topic(u), _t('UavState'), (uav_node_name(u),), per_slot_qos(1)))
        specs.append(TopicSpec(uav_heartbeat_topic(u), _t('Heartbeat'), (uav_node_name(u),), HEARTBEAT_QOS))
        specs.append(TopicSpec(uav_cmd_topic(u), _t('UavCommand'), (uav_node_name(u),), per_slot_qos(1)))
    return {s.name: s for s in specs}


# the topics the recorder writes to a bag (everything but its own progress and the heartbeats,
# which carry no slot: a lost lease is in the bag as a FailureEvent)
def recorded_topics(num_users: int, num_uavs: int) -> Dict[str, TopicSpec]:
    topics = graph_topics(num_users, num_uavs)
    topics.pop(TOPIC_RECORDER_PROGRESS)
    for u in range(num_uavs):
        topics.pop(uav_heartbeat_topic(u))
    return topics


def slot_messages(num_users: int, num_uavs: int, real_time_plant: bool) -> Dict[str, int]:
    """What the graph publishes for every slot t (each message carries t), by topic: START, the plant's
    states, /users and /channel, the plan, the injector's report (and a real-time plant's), every task's
    report and the metrics: all sent before the world moves on to t + 1, so the recorder calls a slot
    recorded only once the bag holds them all (and the failure events the slot's reports list, and the
    MOVE of slot t - 1: MOVE t often follows the metrics, and waiting for it would cost every slot a
    round trip)."""
    parts = {TOPIC_PLANT_COMMAND: 1, TOPIC_WORLD_UAVS: num_uavs, TOPIC_USERS: 1, TOPIC_CHANNEL: 1, TOPIC_PLAN: 1,
             TOPIC_FAILURE_REPORT: 1, TOPIC_TASK_REPORTS: num_users, TOPIC_SLOT_METRICS: 1}
    if real_time_plant:
        parts[TOPIC_PLANT_REPORT] = 1
    return parts


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


# A PX4 stand-in's parameters: PX4's own, by their names in lower case, with PX4 v1.16's defaults
# (docs/px4.md names the source of each), then the stand-in's. px4.vehicle.Px4Params is made from them.
PX4_VEHICLE_PARAMETERS = (
    ParamSpec('mav_sys_id', 1, 'MAV_SYS_ID: commands for another target_system are not taken', 1, 255),
    ParamSpec('com_of_loss_t', 1.0, 'COM_OF_LOSS_T: the offboard signal is lost this long after the newest '
                                    'OffboardControlMode [s]', 0.0, 60.0),
    ParamSpec('com_obl_rc_act', 0, 'COM_OBL_RC_ACT: offboard loss action: 0 position, 4 land, 5 hold, 6 terminate '
                                   '(the ones simulated)', choices=(0, 4, 5, 6)),
    ParamSpec('com_disarm_land', 2.0, 'COM_DISARM_LAND: disarm this long after landing [s]', 0.0, 20.0),
    ParamSpec('com_disarm_prflt', 10.0, 'COM_DISARM_PRFLT: disarm if not taken off this long after arming and '
                                        'spool-up [s]; <= 0: never', -1.0, 60.0),
    ParamSpec('com_spoolup_time', 1.0, 'COM_SPOOLUP_TIME: after arming, no thrust for this long [s]', 0.0, 30.0),
    ParamSpec('mpc_xy_vel_max', 12.0, 'MPC_XY_VEL_MAX: horizontal speed limit [m/s]', 0.0, 20.0),
    ParamSpec('mpc_z_vel_max_up', 3.0, 'MPC_Z_VEL_MAX_UP: climb speed limit [m/s]', 0.5, 8.0),
    ParamSpec('mpc_z_vel_max_dn', 1.5, 'MPC_Z_VEL_MAX_DN: descent speed limit [m/s]', 0.5, 4.0),
    ParamSpec('mpc_tiltmax_air', 45.0, 'MPC_TILTMAX_AIR: tilt limit, so horizontal acceleration <= g tan [deg]',
              20.0, 89.0),
    ParamSpec('mpc_xy_p', 0.95, 'MPC_XY_P: horizontal position gain [1/s]', 0.0, 2.0),
    ParamSpec('mpc_z_p', 1.0, 'MPC_Z_P: vertical position gain [1/s]', 0.1, 1.5),
    ParamSpec('mpc_xy_vel_p_acc', 1.8, 'MPC_XY_VEL_P_ACC: horizontal velocity gain [1/s]', 1.2, 5.0),
    ParamSpec('mpc_z_vel_p_acc', 4.0, 'MPC_Z_VEL_P_ACC: vertical velocity gain [1/s]', 2.0, 15.0),
    ParamSpec('mpc_land_speed', 0.7, 'MPC_LAND_SPEED: land descent speed below MPC_LAND_ALT2 [m/s]', 0.6, 4.0),
    ParamSpec('mpc_land_alt1', 10.0, 'MPC_LAND_ALT1: height below which land slows down from MPC_Z_VEL_MAX_DN [m]',
              0.0, 122.0),
    ParamSpec('mpc_land_alt2', 5.0, 'MPC_LAND_ALT2: height below which land descends at MPC_LAND_SPEED [m]',
              0.0, 122.0),
    ParamSpec('uxrce_dds_synct', True, 'UXRCE_DDS_SYNCT: time sync with the agent (received stamps are '
                                       'shifted by the agent\'s clock)'),
    ParamSpec('ekf_align_s', 1.0, 'not PX4\'s: seconds after boot before the local position is valid', 0.0, 60.0),
)

# not nodes of a run's graph: no scenario, no run identity (a stand-in plays a PX4 vehicle)
VEHICLE_PARAMETERS: Dict[str, Tuple[ParamSpec, ...]] = {
    'px4_standin': PX4_VEHICLE_PARAMETERS + (
        ParamSpec('local_position_hz', 100.0, 'vehicle_local_position rate [Hz] (the uXRCE-DDS client sends '
                                              'a topic at 100 Hz at most)', 1.0, 100.0),
        ParamSpec('px4_message_versions', PX4_MESSAGE_VERSIONS, 'MESSAGE_VERSION of PX4\'s versioned topics, '
                                                                '"topic=N,..." (v1.16: vehicle_status=1)'),
    ),
}
