"""The ROS graph of one run: which nodes, with which parameters, in one place.

Both launchers read this: `uav_mec_nodes.graph.launcher` (the package's own, one
process or one process per node) and `launch/sim.launch.py` (ros2 launch).
Parameter names, defaults and ranges come from `uav_mec_nodes.graph.contract`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from uav_mec_nodes.graph.contract import (INJECTED_FAILURE_MODES, MAX_UAVS, MAX_USERS, PLANTS, PX4_END_ACTIONS,
                                    PX4_FAILURE_MODES, parameter_defaults, uav_node_name)
from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.graph.isolation import DISCOVERY_RANGES, DOMAIN_MAX

FAILURE_MODES = INJECTED_FAILURE_MODES
STALL_S = 300.0     # a run with no slot finished for this long has stalled
# the run is over when these are done (the PX4 bridge: once its vehicles have landed or hold)
FINISHERS = ('sequencer', 'channel_sim', 'recorder', 'px4_bridge')
CORE = tuple(dict.fromkeys(FINISHERS + ('planner', 'failure_injector') + tuple(PLANTS.values())))   # needed to go on


@dataclass
class GraphConfig:
    """The arguments of a run (the launch arguments users of multi-drone stacks expect)."""
    num_users: int = 0                 # 0: from the scenario (I=10)
    num_uavs: int = 0                  # 0: from the scenario (J=3)
    num_slots: int = 0                 # 0: from the scenario (T=60)
    max_failures: int = -1             # -1: from the scenario (F_max=1)
    seed: int = 0
    scenario_file: str = ''
    failure_mode: str = 'announce'     # announce | silence | kill
    failure_schedule: str = ''         # "uav:slot,..."; empty: the scenario's failure model
    policy: str = ''                   # baseline name or policy file; empty: the shipped SAC-PER policy
    record: bool = True
    bag_path: str = 'runs/main/bag'
    storage: str = 'sqlite3'
    real_time_factor: float = 0.0
    lease_s: float = 0.0               # UAV liveliness lease [s]; 0: 0.5 s, or 5 s with all nodes in one
                                       # process (a long planner step there delays the UAVs' callbacks)
    run_torch_layers: bool = False
    missing_uavs: Tuple[int, ...] = field(default_factory=tuple)   # UAV nodes not started (tests, drills)
    run_id: str = ''                   # '' : a new one per run (isolation.new_run_id)
    domain_id: Optional[int] = None    # None: a free one of isolation.AUTO_DOMAINS
    discovery: str = 'localhost'       # localhost | subnet (ROS_AUTOMATIC_DISCOVERY_RANGE)
    timeout_s: float = 0.0             # 0: derived from the slots and the real-time factor (timeout_for)
    safety: bool = True                # the safety layer below the planner (model/safety.py) for every plant
    plant: str = 'kinematic'           # what moves the UAVs: kinematic (the world node) | px4 (the PX4 bridge)
    px4_external: bool = False         # px4: fly vehicles already running (no stand-ins started)
    px4_homes: str = ''                # px4: each vehicle's home in the world frame, "x,y,z;..." ('' : under its start)
    px4_end_action: str = 'land'       # px4: land | hold when the episode ends
    px4_takeoff_timeout_s: float = 0.0  # px4: a take-off fails after this long (0: automatic)

    def validate(self, num_uavs: int, launch: bool = False) -> None:
        """Every argument in range, and the arguments together; errors name the CLI flag, or with launch=True
        the launch argument (`plant:=px4`)."""
        def name(field: str) -> str:
            return f'{field}:={getattr(self, field)}' if launch else CLI_FLAGS[field]
        checks = (('num_users', 0, MAX_USERS), ('num_uavs', 0, MAX_UAVS), ('num_slots', 0, 1_000_000),
                  ('max_failures', -1, MAX_UAVS), ('seed', 0, 2 ** 31 - 1))
        for field, lo, hi in checks:
            if not lo <= getattr(self, field) <= hi:
                raise UserInputError(f'{name(field)}: must be in [{lo}, {hi}], got {getattr(self, field)}')
        if self.failure_mode not in FAILURE_MODES:
            raise UserInputError(f'{name("failure_mode")}: must be one of {list(FAILURE_MODES)}, '
                                 f'got {self.failure_mode!r}')
        if not 0.0 <= self.lease_s <= 60.0:
            raise UserInputError(f'{name("lease_s")}: must be in [0, 60] (0: automatic), got {self.lease_s}')
        if not (math.isfinite(self.real_time_factor) and 0.0 <= self.real_time_factor <= 1000.0):
            raise UserInputError(f'{name("real_time_factor")}: must be in [0, 1000], got {self.real_time_factor}')
        if self.storage not in ('sqlite3', 'mcap'):
            raise UserInputError(f'{name("storage")}: must be sqlite3 or mcap, got {self.storage!r}')
        if self.plant not in PLANTS:
            raise UserInputError(f'{name("plant")}: must be one of {list(PLANTS)}, got {self.plant!r}')
        px4_plant = 'plant:=px4' if launch else '--plant px4'
        if self.plant == 'px4' and self.real_time_factor != 1.0:
            raise UserInputError(f'{name("real_time_factor")}: PX4 flies in real time, so {px4_plant} needs 1, '
                                 f'got {self.real_time_factor}')
        if self.failure_mode in PX4_FAILURE_MODES and self.plant != 'px4':
            mode = name('failure_mode') if launch else f'--failure-mode {self.failure_mode}'
            raise UserInputError(f'{mode}: only with {px4_plant} (a failure through PX4)')
        if self.discovery not in DISCOVERY_RANGES:
            raise UserInputError(f'{name("discovery")}: must be one of {list(DISCOVERY_RANGES)}, '
                                 f'got {self.discovery!r}')
        if self.domain_id is not None and not 0 <= self.domain_id <= DOMAIN_MAX:
            raise UserInputError(f'{name("domain_id")}: must be in [0, {DOMAIN_MAX}] or auto, got {self.domain_id}')
        if not (math.isfinite(self.timeout_s) and self.timeout_s >= 0):
            raise UserInputError(f'{name("timeout_s")}: must be >= 0 s (0: derived from the run), '
                                 f'got {self.timeout_s}')
        if not 0.0 <= self.px4_takeoff_timeout_s <= 3600.0:
            raise UserInputError(f'{name("px4_takeoff_timeout_s")}: must be in [0, 3600] s (0: automatic)')
        if self.px4_end_action not in PX4_END_ACTIONS:
            raise UserInputError(f'{name("px4_end_action")}: must be one of {list(PX4_END_ACTIONS)}')
        if self.px4_homes:
            import numpy as np

            from uav_mec_nodes.px4.bridge import parse_homes
            try:
                parse_homes(self.px4_homes, np.zeros((num_uavs, 3)))
            except UserInputError as exc:
                raise UserInputError(f'{name("px4_homes")}: {exc}') from None
        bad = [j for j in self.missing_uavs if not 0 <= j < num_uavs]
        if bad:
            raise UserInputError(f'{name("missing_uavs")}: UAV ids must be in [0, {num_uavs - 1}], got {bad}')


# the `uav-mec run` flag of each GraphConfig field, for errors
CLI_FLAGS = {'num_users': '--users', 'num_uavs': '--uavs', 'num_slots': '--slots', 'max_failures': '--max-failures',
             'seed': '--seed', 'failure_mode': '--failure-mode', 'lease_s': 'lease_s', 'real_time_factor': '--rtf',
             'storage': '--storage', 'plant': '--plant', 'discovery': '--discovery', 'domain_id': '--domain-id',
             'timeout_s': '--timeout', 'px4_homes': '--px4-homes', 'missing_uavs': '--missing-uavs',
             'px4_end_action': '--px4-end-action', 'px4_takeoff_timeout_s': '--px4-takeoff-timeout'}


@dataclass
class NodeSpec:
    module: str                       # uav_mec_nodes.nodes.<module>, also the ros2 run executable
    name: str                         # node name
    params: Dict[str, object]
    namespace: str = ''               # a PX4 stand-in's vehicle namespace (px4_<j+1>); graph nodes have none

    @property
    def key(self) -> str:
        """Unique in a run: the node's name, under its namespace if it has one."""
        return f'{self.namespace}.{self.name}' if self.namespace else self.name


