"""`uav-mec replay BAG`: feed a recorded run's planner inputs to a planner and compare its decisions.

The bag holds, per slot, everything the planner decided on: /users, /channel,
the world's UAV states and, in the recorded /plan, the UAVs it believed up.
`replay` gives those to a fresh `planning.SlotPlanner` (the recorded policy, or
another), slot after slot from slot 0, and reports whether every decision
(partition layer, serving UAV, migration target, UAV acceleration) equals the
recorded one, or where they first differ. No ROS needed.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from uav_mec_nodes.graph import contract as c
from uav_mec_nodes.errors import UserInputError


@dataclass
class ReplayReport:
    run_id: str
    policy: str
    slots_compared: int
    slots_recorded: int
    first_difference: Optional[str]   # None: every decision equal
    note: str = ''

    @property
    def equal(self) -> bool:
        return self.first_difference is None and self.slots_compared == self.slots_recorded

    def line(self) -> str:
        head = f'run {self.run_id}, policy {self.policy}: '
        if self.first_difference:
            return head + (f'decisions differ first in {self.first_difference} '
                           f'({self.slots_compared} slot(s) equal before)')
        if self.slots_compared < self.slots_recorded:
            return head + (f'{self.slots_compared} of {self.slots_recorded} slots equal; slot {self.slots_compared} '
                           'lacks recorded inputs')
        return head + f'every decision of {self.slots_compared} slot(s) equals the recorded one'


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def replay(bag_path, policy: Optional[str] = None) -> ReplayReport:
    from uav_mec_nodes.bags.io import read_bag
    from uav_mec_nodes.graph.planning import SlotPlanner, first_difference, inputs_from_messages
    from uav_mec_nodes.policies import make_policy
    from uav_mec_nodes.bags.report import own_run, recorded_scenario, run_info
    bag = own_run(read_bag(bag_path))
    info = run_info(bag)
    if info is None:
        raise UserInputError(f'replay: {bag_path} has no {c.TOPIC_RUN_INFO} (a bag of `ros2 bag record`?): '
                             'its seed and scenario are unknown')
    cfg = recorded_scenario(info)
    chosen = policy or info.policy
    note = ''
    if chosen.endswith('.pt'):
        if not Path(chosen).is_file():
            raise UserInputError(f'--policy: the recorded policy file {chosen} is not on this machine; '
                                 'pass --policy FILE')
        if policy is None and info.policy_sha256 and _sha256(Path(chosen)) != info.policy_sha256:
            note = f'{chosen} has changed since the run (sha256 differs)'
    planner = SlotPlanner(cfg, make_policy(chosen), int(info.seed))
    users = {m.slot: m for m in bag.get(c.TOPIC_USERS, [])}
    channels = {m.slot: m for m in bag.get(c.TOPIC_CHANNEL, [])}
    world = {}
    for m in bag.get(c.TOPIC_WORLD_UAVS, []):
        world.setdefault(m.slot, {})[m.uav_id] = m
    plans = {p.slot: p for p in bag.get(c.TOPIC_PLAN, [])}
    j = cfg.scenario.num_uavs
    compared = 0
    for t in range(len(plans)):   # in order from slot 0: a policy's random draws depend on it
        if t not in plans or t not in users or t not in channels or len(world.get(t, ())) < j:
            break
        recorded = plans[t]
        made = planner.decide(inputs_from_messages(users[t], channels[t], [world[t][u] for u in range(j)],
                                                   recorded.uav_alive))
        diff = first_difference(recorded, made)
        if diff:
            return ReplayReport(info.run_id, planner.policy.name, compared, len(plans), f'slot {t}: {diff}', note)
        compared += 1
    return ReplayReport(info.run_id, planner.policy.name, compared, len(plans), None, note)
