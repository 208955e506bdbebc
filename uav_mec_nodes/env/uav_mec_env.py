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
`task_state` (I,) per task, `alive` (J,), `fail_slots` (J,), `lost_slots` (J,) (model.failures), penalties;
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
from uav_mec_nodes.model import failures, guidance
from uav_mec_nodes.model.slot import SlotDecisions, SlotState, evaluate_slot
from uav_mec_nodes.model.world import World, slot_info

RATE_SCALE = 10.0
# the state of the episode lives in a model.World; the env reads and writes these through it
WORLD_FIELDS = ('dnn_type', 'users', 'uav_pos', 'uav_vel', 'fail_slots', 'lost_slots', 'mu_uav_gain', 'uav_uav_rate')


def _world_field(name: str) -> property:
    return property(lambda env: getattr(env.world, name), lambda env, value: setattr(env.world, name, value),
                    doc=f'model.World.{name} of the current episode')


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
        self.world = World(self.cfg)
        self.paper_mode = self.world.paper_mode
        self.arrays = self.world.arrays
        self.num_types = self.arrays.num_types   # K, DNN types: as many as the profiles
        self.action_dim = action_dim(self.world)
        self.action_space = spaces.Box(-1.0, 1.0, (self.action_dim,), np.float32)
        self._bounds = observation_bounds(self.world)
        self.observation_space = spaces.Box(*self._bounds, dtype=np.float32)

    # --- episode ------------------------------------------------------------
    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        super().reset(seed=seed)
        self.world.start(self.np_random)
        return self._observation(), self._info_reset()

    @property
    def _t(self) -> Optional[int]:
        return self.world.t

    @property
    def slot(self) -> int:
        return self.world.t

    @property
    def alive_start(self) -> np.ndarray:
        return self.world.alive_start

    def mu_uav_rate_bps(self) -> np.ndarray:
        """r_ij at p_max (the rate part of the state (29))."""
        return self.world.mu_uav_rate_bps()

    def observation(self) -> np.ndarray:
        """The state (29) of the current slot, as reset() and step() return it."""
        return observation(self.world, self._bounds)

    def _observation(self) -> np.ndarray:
        return observation(self.world, self._bounds)

    def decode_action(self, action, motion_action: Optional[str] = None) -> tuple[SlotDecisions, np.ndarray]:
        """Continuous action -> (SlotDecisions, accelerations (J, 3)); dead UAVs masked (see decode_action)."""
        return decode_action(self.world, action, motion_action)

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
        return self.world.slot_inputs()

    def finish_slot(self, result, decisions: SlotDecisions, accel: np.ndarray, draw_next_channels: bool = True):
        """Apply an evaluated slot: reward (31), UAV and user motion, next channels; the step 5-tuple.

        draw_next_channels=False leaves the next slot's channels to begin_slot(), for
        callers whose UAV kinematics come from outside (the ROS world, PX4).
        """
        m = self.world.finish_slot(result, accel, draw_next_channels)
        reward = -result.e_tot * m.reward_factor
        self.last_result, self.last_decisions, self.last_motion = result, decisions, self.world.last_motion
        info = slot_info(result, m, self.fail_slots, self.lost_slots)
        terminated = self.world.t >= self.num_slots
        obs = self._observation() if draw_next_channels else None
        return obs, float(reward), terminated, False, info

    def begin_slot(self, uav_pos: np.ndarray, uav_vel: np.ndarray) -> None:
        """Start the current slot with UAV kinematics given from outside; draws its channels."""
        self.world.begin_slot(uav_pos, uav_vel)

    def _info_reset(self) -> dict:
        return dict(slot=0, alive=self.alive_start.copy(), fail_slots=self.fail_slots.copy(),
                    lost_slots=self.lost_slots.copy())


for _name in WORLD_FIELDS:
    setattr(UavMecEnv, _name, _world_field(_name))


# --- the MDP's encoding of a World (29)-(30): the env's, and a learned policy's on any World ------------
def observation_bounds(w: World) -> tuple[np.ndarray, np.ndarray]:
    i, j = w.num_users, w.num_uavs
    parts = [(i * w.arrays.num_types, 0, 1), (i * 2, 0, 1), (j * 3, 0, 1), (j * 3, -1, 1), (j, 0, 1),
             (i * j, 0, 2), (j * j, 0, 2), (1, 0, 1)]
    lo = np.concatenate([np.full(n, a, np.float32) for n, a, _ in parts])
    hi = np.concatenate([np.full(n, b, np.float32) for n, _, b in parts])
    return lo, hi


def action_dim(w: World) -> int:
    i, j = w.num_users, w.num_uavs
    return i * (1 + 2 * j) + 3 * j + (2 * i if w.paper_mode else 0)


