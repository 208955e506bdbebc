"""Gymnasium environment for the MDP of Meng & Li, eqs. (29)-(31).

## Description
J UAV edge servers serve I mobile users for T slots of delta seconds. Each
slot every user generates one DNN task; the agent chooses, per user, the
partition layer phi_i, the serving UAV (alpha) and a standby migration target
(beta, used only if the serving UAV fails during the slot), and per UAV an
acceleration. Transmit power comes from Dinkelbach's method, CPU frequencies
from the resource allocation mode (config `modes.resource_allocation`).

## Action space: Box(-1, 1, (I (1 + 2J) + 3J [+ 2I],), float32)
| part | size | decoding |
|---|---|---|
| partition | I | phi = 1 + round((x + 1) / 2 * (L_k - 1)) |
| association scores | I x J | argmax over UAVs alive at the slot's start |
| migration scores | I x J | argmax over live UAVs other than the serving one |
| motion | J x 3 | `modes.motion_action`: acceleration a = x * a_max, norm clipped to a_max (7); or orbit: the centre's offset from the UAV's users (x, y: +-100 m) and its altitude in the band (z), flown at the cruise speed of (2) (model/guidance.py) |
| CPU share (paper mode only) | I | share = 0.05 + 0.95 (x + 1) / 2 |
| local CPU fraction (paper mode only) | I | f_loc / f_max = 0.05 + 0.95 (x + 1) / 2 |

## Observation space: Box(float32), state (29) plus alive flags and time
| part | size | meaning | range |
|---|---|---|---|
| task types | I x 3 | one-hot DNN type b_i | {0, 1} |
| user positions | I x 2 | w_i / area | [0, 1] |
| UAV positions | J x 3 | x/area, y/area, (H - H_min)/(H_max - H_min) | [0, 1] |
| UAV velocities | J x 3 | v_j / v_max | [-1, 1] |
| alive | J | s_j(t-1) | {0, 1} |
| MU-UAV rates | I x J | log10(1 + r_ij at p_max) / 10 | [0, 2] |
| UAV-UAV rates | J x J | log10(1 + r_jk) / 10 | [0, 2] |
| time | 1 | t / T | [0, 1] |

## Reward (31)
-e_tot * P_dis * P_time * P_0, each factor its configured penalty when (5),
(28k) or the area/altitude bounds are violated in the slot, else 1.

## Episode end
terminated after T slots (the problem's horizon N = T delta; time is in the
observation); never truncated by the env itself.

## Info
`slot`, `e_tot`, the energy parts, task counts by terminal state, migrations,
`task_state` (I,) per task, `alive` (J,), `fail_slots` (J,), penalties;
`safety` (J,): what the safety layer changed in each UAV's command (bit flags of
model.safety; 0 when the scenario's `safety.enabled` is false, the default) and
`safety_interventions`, the number of UAVs it changed.
"""
from __future__ import annotations

from typing import Optional

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from uav_mec_nodes.config import ScenarioConfig, load_scenario
from uav_mec_nodes.errors import ActionError
from uav_mec_nodes.model import channel, failures, guidance, mobility, propulsion, safety
from uav_mec_nodes.model.dnn_profiles import ProfileArrays, profiles_for
from uav_mec_nodes.model.slot import DROPPED, LATE, SlotDecisions, SlotState, evaluate_slot

RATE_SCALE = 10.0


