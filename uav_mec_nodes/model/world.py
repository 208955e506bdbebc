"""The world of one episode, slot by slot (numpy only): users and their tasks, UAVs, failures and channels.

The Gym env (env/uav_mec_env.py) wraps one with the MDP's observation, action and
reward; the ROS nodes drive one directly, with no Gym env: channel_sim steps the
users, tasks, channels and the accounting; the kinematic world, the PX4 bridge and
the failure injector read where the UAVs start and when they fail; the planner
builds a view of slot t from its topics (`World.view`) for the policy. Same
config and seed, same draws, in the same order, as the env.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from uav_mec_nodes.config import ScenarioConfig
from uav_mec_nodes.model import channel, failures, mobility, propulsion, safety
from uav_mec_nodes.model.dnn_profiles import ProfileArrays, profiles_for
from uav_mec_nodes.model.slot import COMPLETED, SlotState


def episode_rng(seed: Optional[int]) -> np.random.Generator:
    """The generator of an episode, as Gymnasium seeds one (seeding.np_random: PCG64 of a SeedSequence)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))


@dataclass
class SlotMotion:
    """What a slot's motion did (finish_slot): the UAVs' move, the safety layer's and the penalties' part."""
    slot: int
    alive_end: np.ndarray          # (J,) s_j(t)
    interventions: np.ndarray      # (J,) model.safety bit flags (0 without the layer)
    collision: bool                # (5) violated
    out_of_bounds: bool            # area or altitude left
    timeout: bool                  # a task late or dropped (28k)
    reward_factor: float           # the penalties of (31) that apply


class World:
    """One episode's state: start(), then slot_inputs() / finish_slot() each slot (or a view of one slot)."""

    def __init__(self, cfg: ScenarioConfig, arrays: Optional[ProfileArrays] = None):
        self.cfg = cfg
        self.num_users = cfg.scenario.num_users
        self.num_uavs = cfg.scenario.num_uavs
        self.num_slots = cfg.scenario.num_slots
        self.paper_mode = cfg.modes.resource_allocation == 'paper'
        self.arrays = arrays or ProfileArrays.build(profiles_for(cfg.compute))
        self.rng: Optional[np.random.Generator] = None
        self.t: Optional[int] = None

    # --- an episode -----------------------------------------------------------------------------
    def start(self, rng: np.random.Generator) -> 'World':
        """Draw the episode: DNN types, users, UAVs, failure slots, then slot 0's channels (this order)."""
        self.rng, cfg = rng, self.cfg
        i, j = self.num_users, self.num_uavs
        if cfg.scenario.dnn_assignment == 'round_robin':
            self.dnn_type = np.arange(i) % self.arrays.num_types
        else:
            self.dnn_type = rng.integers(0, self.arrays.num_types, size=i)
        self.users = mobility.init_users(i, cfg, rng)
        self.uav_pos = mobility.init_uavs(j, cfg, rng)
        self.uav_vel = np.zeros((j, 3))
        self.fail_slots = failures.draw_failure_slots(j, self.num_slots, cfg, rng)
        self.lost_slots = failures.lost_slots_of(j, self.num_slots, cfg)   # no draw: the order stays
        self.t = 0
        self.draw_channels()
        return self

    @classmethod
    def view(cls, cfg: ScenarioConfig, arrays: ProfileArrays, slot: int, dnn_type, user_pos, uav_pos, uav_vel,
             mu_uav_gain, uav_uav_rate, fail_slots) -> 'World':
        """Slot `slot` as someone else saw it (the planner's topics, a bag): no draws, no episode behind it."""
        w = cls(cfg, arrays)
        w.t = int(slot)
        w.dnn_type = np.asarray(dnn_type, np.int64)
        w.users = mobility.UserMotion(np.asarray(user_pos, float).reshape(w.num_users, 3), np.zeros(w.num_users),
                                      np.zeros(w.num_users), np.zeros(w.num_users))
        w.uav_pos = np.asarray(uav_pos, float).reshape(w.num_uavs, 3)
        w.uav_vel = np.asarray(uav_vel, float).reshape(w.num_uavs, 3)
        w.mu_uav_gain = np.asarray(mu_uav_gain, float).reshape(w.num_users, w.num_uavs)
        w.uav_uav_rate = np.asarray(uav_uav_rate, float).reshape(w.num_uavs, w.num_uavs)
        w.fail_slots = np.asarray(fail_slots, np.int64).copy()
        w.lost_slots = np.full(w.num_uavs, failures.NEVER, np.int64)   # a view's down UAVs are in fail_slots
        return w

    def draw_channels(self) -> None:
        """The slot's MU-UAV gains (14) with fresh Rician fading, and the UAV-UAV rates (17)."""
        cfg = self.cfg
        fading = channel.rician_power(cfg.channel.rician_factor, self.rng, (self.num_users, self.num_uavs))
        self.mu_uav_gain = channel.mu_uav_gain(self.users.position, self.uav_pos, cfg, fading)
        self.uav_uav_rate = channel.uav_uav_rate_bps(self.uav_pos, cfg)

    @property
    def slot(self) -> int:
        return self.t

    @property
    def alive_start(self) -> np.ndarray:
        return failures.alive_at_start(self.fail_slots, self.t, self.lost_slots)

    @property
    def alive_end(self) -> np.ndarray:
        return failures.alive_at_end(self.fail_slots, self.t, self.lost_slots)

    def mu_uav_rate_bps(self) -> np.ndarray:
        """r_ij at p_max (the rate part of the state (29))."""
        cfg = self.cfg
        return channel.rate_bps(cfg.users.tx_power_max_w, self.mu_uav_gain, cfg.channel.bandwidth_mu_uav_hz,
                                cfg.noise_mu_uav_w)

    # --- a slot -----------------------------------------------------------------------------------
    def slot_inputs(self) -> tuple[SlotState, np.ndarray]:
        """What the slot's evaluation needs: (SlotState, flight energy (J,))."""
        if self.t is None:
            raise RuntimeError('call reset() before step()')
        if self.t >= self.num_slots:
            raise RuntimeError('episode is over: call reset()')
        t = self.t
        alive_start, alive_end = self.alive_start, self.alive_end
        fly = propulsion.slot_flight_energy_j(self.uav_vel, alive_start, self.cfg)
        return SlotState(self.dnn_type, self.mu_uav_gain, self.uav_uav_rate, alive_start, alive_end), fly

    def finish_slot(self, result, accel: np.ndarray, draw_next_channels: bool = True) -> SlotMotion:
        """After an evaluated slot: the UAVs fly it (through the safety layer if enabled), the users move,
        the next slot begins (its channels drawn, unless the UAVs' kinematics come from outside)."""
        cfg, t = self.cfg, self.t
        alive_end = self.alive_end
        accel = np.asarray(accel, float)
        interventions = np.zeros(self.num_uavs, np.int64)
        if cfg.safety.enabled:   # the same layer every plant of the ROS graph flies through
            safe = safety.safe_accelerations(self.uav_pos, self.uav_vel, accel, alive_end, cfg)
            accel, interventions = safe.accel, safe.interventions
        motion = mobility.step_uavs(self.uav_pos, self.uav_vel, accel, alive_end, cfg)
        timeout = bool((result.state != COMPLETED).any())   # a task late or dropped
        r = cfg.reward
        factor = (r.penalty_collision if motion.collision else 1.0) * (r.penalty_timeout if timeout else 1.0) \
            * (r.penalty_boundary if motion.out_of_bounds.any() else 1.0)
        self.last_motion = motion
        self.uav_pos, self.uav_vel = motion.position, motion.velocity
        self.users = mobility.step_users(self.users, cfg, self.rng)
        self.t += 1
        if draw_next_channels:
            self.draw_channels()
        return SlotMotion(t, alive_end, interventions, bool(motion.collision), bool(motion.out_of_bounds.any()),
                          timeout, factor)

    def begin_slot(self, uav_pos: np.ndarray, uav_vel: np.ndarray) -> None:
        """Start the current slot with UAV kinematics given from outside; draws its channels."""
        self.uav_pos = np.array(uav_pos, dtype=float).reshape(self.num_uavs, 3)
        self.uav_vel = np.array(uav_vel, dtype=float).reshape(self.num_uavs, 3)
        self.draw_channels()


