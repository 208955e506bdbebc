"""A reference that flies: greedy (or optimal) offloading, and UAVs that circle their users at the cheapest speed.

The motion is the orbit guidance of model/guidance.py (cruise at the argmin
of the propulsion power (2), around each UAV's users, inside the area and
d_safe apart) with no offset, just above H_min; the commands pass through the
safety layer (model/safety.py) with its margin whatever the scenario's
`safety.enabled` says. The offloading decisions (partition, association,
migration target) are the greedy reference's (policies/greedy.py), or the
per-slot optimum's (policies/optimal.py) for `flying-optimal`.

`steady-greedy` moves each orbit's centre at most guidance.CENTRE_STEP_M a
slot towards its users' mean instead of jumping there when greedy hands a user
to another UAV, so its turns keep the cruise speed. Its motion is an orbit
action (the env's motion entries), which is what a set policy learns from it
(learners/imitation.py).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from uav_mec_nodes.model import safety
from uav_mec_nodes.model.guidance import cruise_speed_mps, orbit_action, steady_orbit_action
from uav_mec_nodes.policies.base import Policy

__all__ = ['FlyingReference', 'cruise_speed_mps']


class FlyingReference(Policy):
    """Greedy offloading; UAVs circling their users at the speed of least propulsion power."""
    name = 'flying-greedy'

    def __init__(self, offloading: Optional[Policy] = None, name: Optional[str] = None, steady: bool = False):
        from uav_mec_nodes.policies.greedy import GreedyOptimum
        self.offloading = offloading or GreedyOptimum()
        self.name = name or self.name
        self.steady = steady
        self._centres: dict = {}   # steady: the centres flown in each recent slot

    def reset(self, seed: Optional[int] = None) -> None:
        super().reset(seed)
        self.offloading.reset(seed)
        self._centres = {}

    def plan(self, env):
        """(SlotDecisions, orbit action (J, 3) in [-1, 1]): the slot's decisions and motion as the env's action
        entries mean them."""
        decisions, _ = self.offloading.act(env)
        serving = np.asarray(decisions.serving_uav)
        if not self.steady:   # the orbit action with no offset, at the bottom of the altitude band
            return decisions, np.tile([0.0, 0.0, -1.0], (env.num_uavs, 1))
        slot = env.slot
        # keyed by slot, so planning a slot twice gives the same motion
        motion, self._centres[slot] = steady_orbit_action(self._centres.get(slot - 1), env.users.position[:, :2],
                                                          serving, env.uav_pos, env.alive_start, env.cfg)
        self._centres = {t: c for t, c in self._centres.items() if t >= slot - 1}
        return decisions, motion

    def act(self, env):
        decisions, motion = self.plan(env)
        return decisions, self.fly(env, decisions, motion)

    @staticmethod
    def fly(env, decisions, motion) -> np.ndarray:
        """(J, 3) accelerations of an orbit action for these decisions, through the safety layer."""
        live = env.alive_start
        accel = orbit_action(motion, env.users.position[:, :2], np.asarray(decisions.serving_uav), env.uav_pos,
                             env.uav_vel, live, env.cfg)
        # commands an operator would accept, whatever the scenario's safety.enabled says
        return safety.safe_accelerations(env.uav_pos, env.uav_vel, accel, live, env.cfg).accel
