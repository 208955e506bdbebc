"""The run arguments of the graph, each declared once: name, type, default, range or choices, help.

From this table come: GraphConfig's fields (graph/layout.py), the `uav-mec run` flags
(and the scenario flags every subcommand shares), the launch file's arguments with
their descriptions and choices, the node parameters of the nodes that read them
(with the node-only ones below, NODE_PARAMETERS), and so params.yaml. A test checks
they agree. Errors name the flag (`--users: ...`) or the launch argument
(`num_uavs:=abc: ...`). ROS-free.
"""
from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.graph.contract import (INJECTED_FAILURE_MODES, MAX_UAVS, MAX_USERS, PLANTS, PX4_END_ACTIONS,
                                          PX4_MESSAGE_VERSIONS, VEHICLE_PARAMETERS, ParamSpec)
from uav_mec_nodes.graph.isolation import CONTENT_FILTERS, DISCOVERY_RANGES, DOMAIN_MAX, parse_domain

GRAPH_PARTS = ('all', 'core', 'uavs')   # --nodes: the whole graph, or one host's part of a split one
RUN_ID = re.compile(r'[A-Za-z0-9_-]{1,64}')   # quotable in a DDS content filter as it is
BOOL_WORDS = ('true', 'false')   # what launch takes for a boolean (its choices are compared as text)
SEED_MAX = 2 ** 31 - 1
EVERY_NODE = '*'


def _num(value) -> str:
    """A bound as people write it: 1000000, 0.05."""
    return str(int(value)) if float(value).is_integer() else f'{value:g}'


def parse_missing(text: Optional[str]) -> Tuple[int, ...]:
    """'1,2' -> (1, 2): UAV nodes not started."""
    if not text:
        return ()
    try:
        return tuple(int(v) for v in text.split(',') if v.strip())
    except ValueError:
        raise UserInputError('expected UAV ids separated by commas (e.g. "1,2")') from None


@dataclass(frozen=True)
class RunArgument:
    name: str                       # GraphConfig's field, the launch argument and the node parameter
    type: type                      # int | float | str | bool
    default: object                 # the unset value where `unset` says so
    help: str
    lo: Optional[float] = None      # the range of a value given (None: unbounded)
    hi: Optional[float] = None
    choices: Tuple[str, ...] = ()
    flag: str = ''                  # the `uav-mec run` flag ('': none)
    switch: bool = False            # a boolean flag without a value (store_true); other booleans take on|off
    launch: bool = True             # a launch argument
    nodes: Tuple[str, ...] = ()     # the node modules that declare it as a parameter (EVERY_NODE: all of the graph)
    unset: object = None            # a value that means "not given" and passes the range (0: the scenario's)
    convert: Optional[Callable] = None   # text (flag, launch) -> GraphConfig's value

    # --- the surfaces ---------------------------------------------------------------------------
    @property
    def dest(self) -> str:
        """The argparse attribute of the flag."""
        return self.flag[2:].replace('-', '_')

    @property
    def allowed(self) -> str:
        """The range or choices, in words."""
        if self.type is bool:
            return 'on or off' if not self.switch else ''
        if self.choices:
            return 'one of ' + ', '.join(self.choices)
        if self.lo is not None:
            return f'in [{_num(self.lo)}, {_num(self.hi)}]'
        return ''

    @property
    def description(self) -> str:
        """The help with the allowed range (launch appends choices itself)."""
        if self.lo is not None:
            return f'{self.help}; in [{_num(self.lo)}, {_num(self.hi)}]'
        return self.help

    @property
    def launch_default(self) -> str:
        return str(self.default).lower() if self.type is bool else str(self.default)

    @property
    def launch_choices(self) -> Optional[list]:
        if self.type is bool:
            return list(BOOL_WORDS)
        return list(self.choices) or None

    def add_flag(self, parser: argparse.ArgumentParser) -> None:
        """The flag on a subcommand; not given leaves None (GraphConfig's default then)."""
        more = self.allowed
        text = f'{self.help}' + (f' ({more})' if more else '')
        if self.switch:
            parser.add_argument(self.flag, dest=self.dest, action='store_true', default=None, help=text)
        elif self.type is bool:
            parser.add_argument(self.flag, dest=self.dest, choices=('on', 'off'), help=text)
        else:
            parser.add_argument(self.flag, dest=self.dest, type=self.type if self.type is not str else str,
                                choices=self.choices or None, help=text.replace('%', '%%'))

    def param_spec(self) -> ParamSpec:
        """The node parameter: the same name, type, default, range (the unset value included) and help."""
        lo = None if self.lo is None else min(self.lo, self.unset) if self.unset is not None else self.lo
        return ParamSpec(self.name, self.default, self.help, lo, self.hi, self.choices)

    # --- values ----------------------------------------------------------------------------------
    def check(self, value, where: str, allow_unset: bool = True):
        """A given value in range (or the unset one, where allowed), converted; a UserInputError names `where`."""
        if allow_unset and self.unset is not None and value == self.unset:
            return value
        if self.lo is not None and not self.lo <= value <= self.hi:
            raise UserInputError(f'{where}: must be in [{_num(self.lo)}, {_num(self.hi)}], got {value}')
        if self.choices and value not in self.choices:
            raise UserInputError(f'{where}: must be one of {list(self.choices)}, got {value!r}')
        if self.convert is not None:
            try:
                return self.convert(value)
            except UserInputError as exc:
                raise UserInputError(f'{where}: {exc}') from None
        return value

    def parse(self, text: str):
        """The typed value of a launch argument's text; a UserInputError names the argument."""
        where = f'{self.name}:={text}'
        if self.type is bool:
            if text.lower() not in BOOL_WORDS:
                raise UserInputError(f'{where}: expected true or false')
            return text.lower() == 'true'
        if self.type in (int, float):
            kind = 'an integer' if self.type is int else 'a number'
            try:
                value = self.type(text)
            except ValueError:
                raise UserInputError(f'{where}: expected {kind} in [{_num(self.lo)}, {_num(self.hi)}]') from None
            if not (self.unset is not None and value == self.unset) and not self.lo <= value <= self.hi:
                raise UserInputError(f'{where}: expected {kind} in [{_num(self.lo)}, {_num(self.hi)}]')
            return self.check(value, where)
        return self.check(text, where)


