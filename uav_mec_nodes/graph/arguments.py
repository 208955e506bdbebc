"""The run arguments of the graph, each declared once: name, type, default, range or choices, help.

The launch file's arguments (with their descriptions and choices) come from this
table, and its values are parsed and checked here, so an error names the launch
argument (`num_uavs:=abc: expected an integer in [0, 1000]`). ROS-free.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from uav_mec_nodes.graph.contract import INJECTED_FAILURE_MODES, MAX_UAVS, MAX_USERS, PLANTS, PX4_END_ACTIONS
from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.graph.isolation import DISCOVERY_RANGES, DOMAIN_MAX

BOOL_WORDS = ('true', 'false')   # what launch takes for a boolean (its choices are compared as text)


def _num(value) -> str:
    """A bound as people write it: 1000000, 0.05."""
    return str(int(value)) if float(value).is_integer() else f'{value:g}'


@dataclass(frozen=True)
class RunArgument:
    name: str                       # the GraphConfig field and the launch argument
    type: type                      # int | float | str | bool
    default: object
    help: str
    lo: Optional[float] = None
    hi: Optional[float] = None
    choices: Tuple[str, ...] = ()

    @property
    def launch_default(self) -> str:
        return str(self.default).lower() if self.type is bool else str(self.default)

    @property
    def launch_choices(self) -> Optional[list]:
        if self.type is bool:
            return list(BOOL_WORDS)
        return list(self.choices) or None

    @property
    def description(self) -> str:
        """The help with the allowed range (launch appends the choices itself)."""
        if self.lo is not None:
            return f'{self.help}; in [{_num(self.lo)}, {_num(self.hi)}]'
        return self.help

    def parse(self, text: str, spelled: str = '{name}:={value}'):
        """The typed value of a launch argument's text; a UserInputError names the argument."""
        where = spelled.format(name=self.name, value=text)
        if self.type is bool:
            if text.lower() not in BOOL_WORDS:
                raise UserInputError(f'{where}: expected true or false')
            return text.lower() == 'true'
        if self.choices and text not in self.choices:
            raise UserInputError(f'{where}: must be one of {list(self.choices)}')
        if self.type in (int, float):
            kind = 'an integer' if self.type is int else 'a number'
            try:
                value = self.type(text)
            except ValueError:
                raise UserInputError(f'{where}: expected {kind} in [{_num(self.lo)}, {_num(self.hi)}]') from None
            if not self.lo <= value <= self.hi:
                raise UserInputError(f'{where}: expected {kind} in [{_num(self.lo)}, {_num(self.hi)}]')
            return value
        return text


RUN_ARGUMENTS = (
    RunArgument('num_users', int, 0, 'I, mobile users (0: from the scenario)', 0, MAX_USERS),
    RunArgument('num_uavs', int, 0, 'J, UAVs (0: from the scenario)', 0, MAX_UAVS),
    RunArgument('num_slots', int, 0, 'T, slots of the episode (0: from the scenario)', 0, 1_000_000),
    RunArgument('max_failures', int, -1, 'F_max, most UAV failures (-1: from the scenario)', -1, MAX_UAVS),
    RunArgument('seed', int, 0, 'episode seed (the same seed gives the Gym env\'s numbers)', 0, 2 ** 31 - 1),
    RunArgument('scenario_file', str, '', 'scenario YAML (empty: the package defaults)'),
    RunArgument('failure_mode', str, 'announce', 'how an injected failure shows; px4_termination and px4_motor '
                                                 'go through PX4 (plant px4 only)', choices=INJECTED_FAILURE_MODES),
    RunArgument('failure_schedule', str, '', '"uav:slot,..." failures (empty: the scenario\'s failure model)'),
    RunArgument('policy', str, '', 'a baseline name or a policy file (empty: the shipped SAC-PER policy)'),
    RunArgument('record', bool, True, 'record the run into a bag'),
    RunArgument('bag_path', str, '', 'the bag folder, which must not exist (empty: runs/launch/<run id>/bag)'),
    RunArgument('storage', str, 'sqlite3', 'bag storage plugin', choices=('sqlite3', 'mcap')),
    RunArgument('real_time_factor', float, 0.0, 'simulated over wall time; 0: as fast as the graph allows '
                                                '(plant px4: always 1)', 0.0, 1000.0),
    RunArgument('lease_s', float, 0.5, 'liveliness lease of the UAVs\' state topics [s]', 0.05, 60.0),
    RunArgument('missing_uavs', str, '', 'UAV ids whose nodes are not started, "2,3" (drills)'),
    RunArgument('run_id', str, '', 'the run\'s identity (empty: a new one)'),
    RunArgument('domain_id', str, 'auto', f'DDS domain: auto (one no other uav-mec run on this host holds) or '
                                          f'0-{DOMAIN_MAX}'),
    RunArgument('discovery', str, 'localhost', 'DDS discovery and transport: localhost (this host, loopback) or '
                                               'subnet', choices=DISCOVERY_RANGES),
    RunArgument('safety', bool, True, 'the safety layer below the planner'),
    RunArgument('plant', str, 'kinematic', 'what moves the UAVs: kinematic (the world node) or px4 (the PX4 '
                                           'bridge, in real time)', choices=tuple(PLANTS)),
    RunArgument('px4_external', bool, False, 'plant px4: fly PX4 vehicles already running (false: start a PX4 '
                                             'stand-in per UAV)'),
    RunArgument('px4_homes', str, '', 'plant px4: each vehicle\'s home in the world frame, "x,y,z;..." [m] '
                                      '(empty: on the ground under its start point)'),
    RunArgument('px4_end_action', str, 'land', 'plant px4: what the vehicles do when the episode ends',
                choices=PX4_END_ACTIONS),
    RunArgument('px4_takeoff_timeout_s', float, 0.0, 'plant px4: a vehicle\'s take-off fails after this long [s] '
                                                     '(0: its climb at 1 m/s plus 60 s)', 0.0, 3600.0),
)
BY_NAME: Dict[str, RunArgument] = {a.name: a for a in RUN_ARGUMENTS}
