"""The padded layout a set policy reads and writes, for any number of users I and UAVs J.

The env's observation and action are flat vectors whose layout depends on
(I, J) (env/uav_mec_env.py). A set policy trained on episodes of several
sizes keeps them in one replay buffer, so each vector is padded to the largest
size of its training range (I_max, J_max), with masks of the users and UAVs
present appended to the observation. The networks (learners/set_networks.py)
read this layout, so the same code path serves training, evaluation and the
ROS planner at every size in the range.

Padded observation: type (I_max, K) one-hot over the K DNN types, user xy (I_max, 2), UAV position
(J_max, 3), velocity (J_max, 3), alive (J_max), MU-UAV rates (I_max, J_max),
UAV-UAV rates (J_max, J_max), time (1), user mask (I_max), UAV mask (J_max).
Padded action: partition (I_max), association (I_max, J_max), migration
(I_max, J_max), motion (J_max, 3). Padding entries are zero.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.model.dnn_profiles import DNN_NAMES


def obs_parts(i: int, j: int, k: int = len(DNN_NAMES)) -> List[Tuple[str, tuple]]:
    """The env's observation parts, in order, as (name, shape) for I users, J UAVs and K DNN types."""
    return [('dnn_type', (i, k)), ('user_xy', (i, 2)), ('uav_position', (j, 3)), ('uav_velocity', (j, 3)),
            ('alive', (j,)), ('mu_uav_rate', (i, j)), ('uav_uav_rate', (j, j)), ('time', (1,))]


def action_parts(i: int, j: int) -> List[Tuple[str, tuple]]:
    return [('partition', (i,)), ('association', (i, j)), ('migration', (i, j)), ('motion', (j, 3))]


def _split(vector: np.ndarray, parts) -> dict:
    sizes = [int(np.prod(shape)) for _, shape in parts]
    pieces = np.split(np.asarray(vector), np.cumsum(sizes)[:-1], axis=-1)
    lead = np.asarray(vector).shape[:-1]
    return {name: p.reshape(lead + shape) for (name, shape), p in zip(parts, pieces)}


def _pad(array: np.ndarray, shape: tuple) -> np.ndarray:
    lead = array.shape[:array.ndim - len(shape)]
    out = np.zeros(lead + shape, np.float32)
    out[(...,) + tuple(slice(0, n) for n in array.shape[len(lead):])] = array
    return out


@dataclass(frozen=True)
class SetLayout:
    """The size range of a set policy: users in [min_users, max_users], UAVs in [min_uavs, max_uavs]."""
    min_users: int = 4
    max_users: int = 12
    min_uavs: int = 2
    max_uavs: int = 5
    num_types: int = len(DNN_NAMES)   # K, the DNN types of the profiles (the one-hot's width)

    def validate(self) -> None:
        if not 1 <= self.min_users <= self.max_users <= 256:
            raise UserInputError(f'set_users: must be 1 <= min <= max <= 256, got '
                                 f'[{self.min_users}, {self.max_users}]')
        if not 2 <= self.min_uavs <= self.max_uavs <= 32:   # migration needs a second UAV
            raise UserInputError(f'set_uavs: must be 2 <= min <= max <= 32, got [{self.min_uavs}, {self.max_uavs}]')

    @property
    def obs_dim(self) -> int:
        i, j = self.max_users, self.max_uavs
        return sum(int(np.prod(s)) for _, s in obs_parts(i, j, self.num_types)) + i + j

    @property
    def action_dim(self) -> int:
        return sum(int(np.prod(s)) for _, s in action_parts(self.max_users, self.max_uavs))

    def check_size(self, users: int, uavs: int, what: str = '--policy') -> None:
        """A clear error for a size the policy was not trained on (it has no inputs beyond max)."""
        if not (self.min_users <= users <= self.max_users and self.min_uavs <= uavs <= self.max_uavs):
            raise UserInputError(
                f'{what}: a set policy trained for I in [{self.min_users}, {self.max_users}] users and J in '
                f'[{self.min_uavs}, {self.max_uavs}] UAVs; this scenario has I={users}, J={uavs} (train one '
                f'with --set-users/--set-uavs covering it)')

    def check_scenario(self, users: int, uavs: int, paper_mode: bool, what: str = '--policy') -> None:
        """check_size, and the resource-allocation mode: a set network decides no CPU shares."""
        self.check_size(users, uavs, what)
        if paper_mode:
            raise UserInputError(f"{what}: a set policy decides no CPU shares; this scenario's "
                                 "modes.resource_allocation is 'paper'")

    def pad_obs(self, obs: np.ndarray, users: int, uavs: int) -> np.ndarray:
        """The env's observation of (users, uavs), one (n,) or a batch (B, n), in the padded layout."""
        parts = _split(obs, obs_parts(users, uavs, self.num_types))
        i, j = self.max_users, self.max_uavs
        lead = np.asarray(obs).shape[:-1]
        padded = [_pad(parts[name], shape).reshape(lead + (-1,)) for name, shape in obs_parts(i, j, self.num_types)]
        user_mask = np.zeros(lead + (i,), np.float32)
        user_mask[..., :users] = 1.0
        uav_mask = np.zeros(lead + (j,), np.float32)
        uav_mask[..., :uavs] = 1.0
        return np.concatenate(padded + [user_mask, uav_mask], axis=-1)

    def unpad_action(self, action: np.ndarray, users: int, uavs: int) -> np.ndarray:
        """A padded action back to the env's action of (users, uavs)."""
        parts = _split(action, action_parts(self.max_users, self.max_uavs))
        lead = np.asarray(action).shape[:-1]
        cut = [parts[name][(...,) + tuple(slice(0, n) for n in shape)].reshape(lead + (-1,))
               for name, shape in action_parts(users, uavs)]
        return np.concatenate(cut, axis=-1)

    def pad_action(self, action: np.ndarray, users: int, uavs: int) -> np.ndarray:
        """The env's action of (users, uavs), one (n,) or a batch (B, n), in the padded layout (unpad_action's
        inverse; padding entries zero)."""
        parts = _split(action, action_parts(users, uavs))
        lead = np.asarray(action).shape[:-1]
        return np.concatenate([_pad(parts[name], shape).reshape(lead + (-1,))
                               for name, shape in action_parts(self.max_users, self.max_uavs)], axis=-1)

    def to_dict(self) -> dict:
        return dict(set_users=[self.min_users, self.max_users], set_uavs=[self.min_uavs, self.max_uavs])