def lease_for(g: GraphConfig, single_process: bool) -> float:
    return g.lease_s if g.lease_s > 0 else (5.0 if single_process else 0.5)


def node_specs(g: GraphConfig, num_uavs: int, single_process: bool = False) -> List[NodeSpec]:
    lease = float(lease_for(g, single_process))
    common = shared_parameters(g)
    plant = PLANTS[g.plant]
    plant_params = dict(home_positions=g.px4_homes, end_action=g.px4_end_action,
                        takeoff_timeout_s=float(g.px4_takeoff_timeout_s)) if g.plant == 'px4' else {}
    specs = [
        NodeSpec('sequencer', 'sequencer', dict(common, real_time_factor=float(g.real_time_factor),
                                                wait_for_recorder=g.record, lease_s=lease)),
        NodeSpec(plant, plant, dict(common, **plant_params)),
        NodeSpec('channel_sim', 'channel_sim', dict(common, plant=g.plant)),
        NodeSpec('planner', 'planner', dict(common, policy=g.policy, lease_s=lease)),
        NodeSpec('failure_injector', 'failure_injector', dict(common, mode=g.failure_mode)),
    ]
    for j in range(num_uavs):
        if j not in g.missing_uavs:
            specs.append(NodeSpec('uav', uav_node_name(j), dict(common, uav_id=j, lease_s=lease,
                                                               run_torch_layers=g.run_torch_layers)))
    if g.record:
        specs.append(NodeSpec('recorder', 'recorder', dict(common, bag_path=g.bag_path, storage=g.storage,
                                                           policy=g.policy, failure_mode=g.failure_mode,
                                                           lease_s=lease, plant=g.plant)))
    if g.plant == 'px4' and not g.px4_external:
        specs += px4_standin_specs(g, num_uavs)
    return specs