def observation(w: World, bounds=None) -> np.ndarray:
    """The state (29) of the world's current slot (the table in the env's docstring); bounds: cached ones."""
    cfg, s = w.cfg, w.cfg.scenario
    onehot = np.eye(w.arrays.num_types)[w.dnn_type]
    alt = (w.uav_pos[:, 2] - s.altitude_min_m) / max(s.altitude_max_m - s.altitude_min_m, 1e-9)
    uav_pos = np.column_stack([w.uav_pos[:, :2] / s.area_m, alt])
    t = min(w.t, w.num_slots)
    alive = failures.alive_at_start(w.fail_slots, t, w.lost_slots).astype(float)
    obs = np.concatenate([
        onehot.ravel(), (w.users.position[:, :2] / s.area_m).ravel(), uav_pos.ravel(),
        (w.uav_vel / cfg.uavs.v_max_mps).ravel(), alive,
        np.log10(1.0 + w.mu_uav_rate_bps()).ravel() / RATE_SCALE,
        np.log10(1.0 + w.uav_uav_rate).ravel() / RATE_SCALE, [t / w.num_slots]])
    lo, hi = bounds if bounds is not None else observation_bounds(w)
    return np.clip(obs, lo, hi).astype(np.float32)


def decode_action(w: World, action, motion_action: Optional[str] = None) -> tuple[SlotDecisions, np.ndarray]:
    """Continuous action (30) -> (SlotDecisions, accelerations (J, 3)); dead UAVs masked.

    motion_action (default: the scenario's modes.motion_action) says what the motion entries mean; a policy
    file passes the one it was trained with.
    """
    dim = action_dim(w)
    a = np.asarray(action, dtype=np.float64).reshape(-1)
    if a.shape != (dim,):
        raise ActionError(f'action: expected shape ({dim},), got {np.asarray(action).shape}')
    if not np.isfinite(a).all():
        raise ActionError('action: NaN or inf entries')
    a = np.minimum(np.maximum(a, -1.0), 1.0)   # np.clip, without its dispatch (a is finite)
    i, j = w.num_users, w.num_uavs
    ends = (i, i + i * j, i + 2 * i * j, i + 2 * i * j + 3 * j)   # partition, association, migration, motion
    parts = [a[:ends[0]], a[ends[0]:ends[1]], a[ends[1]:ends[2]], a[ends[2]:ends[3]], a[ends[3]:]]
    layers = w.arrays.num_layers[w.dnn_type]
    phi = 1 + np.rint((parts[0] + 1.0) / 2.0 * (layers - 1)).astype(np.int64)
    alive = w.alive_start
    assoc = np.where(alive[None, :], parts[1].reshape(i, j), -np.inf)
    serving = np.argmax(assoc, axis=1) if alive.any() else np.zeros(i, np.int64)
    mig = parts[2].reshape(i, j).copy()
    mig[:, ~alive] = -np.inf
    mig[np.arange(i), serving] = -np.inf
    target = np.where(np.isfinite(mig).any(axis=1), np.argmax(mig, axis=1), -1)
    if (motion_action or w.cfg.modes.motion_action) == 'orbit':
        accel = guidance.orbit_action(parts[3].reshape(j, 3), w.users.position[:, :2], serving, w.uav_pos,
                                      w.uav_vel, alive, w.cfg)
    else:
        accel = parts[3].reshape(j, 3) * w.cfg.uavs.a_max_mps2
    share = frac = None
    if w.paper_mode:
        extra = parts[4]
        share = 0.05 + 0.95 * (extra[:i] + 1.0) / 2.0
        frac = 0.05 + 0.95 * (extra[i:] + 1.0) / 2.0
    return SlotDecisions(phi, serving, target, share, frac), accel


ENCODED_CHOICE = 0.9   # encode_decisions: a chosen UAV's score (others -ENCODED_CHOICE), inside tanh's range


def encode_decisions(w: World, decisions: SlotDecisions, motion=None) -> np.ndarray:
    """An action (30) that decode_action turns back into these decisions and, for the orbit action, this motion
    ((J, 3) in [-1, 1]; None: zeros): the inverse that a learner imitating a policy fits (learners/imitation.py).
    Paper mode's CPU shares are not encoded (a set policy decides none)."""
    if w.paper_mode:
        raise ActionError("encode_decisions: modes.resource_allocation 'paper' has CPU shares to encode; "
                          "only 'improved' is supported")
    i, j = w.num_users, w.num_uavs
    layers = w.arrays.num_layers[w.dnn_type]
    phi = np.asarray(decisions.partition_layer)
    partition = np.where(layers > 1, 2.0 * (phi - 1) / np.maximum(layers - 1, 1) - 1.0, 0.0)
    association = np.full((i, j), -ENCODED_CHOICE)
    association[np.arange(i), np.asarray(decisions.serving_uav)] = ENCODED_CHOICE
    migration = np.full((i, j), -ENCODED_CHOICE)
    target = np.asarray(decisions.migration_target)
    has = target >= 0
    migration[np.flatnonzero(has), target[has]] = ENCODED_CHOICE
    motion = np.zeros((j, 3)) if motion is None else np.asarray(motion, float).reshape(j, 3)
    return np.concatenate([partition, association.ravel(), migration.ravel(), motion.ravel()])
