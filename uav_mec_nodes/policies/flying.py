"""A reference that flies: greedy (or optimal) offloading, and UAVs that circle their users at the cheapest speed.

The motion is the orbit guidance of model/guidance.py (cruise at the argmin
of the propulsion power (2), around each UAV's users, inside the area and
d_safe apart) with no offset, just above H_min; the commands pass through the
safety layer (model/safety.py) with its margin whatever the scenario's
`safety.enabled` says. The offloading decisions (partition, association,
migration target) are the greedy reference's (policies/greedy.py), or the
per-slot optimum's (policies/optimal.py) for `flying-optimal`.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from uav_mec_nodes.model import safety
from uav_mec_nodes.model.guidance import cruise_speed_mps, orbit_action
from uav_mec_nodes.policies.base import Policy

__all__ = ['FlyingReference', 'cruise_speed_mps']


class FlyingReference(Policy):
    """Greedy offloading; UAVs circling their users at the speed of least propulsion power."""
    name = 'flying-greedy'

    def __init__(self, offloading: Optional[Policy] = None, name: Optional[str] = None):
        from uav_mec_nodes.policies.greedy import GreedyOptimum
        self.offloading = offloading or GreedyOptimum()
        self.name = name or self.name

    def reset(self, seed: Optional[int] = None) -> None:
        super().reset(seed)
        self.offloading.reset(seed)

    def act(self, env):
        decisions, _ = self.offloading.act(env)
        live = env.alive_start
        # the orbit action with no offset, at the bottom of the altitude band
        centred_low = np.tile([0.0, 0.0, -1.0], (env.num_uavs, 1))
        accel = orbit_action(centred_low, env.users.position[:, :2], np.asarray(decisions.serving_uav), env.uav_pos,
                             env.uav_vel, live, env.cfg)
        # commands an operator would accept, whatever the scenario's safety.enabled says
        return decisions, safety.safe_accelerations(env.uav_pos, env.uav_vel, accel, live, env.cfg).accel