class UavMecEnv(gym.Env):
    metadata = {'render_modes': []}

    def __init__(self, config: Optional[ScenarioConfig] = None, num_users: Optional[int] = None,
                 num_uavs: Optional[int] = None, max_failures: Optional[int] = None):
        cfg = config or load_scenario()
        changes = {}
        if num_users is not None:
            changes['scenario.num_users'] = num_users
        if num_uavs is not None:
            changes['scenario.num_uavs'] = num_uavs
        if max_failures is not None:
            changes['failures.max_failures'] = max_failures
            if cfg.failures.num_failures > max_failures:
                changes['failures.num_failures'] = max_failures
        self.cfg = cfg.replace(**changes) if changes else cfg
        self.num_users = self.cfg.scenario.num_users
        self.num_uavs = self.cfg.scenario.num_uavs
        self.num_slots = self.cfg.scenario.num_slots
        self.paper_mode = self.cfg.modes.resource_allocation == 'paper'
        self.arrays = ProfileArrays.build(profiles_for(self.cfg.compute))
        i, j = self.num_users, self.num_uavs
        self.action_dim = i * (1 + 2 * j) + 3 * j + (2 * i if self.paper_mode else 0)
        self.action_space = spaces.Box(-1.0, 1.0, (self.action_dim,), np.float32)
        lo, hi = self._obs_bounds()
        self.observation_space = spaces.Box(lo, hi, dtype=np.float32)
        self._t: Optional[int] = None

    # --- spaces -------------------------------------------------------------
    def _obs_bounds(self):
        i, j = self.num_users, self.num_uavs
        parts = [(i * 3, 0, 1), (i * 2, 0, 1), (j * 3, 0, 1), (j * 3, -1, 1), (j, 0, 1),
                 (i * j, 0, 2), (j * j, 0, 2), (1, 0, 1)]
        lo = np.concatenate([np.full(n, a, np.float32) for n, a, _ in parts])
        hi = np.concatenate([np.full(n, b, np.float32) for n, _, b in parts])
        return lo, hi

    # --- episode ------------------------------------------------------------
    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        super().reset(seed=seed)
        rng, cfg = self.np_random, self.cfg
        i, j = self.num_users, self.num_uavs
        if cfg.scenario.dnn_assignment == 'round_robin':
            self.dnn_type = np.arange(i) % 3
        else:
            self.dnn_type = rng.integers(0, 3, size=i)
        self.users = mobility.init_users(i, cfg, rng)
        self.uav_pos = mobility.init_uavs(j, cfg, rng)
        self.uav_vel = np.zeros((j, 3))
        self.fail_slots = failures.draw_failure_slots(j, self.num_slots, cfg, rng)
        self._t = 0
        self._draw_channels()
        return self._observation(), self._info_reset()

    def _draw_channels(self):
        cfg = self.cfg
        fading = channel.rician_power(cfg.channel.rician_factor, self.np_random, (self.num_users, self.num_uavs))
        self.mu_uav_gain = channel.mu_uav_gain(self.users.position, self.uav_pos, cfg, fading)
        self.uav_uav_rate = channel.uav_uav_rate_bps(self.uav_pos, cfg)

    @property
    def slot(self) -> int:
        return self._t

    @property
    def alive_start(self) -> np.ndarray:
        return failures.alive_at_start(self.fail_slots, self._t)

    def mu_uav_rate_bps(self) -> np.ndarray:
        """r_ij at p_max (the rate part of the state (29))."""
        cfg = self.cfg
        return channel.rate_bps(cfg.users.tx_power_max_w, self.mu_uav_gain, cfg.channel.bandwidth_mu_uav_hz,
                                cfg.noise_mu_uav_w)

    def observation(self) -> np.ndarray:
        """The state (29) of the current slot, as reset() and step() return it."""
        return self._observation()

    def _observation(self) -> np.ndarray:
        cfg, s = self.cfg, self.cfg.scenario
        onehot = np.eye(3)[self.dnn_type]
        alt = (self.uav_pos[:, 2] - s.altitude_min_m) / max(s.altitude_max_m - s.altitude_min_m, 1e-9)
        uav_pos = np.column_stack([self.uav_pos[:, :2] / s.area_m, alt])
        t = min(self._t, self.num_slots)
        alive = failures.alive_at_start(self.fail_slots, t).astype(float)
        obs = np.concatenate([
            onehot.ravel(), (self.users.position[:, :2] / s.area_m).ravel(), uav_pos.ravel(),
            (self.uav_vel / cfg.uavs.v_max_mps).ravel(), alive,
            np.log10(1.0 + self.mu_uav_rate_bps()).ravel() / RATE_SCALE,
            np.log10(1.0 + self.uav_uav_rate).ravel() / RATE_SCALE, [t / self.num_slots]])
        lo, hi = self.observation_space.low, self.observation_space.high
        return np.clip(obs, lo, hi).astype(np.float32)

    # --- action decoding (MDP (30)) ------------------------------------------
    def decode_action(self, action, motion_action: Optional[str] = None) -> tuple[SlotDecisions, np.ndarray]:
        """Continuous action -> (SlotDecisions, accelerations (J, 3)); dead UAVs masked.

        motion_action (default: the scenario's modes.motion_action) says what the motion entries mean; a policy
        file passes the one it was trained with.
        """
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (self.action_dim,):
            raise ActionError(f'action: expected shape ({self.action_dim},), got {np.asarray(action).shape}')
        if not np.all(np.isfinite(a)):
            raise ActionError('action: NaN or inf entries')
        a = np.clip(a, -1.0, 1.0)
        i, j = self.num_users, self.num_uavs
        parts = np.split(a, np.cumsum([i, i * j, i * j, 3 * j]))
        layers = self.arrays.num_layers[self.dnn_type]
        phi = 1 + np.rint((parts[0] + 1.0) / 2.0 * (layers - 1)).astype(np.int64)
        alive = self.alive_start
        assoc = np.where(alive[None, :], parts[1].reshape(i, j), -np.inf)
        serving = np.argmax(assoc, axis=1) if alive.any() else np.zeros(i, np.int64)
        mig = parts[2].reshape(i, j).copy()
        mig[~np.broadcast_to(alive[None, :], mig.shape)] = -np.inf
        mig[np.arange(i), serving] = -np.inf
        target = np.where(np.isfinite(mig).any(axis=1), np.argmax(mig, axis=1), -1)
        if (motion_action or self.cfg.modes.motion_action) == 'orbit':
            accel = guidance.orbit_action(parts[3].reshape(j, 3), self.users.position[:, :2], serving, self.uav_pos,
                                          self.uav_vel, alive, self.cfg)
        else:
            accel = parts[3].reshape(j, 3) * self.cfg.uavs.a_max_mps2
        share = frac = None
        if self.paper_mode:
            extra = parts[4]
            share = 0.05 + 0.95 * (extra[:i] + 1.0) / 2.0
            frac = 0.05 + 0.95 * (extra[i:] + 1.0) / 2.0
        return SlotDecisions(phi, serving, target, share, frac), accel

    def step(self, action):
        decisions, accel = self.decode_action(action)
        return self.step_decisions(decisions, accel)

    def step_decisions(self, decisions: SlotDecisions, accel: np.ndarray):
        """Advance one slot with decoded decisions (used by the baselines and the ROS planner)."""
        state, fly = self.slot_inputs()
        result = evaluate_slot(self.cfg, self.arrays, decisions, state, fly)
        return self.finish_slot(result, decisions, accel)

    def slot_inputs(self) -> tuple[SlotState, np.ndarray]:
        """What the slot's evaluation needs from the env: (SlotState, flight energy (J,))."""
        if self._t is None:
            raise RuntimeError('call reset() before step()')
        if self._t >= self.num_slots:
            raise RuntimeError('episode is over: call reset()')
        t = self._t
        alive_start = failures.alive_at_start(self.fail_slots, t)
        alive_end = failures.alive_at_end(self.fail_slots, t)
        fly = propulsion.slot_flight_energy_j(self.uav_vel, alive_start, self.cfg)
        return SlotState(self.dnn_type, self.mu_uav_gain, self.uav_uav_rate, alive_start, alive_end), fly

    def finish_slot(self, result, decisions: SlotDecisions, accel: np.ndarray, draw_next_channels: bool = True):
        """Apply an evaluated slot: reward (31), UAV and user motion, next channels; the step 5-tuple.

        draw_next_channels=False leaves the next slot's channels to begin_slot(), for
        callers whose UAV kinematics come from outside (the ROS world, PX4).
        """
        cfg, t = self.cfg, self._t
        alive_end = failures.alive_at_end(self.fail_slots, t)
        accel = np.asarray(accel, float)
        interventions = np.zeros(self.num_uavs, np.int64)
        if cfg.safety.enabled:   # the same layer every plant of the ROS graph flies through
            safe = safety.safe_accelerations(self.uav_pos, self.uav_vel, accel, alive_end, cfg)
            accel, interventions = safe.accel, safe.interventions
        motion = mobility.step_uavs(self.uav_pos, self.uav_vel, accel, alive_end, cfg)
        timeout = bool(np.any((result.state == LATE) | (result.state == DROPPED)))
        r = cfg.reward
        factor = (r.penalty_collision if motion.collision else 1.0) * (r.penalty_timeout if timeout else 1.0) \
            * (r.penalty_boundary if motion.out_of_bounds.any() else 1.0)
        reward = -result.e_tot * factor
        self.last_result, self.last_decisions, self.last_motion = result, decisions, motion
        self.uav_pos, self.uav_vel = motion.position, motion.velocity
        self.users = mobility.step_users(self.users, cfg, self.np_random)
        self._t += 1
        if draw_next_channels:
            self._draw_channels()
        info = dict(slot=t, reward_factor=factor, collision=motion.collision,
                    out_of_bounds=bool(motion.out_of_bounds.any()), timeout=timeout,
                    task_state=result.state.copy(), alive=alive_end.copy(), fail_slots=self.fail_slots.copy(),
                    failed_in_slot=np.flatnonzero(failures.failing_in(self.fail_slots, t)).tolist(),
                    safety=interventions, safety_interventions=int(np.count_nonzero(interventions)),
                    **result.totals())
        terminated = self._t >= self.num_slots
        obs = self._observation() if draw_next_channels else None
        return obs, float(reward), terminated, False, info

    def begin_slot(self, uav_pos: np.ndarray, uav_vel: np.ndarray) -> None:
        """Start the current slot with UAV kinematics given from outside; draws its channels."""
        self.uav_pos = np.array(uav_pos, dtype=float).reshape(self.num_uavs, 3)
        self.uav_vel = np.array(uav_vel, dtype=float).reshape(self.num_uavs, 3)
        self._draw_channels()

    def load_view(self, slot: int, dnn_type, user_pos, uav_pos, uav_vel, mu_uav_gain, uav_uav_rate,
                  fail_slots) -> None:
        """Set the whole slot state from outside (the ROS planner's view built from topics)."""
        self._t = int(slot)
        self.dnn_type = np.asarray(dnn_type, np.int64)
        self.users = mobility.UserMotion(np.asarray(user_pos, float).reshape(self.num_users, 3),
                                         np.zeros(self.num_users), np.zeros(self.num_users),
                                         np.zeros(self.num_users))
        self.uav_pos = np.asarray(uav_pos, float).reshape(self.num_uavs, 3)
        self.uav_vel = np.asarray(uav_vel, float).reshape(self.num_uavs, 3)
        self.mu_uav_gain = np.asarray(mu_uav_gain, float).reshape(self.num_users, self.num_uavs)
        self.uav_uav_rate = np.asarray(uav_uav_rate, float).reshape(self.num_uavs, self.num_uavs)
        self.fail_slots = np.asarray(fail_slots, np.int64).copy()

    def _info_reset(self) -> dict:
        return dict(slot=0, alive=self.alive_start.copy(), fail_slots=self.fail_slots.copy())
