"""The ROS graph of one run: which nodes, with which parameters, in one place.

Both launchers read this: `uav_mec_nodes.graph.launcher` (the package's own, one
process or one process per node) and `launch/sim.launch.py` (ros2 launch).
GraphConfig's fields, and the parameters each node declares, are the run arguments
of graph/arguments.py (each declared there once).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, make_dataclass
from typing import Dict, List

from uav_mec_nodes.errors import ConfigError, UserInputError
from uav_mec_nodes.graph.arguments import (BY_NAME, DEFAULT_LEASE_S, EVERY_NODE, RUN_ARGUMENTS, RUN_ID,  # noqa: F401
                                           parameter_defaults)
from uav_mec_nodes.graph.contract import (INJECTED_FAILURE_MODES, PLANTS, PX4_FAILURE_MODES, REAL_TIME_PLANTS,
                                          uav_node_name)
from uav_mec_nodes.graph.isolation import DOMAIN_MAX

FAILURE_MODES = INJECTED_FAILURE_MODES
STALL_S = 300.0     # a run with no slot finished for this long has stalled
# the run is over when these are done (a plant once its vehicles are down: the PX4 bridge's landed or hold)
FINISHERS = ('sequencer', 'channel_sim', 'recorder') + tuple(PLANTS.values())
CORE = FINISHERS + ('planner', 'failure_injector')   # needed to go on


def _value(a):
    """GraphConfig's default of a run argument: its declared default, converted (missing_uavs: a tuple)."""
    if a.convert is not None:
        return a.convert(a.default)
    return a.default


def _validate(self, num_uavs: int, launch: bool = False) -> None:
    """Every argument in its declared range or choices, and the arguments together; errors name the CLI flag,
    or with launch=True the launch argument (`plant:=px4`)."""
    def name(field: str) -> str:
        return f'{field}:={getattr(self, field)}' if launch else (BY_NAME[field].flag or field)
    for a in RUN_ARGUMENTS:
        value = getattr(self, a.name)
        if a.convert is None and not (a.type is float and not math.isfinite(value)):
            a.check(value, name(a.name))
        elif a.type is float:
            raise UserInputError(f'{name(a.name)}: must be a finite number, got {value}')
    def plant_flag(plant):
        return f'plant:={plant}' if launch else f'--plant {plant}'
    if self.plant in REAL_TIME_PLANTS and self.real_time_factor != 1.0:
        raise UserInputError(f'{name("real_time_factor")}: plant {self.plant} flies in real time, so '
                             f'{plant_flag(self.plant)} needs 1, got {self.real_time_factor}')
    if self.failure_mode in PX4_FAILURE_MODES and self.plant != 'px4':
        mode = name('failure_mode') if launch else f'--failure-mode {self.failure_mode}'
        raise UserInputError(f'{mode}: only with {plant_flag("px4")} (a failure through PX4)')
    if self.domain_id is not None and not 0 <= self.domain_id <= DOMAIN_MAX:
        raise UserInputError(f'{name("domain_id")}: must be in [0, {DOMAIN_MAX}] or auto, got {self.domain_id}')
    if self.px4_homes:
        import numpy as np

        from uav_mec_nodes.px4.bridge import parse_homes
        try:
            parse_homes(self.px4_homes, np.zeros((num_uavs, 3)))
        except UserInputError as exc:   # it names px4_homes: the flag's name instead
            raise UserInputError(f'{name("px4_homes")}: {str(exc).partition(": ")[2]}') from None
    if self.run_id and not RUN_ID.fullmatch(self.run_id):
        raise UserInputError(f'{name("run_id")}: must be 1-64 of A-Z a-z 0-9 _ -, got {self.run_id!r}')
    if self.nodes != 'all':   # each host's part must find the others: one run id, one domain
        part = name('nodes') if launch else f'--nodes {self.nodes}'
        if not self.run_id:
            raise UserInputError(f'{name("run_id")}: {part} needs the run id every host of the split graph '
                                 'shares (e.g. `--run-id $(openssl rand -hex 8)`)')
        if self.domain_id is None:
            raise UserInputError(f'{name("domain_id")}: {part} needs the DDS domain every host of the split '
                                 f'graph shares (0-{DOMAIN_MAX}), got auto')
    bad = [j for j in self.missing_uavs if not 0 <= j < num_uavs]
    if bad:
        raise UserInputError(f'{name("missing_uavs")}: UAV ids must be in [0, {num_uavs - 1}], got {bad}')