def _flag_bool(value) -> bool:
    return value if isinstance(value, bool) else value == 'on'


RUN_ARGUMENTS = (
    RunArgument('num_users', int, 0, 'I, mobile users (0: the scenario\'s)', 1, MAX_USERS, flag='--users',
                nodes=(EVERY_NODE,), unset=0),
    RunArgument('num_uavs', int, 0, 'J, UAVs (0: the scenario\'s)', 1, MAX_UAVS, flag='--uavs',
                nodes=(EVERY_NODE,), unset=0),
    RunArgument('num_slots', int, 0, 'T, slots of the episode (0: the scenario\'s)', 1, 1_000_000, flag='--slots',
                nodes=(EVERY_NODE,), unset=0),
    RunArgument('max_failures', int, -1, 'F_max, most UAV failures (-1: the scenario\'s)', 0, MAX_UAVS,
                flag='--max-failures', nodes=(EVERY_NODE,), unset=-1),
    RunArgument('seed', int, 0, 'episode seed (the same seed gives the Gym env\'s numbers)', 0, SEED_MAX,
                flag='--seed', nodes=(EVERY_NODE,)),
    RunArgument('scenario_file', str, '', 'scenario YAML (empty: the package defaults, config/scenario.yaml)',
                flag='--config', nodes=(EVERY_NODE,)),
    RunArgument('failure_schedule', str, '', '"uav:slot,..." failures (empty: the scenario\'s failure model)',
                flag='--failure-schedule', nodes=(EVERY_NODE,)),
    RunArgument('safety', bool, True, 'the safety layer below the planner for every plant (area margin, '
                                      'altitude band, speed and acceleration limits, d_safe); it decides, whatever '
                                      'the scenario YAML says (off: the paper\'s dynamics)',
                flag='--safety', nodes=(EVERY_NODE,)),
    RunArgument('run_id', str, '', 'the run\'s identity: messages with another are ignored (empty: a new one; '
                                   'a graph split over hosts: the same one on each, 1-64 of A-Z a-z 0-9 _ -)',
                flag='--run-id', nodes=(EVERY_NODE,)),
    RunArgument('nodes', str, 'all', 'the nodes this host starts: all, core (every node but the UAVs\') or uavs '
                                     '(the UAV nodes; start them first); a graph split over hosts needs the same '
                                     '--run-id, --domain-id, scenario and seed on each', choices=GRAPH_PARTS,
                flag='--nodes'),
    RunArgument('failure_mode', str, 'announce', 'how an injected failure shows; px4_termination and px4_motor '
                                                 'go through PX4 (plant px4 only)', choices=INJECTED_FAILURE_MODES,
                flag='--failure-mode', nodes=('failure_injector', 'recorder')),
    RunArgument('policy', str, '', 'a baseline name or a policy file, either with polish: before it (empty: the '
                                   'shipped SAC-PER policy)', flag='--policy', nodes=('planner', 'recorder')),
    RunArgument('record', bool, True, 'record the run into a bag (`uav-mec run` always does)'),
    RunArgument('bag_path', str, '', 'the bag folder, which must not exist (empty: runs/<run id>/bag; '
                                     '`uav-mec run`: --out/bag)', nodes=('recorder',)),
    RunArgument('storage', str, 'sqlite3', 'bag storage plugin', choices=('sqlite3', 'mcap'), flag='--storage',
                nodes=('recorder',)),
    RunArgument('real_time_factor', float, 0.0, 'simulated over wall time; 0: as fast as the graph allows '
                                                '(plant px4: 1, the only one PX4 flies at)', 0.0, 1000.0,
                flag='--rtf', nodes=('sequencer',)),
    RunArgument('lease_s', float, 0.0, 'a UAV is down once no heartbeat of its own was heard for this long [s] '
                                       '(0: 0.5 s, or 5 s with every node in one process)', 0.05, 60.0, unset=0.0,
                nodes=('sequencer', 'planner', 'uav')),
    RunArgument('missing_uavs', str, '', 'UAV ids whose nodes are not started, "2,3" (a drill)',
                flag='--missing-uavs', convert=parse_missing),
    RunArgument('run_torch_layers', bool, False, 'UAV nodes run the real torch tail layers of their tasks (slow)',
                flag='--run-torch-layers', switch=True, launch=False, nodes=('uav',)),
    RunArgument('domain_id', str, 'auto', f'DDS domain: auto (one no other uav-mec run on this host holds) or '
                                          f'0-{DOMAIN_MAX}', flag='--domain-id', convert=parse_domain),
    RunArgument('discovery', str, 'localhost', 'DDS discovery and transport: localhost (this host, loopback) or '
                                               'subnet', choices=DISCOVERY_RANGES, flag='--discovery'),
    RunArgument('content_filters', str, 'on', 'DDS content filters that drop another run\'s messages (and a UAV '
                                              'node\'s other UAVs\') before Python: on; off (a tenth faster in one '
                                              'process, but a flood of another run\'s messages on the domain can '
                                              'stall the run); or auto (off where the run picked its domain and '
                                              'holds it alone with localhost discovery, else on)',
                choices=CONTENT_FILTERS, flag='--content-filters', nodes=(EVERY_NODE,)),
    RunArgument('timeout_s', float, 0.0, 'stop the run after this many seconds of wall time (0: twice its '
                                         'simulated time, or 10 s a slot, plus 5 min)', 0.0, 1e7, flag='--timeout',
                launch=False),
    RunArgument('plant', str, 'kinematic', 'what moves the UAVs: kinematic (the world node) or px4 (the PX4 '
                                           'bridge, in real time)', choices=tuple(PLANTS), flag='--plant',
                nodes=('channel_sim', 'recorder')),
    RunArgument('px4_external', bool, False, 'plant px4: fly PX4 vehicles already running on this domain (SITL or '
                                             'real; otherwise a PX4 stand-in per UAV)', flag='--px4-external',
                switch=True),
    RunArgument('px4_homes', str, '', 'plant px4: each vehicle\'s home (its local NED origin) in the world frame, '
                                      '"x,y,z;..." [m] (empty: on the ground under its start point)',
                flag='--px4-homes', nodes=('px4_bridge',)),
    RunArgument('px4_end_action', str, 'land', 'plant px4: what the vehicles do when the episode ends: land (and '
                                               'disarm) or hold (PX4\'s Hold mode)', choices=PX4_END_ACTIONS,
                flag='--px4-end-action', nodes=('px4_bridge',)),
    RunArgument('px4_takeoff_timeout_s', float, 0.0, 'plant px4: a vehicle\'s take-off fails after this long [s] '
                                                     '(0: its climb at 1 m/s plus 60 s)', 0.0, 3600.0,
                flag='--px4-takeoff-timeout', nodes=('px4_bridge',)),
)
BY_NAME: Dict[str, RunArgument] = {a.name: a for a in RUN_ARGUMENTS}
SCENARIO_FLAGS = ('scenario_file', 'num_users', 'num_uavs', 'max_failures')   # every subcommand's scenario


