"""The PX4 bridge's slot logic over all its vehicles, without ROS (px4.bridge.VehicleLink is one vehicle's).

START t is answered once every vehicle holds its start point (or is down) with the
vehicles' states and their flight energy; MOVE t is flown in real time, each
moving vehicle on its slot's path, the others held; when the slot's time is over,
the slot's report (the FailureEvents of vehicles that went down in it) is due. A
vehicle the graph already counts down (any node's FailureEvent) is not reported
again. After the episode every vehicle lands or holds (VehicleLink.finish).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from uav_mec_nodes.config import ScenarioConfig
from uav_mec_nodes.model import propulsion
from uav_mec_nodes.px4.bridge import VehicleLink

STILL_WAITING_S = 10.0    # a take-off or end that waits says so again this often


@dataclass
class Down:
    """A vehicle that went down: the graph's FailureEvent to send (slot, UAV, PX4's reason)."""
    slot: int
    uav_id: int
    sys_id: int
    reason: str


@dataclass
class SlotStates:
    """START t's answer: each UAV's world-frame state, whether it is up, and its slot's flight energy (2)."""
    slot: int
    positions: np.ndarray     # (J, 3) [m, ENU]
    velocities: np.ndarray    # (J, 3) [m/s, ENU]
    up: np.ndarray            # (J,) bool
    flight_energy_j: np.ndarray   # (J,)


@dataclass
class Fleet:
    cfg: ScenarioConfig
    links: List[VehicleLink]
    slot: int = -1
    pending_alive: Optional[np.ndarray] = None    # START's alive flags, until every vehicle is ready
    reported: Dict[int, Tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)   # uav -> START's state
    down: set = field(default_factory=set)        # UAVs the graph counts down
    slot_end: Optional[float] = None              # when the slot being flown is over (its report is due)
    slot_failures: List[Down] = field(default_factory=list)
    said: Dict[int, Tuple[str, float]] = field(default_factory=dict)   # uav -> (state last said, when)
    episode_over: bool = False

    def start(self, slot: int, alive) -> bool:
        """START t asked; True if it is the next slot."""
        if slot != self.slot + 1 or len(alive) != len(self.links):
            return False
        self.pending_alive = np.array(alive, bool)
        return True

    def move(self, slot: int, now: float, moving, accelerations) -> None:
        """MOVE t: the slot's path for each moving vehicle that is up, the others hold."""
        if slot != self.slot or len(moving) != len(self.links) or len(accelerations) != len(self.links):
            return
        self.slot_end = now + self.cfg.scenario.slot_s   # PX4 flies in real time
        for u, link in enumerate(self.links):
            if moving[u] and link.down_reason is None and u in self.reported:
                link.fly(now, self.cfg.scenario.slot_s, accelerations[u], *self.reported[u])
            else:
                link.hold()

    def finish(self, now: float, action: str, timeout_s: float) -> None:
        if not self.episode_over:
            self.episode_over = True
            for link in self.links:
                link.finish(now, action, timeout_s)

    def went_down(self, now: float) -> List[Down]:
        """Vehicles down since the last call that the graph does not count down yet (each once)."""
        news = []
        for link in self.links:
            reason = link.check(now)
            if reason and link.uav_id not in self.down:
                self.down.add(link.uav_id)
                news.append(Down(max(self.slot, 0), link.uav_id, link.sys_id, reason))
        self.slot_failures += news
        return news

    def slot_report_due(self, now: float) -> Optional[Tuple[int, List[Down]]]:
        """(slot, its failures) once the slot being flown is over."""
        if self.slot_end is None or now < self.slot_end:
            return None
        self.slot_end = None
        failures, self.slot_failures = self.slot_failures, []
        return self.slot, failures

    def states_due(self) -> Optional[SlotStates]:
        """START's answer, once every vehicle holds its start point or is down."""
        if self.pending_alive is None or not all(link.ready or link.down_reason for link in self.links):
            return None
        alive, self.pending_alive = self.pending_alive, None
        self.slot += 1
        states = [link.state_world() for link in self.links]
        positions = np.array([q for q, _ in states])
        velocities = np.array([v for _, v in states])
        up = alive & np.array([link.down_reason is None for link in self.links])
        self.reported = {j: (positions[j], velocities[j]) for j in range(len(self.links))}
        return SlotStates(self.slot, positions, velocities, up,
                          propulsion.slot_flight_energy_j(velocities, up, self.cfg))

    def progress(self, now: float, link: VehicleLink) -> Optional[str]:
        """A line on a vehicle's take-off or end: each new state, and again every STILL_WAITING_S."""
        what = f'{link.phase}: {link.waiting_for}' if link.waiting_for else link.phase
        last, when = self.said.get(link.uav_id, ('', 0.0))
        if what.split(':')[0] == last.split(':')[0] and not (link.waiting_for and now - when >= STILL_WAITING_S):
            return None
        self.said[link.uav_id] = (what, now)
        text = link.end_note if link.ended else ('waiting for ' + link.waiting_for if link.waiting_for else
                                                'at its start point')
        return f'UAV {link.uav_id} (MAV_SYS_ID {link.sys_id}): {text}'

    @property
    def done(self) -> bool:
        return self.episode_over and all(link.ended for link in self.links)