# The arguments of a run, one field per run argument (graph/arguments.py), in the table's order.
GraphConfig = make_dataclass(
    'GraphConfig', [(a.name, a.type if a.convert is None else object, field(default_factory=lambda a=a: _value(a)))
                    for a in RUN_ARGUMENTS],
    namespace=dict(validate=_validate,
                   __doc__='The arguments of a run: one field per run argument of graph/arguments.py.'))


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
    """The heartbeat lease: 5 s where every node shares one process (one busy callback delays the heartbeats),
    else DEFAULT_LEASE_S; a split graph's hosts must agree, so it takes DEFAULT_LEASE_S either way."""
    if g.lease_s > 0:
        return g.lease_s
    return 5.0 if single_process and g.nodes == 'all' else DEFAULT_LEASE_S


def node_specs(g: GraphConfig, num_uavs: int, single_process: bool = False) -> List[NodeSpec]:
    lease = float(lease_for(g, single_process))
    common = shared_parameters(g)
    plant = PLANTS[g.plant]
    plant_params = dict(px4_homes=g.px4_homes, px4_end_action=g.px4_end_action,
                        px4_takeoff_timeout_s=float(g.px4_takeoff_timeout_s)) if g.plant == 'px4' else {}
    specs = [
        NodeSpec('sequencer', 'sequencer', dict(common, real_time_factor=float(g.real_time_factor),
                                                wait_for_recorder=g.record, lease_s=lease)),
        NodeSpec(plant, plant, dict(common, **plant_params)),
        NodeSpec('channel_sim', 'channel_sim', dict(common, plant=g.plant)),
        NodeSpec('planner', 'planner', dict(common, policy=g.policy, lease_s=lease)),
        NodeSpec('failure_injector', 'failure_injector', dict(common, failure_mode=g.failure_mode)),
    ]
    for j in range(num_uavs):
        if j not in g.missing_uavs:
            specs.append(NodeSpec('uav', uav_node_name(j), dict(common, uav_id=j, lease_s=lease,
                                                               run_torch_layers=g.run_torch_layers)))
    if g.record:
        specs.append(NodeSpec('recorder', 'recorder', dict(common, bag_path=g.bag_path, storage=g.storage,
                                                           policy=g.policy, failure_mode=g.failure_mode,
                                                           plant=g.plant)))
    if g.plant == 'px4' and not g.px4_external:
        specs += px4_standin_specs(g, num_uavs)
    if g.nodes == 'uavs':
        return [s for s in specs if s.module == 'uav']
    if g.nodes == 'core':
        return [s for s in specs if s.module != 'uav']
    return specs


def finishers_of(specs: List[NodeSpec]) -> List[str]:
    """The nodes whose ending ends this host's run: FINISHERS, or on a host of UAV nodes alone
    (--nodes uavs), its UAV nodes (each ends with the episode, or when it fails)."""
    names = [s.name for s in specs if s.name in FINISHERS]
    return names or [s.name for s in specs if s.module == 'uav']


def px4_standin_specs(g: GraphConfig, num_uavs: int) -> List[NodeSpec]:
    """One PX4 stand-in per UAV, in its vehicle's namespace, as PX4's SITL numbers them, with PX4's defaults."""
    from uav_mec_nodes.graph.contract import px4_namespace, px4_sys_id
    return [NodeSpec('px4_standin', 'px4_standin', dict(mav_sys_id=px4_sys_id(j)), namespace=px4_namespace(j))
            for j in range(num_uavs)]


def shared_parameters(g: GraphConfig) -> Dict[str, object]:
    """The parameters every node of the run shares (the run arguments every node reads)."""
    return {a.name: getattr(g, a.name) for a in RUN_ARGUMENTS if EVERY_NODE in a.nodes}


def scenario_for(params: Dict[str, object], where: str = 'run'):
    """The ScenarioConfig every node builds from the shared parameters (validated: ConfigError if not)."""
    from uav_mec_nodes.config import load_scenario
    overrides: Dict[str, object] = {}
    for key, name in (('num_users', 'scenario.num_users'), ('num_uavs', 'scenario.num_uavs'),
                      ('num_slots', 'scenario.num_slots')):
        if params[key]:
            overrides[name] = params[key]
    cfg = load_scenario(params['scenario_file'] or None, overrides)
    if cfg.failures.lost_schedule:
        raise ConfigError('failures.lost_schedule: must be empty in a ROS graph, which loses UAVs by their '
                          'leases only (it is for the Gym env, to replay what a graph recorded)')
    if params['max_failures'] >= 0:
        cfg = cfg.replace(failures__max_failures=params['max_failures'],
                          failures__num_failures=min(cfg.failures.num_failures, params['max_failures']))
    if cfg.safety.enabled != bool(params['safety']):   # the run argument decides, whatever the YAML says
        cfg = cfg.replace(safety__enabled=bool(params['safety']))
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