# --- node parameters: the run arguments a node reads, and its own -------------------------------------
DEFAULT_LEASE_S = 0.5   # lease_s 0 in a node of its own process (ros2 run)
_PX4_VEHICLES = (
    ParamSpec('px4_namespaces', '', 'PX4 namespace of each UAV, comma-separated (empty: px4_1, px4_2, ...)'),
    ParamSpec('px4_sys_ids', '', 'MAV_SYS_ID of each UAV, comma-separated (empty: 2, 3, ...: instance + 1)'),
    ParamSpec('px4_message_versions', PX4_MESSAGE_VERSIONS, 'MESSAGE_VERSION of PX4\'s versioned topics, '
                                                            '"topic=N,..." (v1.16: vehicle_status=1)'),
)
NODE_ONLY: Dict[str, Tuple[ParamSpec, ...]] = {
    'sequencer': (
        ParamSpec('startup_wait_s', 3.0, 'wall time to wait for UAV nodes before slot 0 [s]', 0.0, 600.0),
        ParamSpec('wait_for_recorder', False, 'start with the recorder, and let it finish each slot first'),
    ),
    'world': (),
    'channel_sim': (),
    'planner': (
        ParamSpec('startup_wait_s', 5.0, 'wall time to wait for a UAV never heard of before slot 0 [s]',
                  0.0, 600.0),
    ),
    'failure_injector': (
        ParamSpec('px4_motor_instance', 1, 'px4_motor: the motor to fail (1..8; 0 = all, as PX4 reads it)', 0, 8),
    ) + _PX4_VEHICLES,
    'px4_bridge': _PX4_VEHICLES + (
        ParamSpec('setpoint_rate_hz', 20.0, 'OffboardControlMode + TrajectorySetpoint stream rate [Hz]', 10.0, 100.0),
        ParamSpec('stream_before_offboard_s', 1.0, 'setpoint stream before offboard is asked for [s]', 0.5, 10.0),
        ParamSpec('px4_lease_s', 1.5, 'a vehicle none of whose vehicle_status and vehicle_local_position arrives '
                                      'for this long is down (wall) [s]; vehicle_status alone comes at 2 Hz',
                  0.6, 60.0),
        ParamSpec('end_timeout_s', 0.0, 'the bridge waits this long (wall) [s] for the vehicles to land or hold; '
                                        '0: the descent at 0.7 m/s plus 30 s', 0.0, 3600.0),
    ),
    'uav': (
        ParamSpec('uav_id', 0, 'j, this UAV\'s 0-based id', 0, MAX_UAVS - 1),
        ParamSpec('own_process', False, 'this node has its process to itself (KILL ends it)'),
    ),
    'recorder': _PX4_VEHICLES,
}


def parameters_of(module: str) -> Tuple[ParamSpec, ...]:
    """Every parameter a node of this module declares: the run arguments it reads, then its own."""
    if module in VEHICLE_PARAMETERS:
        return VEHICLE_PARAMETERS[module]
    shared = tuple(a.param_spec() for a in RUN_ARGUMENTS if EVERY_NODE in a.nodes or module in a.nodes)
    return shared + NODE_ONLY.get(module, ())


def parameter_defaults(module: str) -> Dict[str, object]:
    """Each parameter's default (what a node declares when nothing is given)."""
    return {p.name: p.default for p in parameters_of(module)}


def add_flags(parser: argparse.ArgumentParser, names) -> None:
    for name in names:
        BY_NAME[name].add_flag(parser)


def given_flags(args: argparse.Namespace, names) -> Dict[str, object]:
    """The run arguments given as flags, checked and converted: {name: value} (a flag not given is absent)."""
    out = {}
    for name in names:
        a = BY_NAME[name]
        value = getattr(args, a.dest, None)
        if value is not None:
            out[name] = a.check(_flag_bool(value) if a.type is bool else value, a.flag, allow_unset=False)
    return out