def px4_standin_specs(g: GraphConfig, num_uavs: int) -> List[NodeSpec]:
    """One PX4 stand-in per UAV, in its vehicle's namespace, as PX4's SITL numbers them, with PX4's defaults."""
    from uav_mec_nodes.graph.contract import px4_namespace, px4_sys_id
    return [NodeSpec('px4_standin', 'px4_standin', dict(mav_sys_id=px4_sys_id(j)), namespace=px4_namespace(j))
            for j in range(num_uavs)]


def shared_parameters(g: GraphConfig) -> Dict[str, object]:
    """The parameters every node of the run shares (contract.SCENARIO_PARAMETERS)."""
    return dict(run_id=g.run_id, scenario_file=g.scenario_file, seed=g.seed, num_users=g.num_users,
                num_uavs=g.num_uavs, num_slots=g.num_slots, max_failures=g.max_failures,
                failure_schedule=g.failure_schedule, safety=g.safety)


def scenario_for(params: Dict[str, object], where: str = 'run'):
    """The ScenarioConfig every node builds from the shared parameters (validated: ConfigError if not)."""
    from uav_mec_nodes.config import load_scenario
    overrides: Dict[str, object] = {}
    for key, name in (('num_users', 'scenario.num_users'), ('num_uavs', 'scenario.num_uavs'),
                      ('num_slots', 'scenario.num_slots')):
        if params[key]:
            overrides[name] = params[key]
    cfg = load_scenario(params['scenario_file'] or None, overrides)
    if params['max_failures'] >= 0:
        cfg = cfg.replace(failures__max_failures=params['max_failures'],
                          failures__num_failures=min(cfg.failures.num_failures, params['max_failures']))
    if params['safety']:
        cfg = cfg.replace(safety__enabled=True)
    if params['failure_schedule']:
        pairs = parse_schedule(params['failure_schedule'], f'{where}: parameter failure_schedule')
        cfg = cfg.replace(failures__model='schedule', failures__schedule=pairs,
                          failures__max_failures=max(cfg.failures.max_failures, len(pairs)))
    return cfg


def parse_schedule(text: str, where: str) -> tuple:
    """'uav:slot,uav:slot' -> ((uav, slot), ...); the scenario check then bounds uav, slot and F_max."""
    pairs = []
    for entry in (e for e in text.replace(' ', '').split(',') if e):
        try:
            uav, slot = (int(v) for v in entry.split(':'))
        except ValueError:
            raise UserInputError(f'{where}: entry {entry!r} is not uav:slot (e.g. "1:20")') from None
        pairs.append((uav, slot))
    return tuple(pairs)


def graph_scenario(g: GraphConfig):
    return scenario_for(shared_parameters(g))


def resolved_num_uavs(g: GraphConfig) -> int:
    return graph_scenario(g).scenario.num_uavs


def resolved_num_slots(g: GraphConfig) -> int:
    return graph_scenario(g).scenario.num_slots


def timeout_for(g: GraphConfig, num_slots: int, slot_s: float = 1.0) -> float:
    """--timeout's default: paced runs get twice their simulated time, unpaced ones 10 s a slot, plus 5 min."""
    if g.timeout_s > 0:
        return g.timeout_s
    per_slot = 2.0 * slot_s / g.real_time_factor if g.real_time_factor > 0 else 10.0
    return num_slots * per_slot + 300.0


def params_yaml(specs: List[NodeSpec]) -> Dict[str, Dict]:
    """ROS 2 parameter-file form: {node: {ros__parameters: {...}}}, every parameter of each node."""
    return {(f'/{s.namespace}/{s.name}' if s.namespace else s.name):
            {'ros__parameters': dict(parameter_defaults(s.module), **s.params)} for s in specs}


def parse_missing(text: Optional[str]) -> Tuple[int, ...]:
    if not text:
        return ()
    try:
        return tuple(int(v) for v in text.split(',') if v.strip())
    except ValueError:
        raise UserInputError(f'--missing-uavs: expected UAV ids separated by commas (e.g. "1,2"), got {text!r}') \
            from None
