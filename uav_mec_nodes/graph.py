"""The ROS graph of one run: which nodes, with which parameters, in one place.

Both launchers read this: `uav_mec_nodes.launcher` (the package's own, one
process or one process per node) and `launch/sim.launch.py` (ros2 launch).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

FAILURE_MODES = ('announce', 'silence', 'kill')


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
                                       # process (a long planner step there delays the UAVs' heartbeats)
    run_torch_layers: bool = False
    missing_uavs: Tuple[int, ...] = field(default_factory=tuple)   # UAV nodes not started (tests, drills)

    def validate(self, num_uavs: int) -> None:
        from uav_mec_nodes.errors import UserInputError
        if self.failure_mode not in FAILURE_MODES:
            raise UserInputError(f'--failure-mode: must be one of {list(FAILURE_MODES)}, got {self.failure_mode!r}')
        if not 0.0 <= self.lease_s <= 60.0:
            raise UserInputError(f'lease_s: must be in [0, 60] (0: automatic), got {self.lease_s}')
        if not 0.0 <= self.real_time_factor <= 1000.0:
            raise UserInputError(f'--rtf: must be in [0, 1000], got {self.real_time_factor}')
        if self.storage not in ('sqlite3', 'mcap'):
            raise UserInputError(f'--storage: must be sqlite3 or mcap, got {self.storage!r}')
        bad = [j for j in self.missing_uavs if not 0 <= j < num_uavs]
        if bad:
            raise UserInputError(f'--missing-uavs: UAV ids must be in [0, {num_uavs - 1}], got {bad}')


@dataclass
class NodeSpec:
    module: str                       # uav_mec_nodes.nodes.<module>, also the ros2 run executable
    name: str                         # node name
    params: Dict[str, object]


def lease_for(g: GraphConfig, single_process: bool) -> float:
    return g.lease_s if g.lease_s > 0 else (5.0 if single_process else 0.5)


def node_specs(g: GraphConfig, num_uavs: int, single_process: bool = False) -> List[NodeSpec]:
    lease = lease_for(g, single_process)
    common = dict(scenario_file=g.scenario_file, seed=g.seed, num_users=g.num_users, num_uavs=g.num_uavs,
                  num_slots=g.num_slots, max_failures=g.max_failures, failure_schedule=g.failure_schedule)
    specs = [
        NodeSpec('world', 'world', dict(common, real_time_factor=float(g.real_time_factor),
                                        wait_for_recorder=g.record)),
        NodeSpec('channel_sim', 'channel_sim', dict(common)),
        NodeSpec('planner', 'planner', dict(common, policy=g.policy, lease_s=float(lease))),
        NodeSpec('failure_injector', 'failure_injector', dict(common, mode=g.failure_mode)),
    ]
    for j in range(num_uavs):
        if j not in g.missing_uavs:
            specs.append(NodeSpec('uav', f'uav_{j}', dict(common, uav_id=j, lease_s=float(lease),
                                                          run_torch_layers=g.run_torch_layers)))
    if g.record:
        specs.append(NodeSpec('recorder', 'recorder', dict(common, bag_path=g.bag_path, storage=g.storage)))
    return specs


def resolved_num_uavs(g: GraphConfig) -> int:
    from uav_mec_nodes.config import load_scenario
    return g.num_uavs or load_scenario(g.scenario_file or None).scenario.num_uavs


def params_yaml(specs: List[NodeSpec]) -> Dict[str, Dict]:
    """ROS 2 parameter-file form: {node: {ros__parameters: {...}}}."""
    return {s.name: {'ros__parameters': dict(s.params)} for s in specs}


def parse_missing(text: Optional[str]) -> Tuple[int, ...]:
    return tuple(int(v) for v in text.split(',') if v.strip()) if text else ()