def slot_info(result, motion: SlotMotion, fail_slots: np.ndarray, lost_slots: np.ndarray) -> dict:
    """The Gym env's info of a slot (its docstring's list), for the env and channel_sim alike."""
    return dict(slot=motion.slot, reward_factor=motion.reward_factor, collision=motion.collision,
                out_of_bounds=motion.out_of_bounds, timeout=motion.timeout, task_state=result.state.copy(),
                alive=motion.alive_end.copy(), fail_slots=fail_slots.copy(), lost_slots=lost_slots.copy(),
                failed_in_slot=np.flatnonzero(failures.failing_in(fail_slots, motion.slot)).tolist(),
                safety=motion.interventions, safety_interventions=int(np.count_nonzero(motion.interventions)),
                **result.totals())


class KinematicPlant:
    """The graph's kinematic plant (the world node): the UAVs fly (6)-(7) exactly as the Gym env flies them."""

    def __init__(self, cfg: ScenarioConfig, positions: np.ndarray):
        self.cfg = cfg
        self.position = np.array(positions, float)
        self.velocity = np.zeros_like(self.position)

    def flight_energy_j(self, alive: np.ndarray) -> np.ndarray:
        """(2) for the slot about to be flown at the current velocities."""
        return propulsion.slot_flight_energy_j(self.velocity, alive, self.cfg)

    def fly(self, accel: np.ndarray, moving: np.ndarray) -> None:
        step = mobility.step_uavs(self.position, self.velocity, np.asarray(accel, float), np.asarray(moving, bool),
                                  self.cfg)
        self.position, self.velocity = step.position, step.velocity
