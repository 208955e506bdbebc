"""The sequencer's slot machine, without ROS: when a slot starts, when its commands go to the plant, when the
next begins, and what it waits for meanwhile.

Phases of slot t: startup (the plant, the planner and the recorder to appear) ->
planning (the plant's states and the plan) -> commands (the injector's report,
every UAV's state, and each live UAV's command while it holds its lease (its own
heartbeats): a late UAV is late, not gone, so the motion never depends on timing) ->
metrics (the slot's accounting and, recording, the recorder; paced by the
real-time factor) -> slot t+1. `move()` puts the commands through the safety
layer (when the scenario's safety.enabled) and says where they take the UAVs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np

from uav_mec_nodes.config import ScenarioConfig
from uav_mec_nodes.graph.failure_book import FailureBook, LeaseWatch
from uav_mec_nodes.model import mobility, safety

STALL_WARN_S = 10.0   # wall time without progress before the sequencer says what it waits for


@dataclass
class Move:
    """MOVE t for the plant: accelerations (after the safety layer), who moves, what the layer changed, and
    where the commands take the UAVs (for autopilots that fly to a point)."""
    slot: int
    accel: np.ndarray          # (J, 3) [m/s^2]
    moving: np.ndarray         # (J,) bool
    interventions: np.ndarray  # (J,) model.safety flags
    target: np.ndarray         # (J, 3) [m]
    target_velocity: np.ndarray   # (J, 3) [m/s]
    held: np.ndarray           # (J,) bool: live, but its command did not come (its lease lapsed): it holds
    reason: str = ''           # why, for the held UAVs


class SlotSequence:
    def __init__(self, cfg: ScenarioConfig, real_time_factor: float, lease_s: float, startup_wait_s: float,
                 wait_for_recorder: bool, now: float):
        self.cfg, self.rtf, self.wait_for_recorder = cfg, real_time_factor, wait_for_recorder
        self.startup_wait_s = startup_wait_s
        self.num_uavs, self.num_slots = cfg.scenario.num_uavs, cfg.scenario.num_slots
        self.book = FailureBook(self.num_uavs)
        self.leases = LeaseWatch(self.num_uavs, lease_s, startup_wait_s)
        self.slot, self.phase, self.done = 0, 'startup', False
        self.plan_alive: Optional[np.ndarray] = None
        self.states: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}   # uav -> (position, velocity) from the plant
        self.commands: Dict[int, Tuple[str, np.ndarray]] = {}       # uav -> ('acceleration' | 'setpoint', value)
        self.metrics_in = False
        self.interventions = np.zeros(self.num_uavs, np.int64)      # the safety layer's, this episode, per UAV
        self.t_started = self.t_phase = self.t_slot_wall = now
        self.last_stall_warning = 0.0
        self.slots_recorded = 0
        self.reported_slots = set()

    # --- inputs -------------------------------------------------------------------------------
    def on_state(self, slot: int, uav: int, position, velocity) -> None:
        if slot == self.slot and uav < self.num_uavs:
            self.states[uav] = (np.asarray(position, float), np.asarray(velocity, float))

    def on_failure(self, uav: int, slot: int, mode: int) -> None:
        if uav < self.num_uavs:
            self.book.record(uav, slot, mode)

    def on_report(self, slot: int) -> None:
        if slot >= self.slot:
            self.reported_slots.add(slot)

    def on_plan(self, slot: int, uav_alive, now: float) -> None:
        if slot == self.slot and self.phase == 'planning' and len(uav_alive) == self.num_uavs:
            self.plan_alive = np.array(uav_alive, bool)
            self.phase, self.t_phase = 'commands', now

    def on_command(self, uav: int, slot: int, kind: str, value) -> Optional[str]:
        """Keep a UAV's command of the current slot; the reason it is rejected, if it is."""
        if uav >= self.num_uavs or slot != self.slot:
            return None
        value = np.asarray(value, float)
        if not np.all(np.isfinite(value)):
            return f'rejected command of UAV {uav}: NaN or inf {kind}'
        self.commands[uav] = (kind, value)
        return None

    def on_metrics(self, slot: int) -> None:
        if slot == self.slot:
            self.metrics_in = True

    def on_recorded(self, slots: int) -> None:
        self.slots_recorded = max(self.slots_recorded, slots)

    # --- the machine ----------------------------------------------------------------------------
    def step(self, now: float, graph_ready: bool, uavs_up: bool):
        """What to do now: ('start', slot) | ('move', Move) | ('done', slot) | ('wait', what) | None."""
        if self.done:
            return None
        if self.phase == 'startup':
            if graph_ready and (uavs_up or now - self.t_started > self.startup_wait_s):
                return self._start(now)
            return ('wait', 'the plant and the planner (and the recorder) to appear')
        if self.phase == 'planning':
            return ('wait', f'the plan of slot {self.slot}' if len(self.states) == self.num_uavs
                    else f'the plant\'s states of slot {self.slot}')
        if self.phase == 'commands':
            if self.slot not in self.reported_slots or len(self.states) < self.num_uavs:
                # a UAV failing in this slot must not move; the safety layer needs every UAV's state
                return ('wait', f'the failure report and the plant\'s states of slot {self.slot}')
            live = self.book.alive_end(self.slot) & self.plan_alive
            waited = now - self.t_phase
            waiting = [int(j) for j in np.flatnonzero(live)
                       if j not in self.commands and waited < self.leases.patience_s(int(j), self.slot, now)]
            if waiting:
                return ('wait', f'the commands of UAVs {waiting} in slot {self.slot}')
            self.phase, self.t_phase = 'metrics', now
            move = self.move(live)
            held = [int(j) for j in np.flatnonzero(move.held)]
            if held:
                move.reason = (f'no command of UAV(s) {held} in slot {self.slot} after {waited:.2f} s and no heartbeat '
                               f'for a lease ({self.leases.lease_s:g} s): held in place')
            return ('move', move)
        paced = self.rtf <= 0 or now - self.t_slot_wall >= self.cfg.scenario.slot_s / self.rtf
        recorded = not self.wait_for_recorder or self.slots_recorded > self.slot
        if not (self.metrics_in and paced and recorded):
            return ('wait', f'the metrics of slot {self.slot}') if not self.metrics_in else \
                (('wait', f'the recorder to finish slot {self.slot}') if not recorded else None)
        self.reported_slots.discard(self.slot)
        self.slot += 1
        if self.slot >= self.num_slots:
            self.done = True
            return ('done', self.slot)
        return self._start(now)

    def _start(self, now: float):
        self.plan_alive, self.states, self.commands, self.metrics_in = None, {}, {}, False
        self.t_slot_wall = self.t_phase = now
        self.phase = 'planning'
        return ('start', self.slot)

    def stalled(self, now: float) -> bool:
        """Whether to say now what the slot waits for (once every STALL_WARN_S without progress)."""
        if now - self.t_phase > STALL_WARN_S and now - self.last_stall_warning > STALL_WARN_S:
            self.last_stall_warning = now
            return True
        return False

    def move(self, live: np.ndarray) -> Move:
        """The slot's commands, through the safety layer, and where they take the UAVs."""
        q = np.array([self.states[j][0] for j in range(self.num_uavs)])
        v = np.array([self.states[j][1] for j in range(self.num_uavs)])
        accel = np.zeros((self.num_uavs, 3))
        moving = np.zeros(self.num_uavs, bool)
        for j, (kind, value) in self.commands.items():
            accel[j] = mobility.accel_towards(q[j], v[j], value, self.cfg) if kind == 'setpoint' else value
            moving[j] = live[j]
        flags = np.zeros(self.num_uavs, np.int64)
        if self.cfg.safety.enabled:
            safe = safety.safe_accelerations(q, v, accel, moving, self.cfg)
            accel, flags = safe.accel, safe.interventions
            self.interventions += flags != 0
        # where they take the UAVs (for autopilots, which fly to a point); the kinematic plant flies
        # `acceleration` itself, as the Gym env does, so both give the very same numbers
        step = mobility.step_uavs(q, v, accel, moving, self.cfg)
        held = live & ~np.isin(np.arange(self.num_uavs), list(self.commands))
        return Move(self.slot, accel, moving, flags, step.position, step.velocity, held)
