"""Replay buffers: uniform, and prioritized (PER) on a vectorised sum tree.

PER as in the paper (Schaul et al.): a transition's priority is
p_i = (|delta_i| + eps)^alpha with delta_i the TD error of (39); it is drawn
with probability P(i) = p_i / sum_k p_k and its loss weighted by
w_i = (N P(i))^-beta / max_k w_k, beta annealed linearly from beta0 to 1.
New transitions enter with the largest priority seen so far.
"""
from __future__ import annotations

import numpy as np


class ReplayBuffer:
    """Uniform ring buffer of (obs, action, reward, next_obs, done) in float32 numpy arrays."""

    def __init__(self, capacity: int, obs_dim: int, action_dim: int):
        if capacity < 1:
            raise ValueError(f'capacity: must be >= 1, got {capacity}')
        self.capacity = capacity
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.action = np.zeros((capacity, action_dim), np.float32)
        self.reward = np.zeros(capacity, np.float32)
        self.done = np.zeros(capacity, np.float32)
        self.pos = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs, action, reward, next_obs, done) -> np.ndarray:
        """Add one transition or a batch (leading axis); returns the slots written."""
        obs = np.atleast_2d(np.asarray(obs, np.float32))
        n = len(obs)
        idx = (self.pos + np.arange(n)) % self.capacity
        self.obs[idx] = obs
        self.action[idx] = np.atleast_2d(action)
        self.reward[idx] = np.atleast_1d(reward)
        self.next_obs[idx] = np.atleast_2d(next_obs)
        self.done[idx] = np.atleast_1d(done)
        self.pos = int((self.pos + n) % self.capacity)
        self.size = int(min(self.size + n, self.capacity))
        return idx

    def sample(self, batch_size: int, rng: np.random.Generator):
        """(batch dict, indices, importance weights): uniform draws, weights all 1."""
        return self.sample_uniform(batch_size, rng)

    def sample_uniform(self, batch_size: int, rng: np.random.Generator):
        """Uniform draws whatever the buffer's kind (a prioritized buffer's actor batches can use it)."""
        idx = rng.integers(0, self.size, size=batch_size)
        return self._batch(idx), idx, np.ones(batch_size, np.float32)

    def _batch(self, idx):
        return dict(obs=self.obs[idx], action=self.action[idx], reward=self.reward[idx],
                    next_obs=self.next_obs[idx], done=self.done[idx])

    def update_priorities(self, idx, td_error) -> None:
        """Uniform replay ignores TD errors (same interface as the prioritized buffer)."""

    def state_dict(self) -> dict:
        return dict(obs=self.obs[:self.size], next_obs=self.next_obs[:self.size], action=self.action[:self.size],
                    reward=self.reward[:self.size], done=self.done[:self.size], pos=self.pos, size=self.size)

    def load_state_dict(self, state: dict) -> None:
        n = int(state['size'])
        for name in ('obs', 'next_obs', 'action', 'reward', 'done'):
            getattr(self, name)[:n] = state[name]
        self.pos, self.size = int(state['pos']), n


class SumTree:
    """Binary sum tree over `capacity` leaves, updated and searched level by level for whole batches."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.leaves = 1 << max(0, int(np.ceil(np.log2(max(capacity, 1)))))
        self.tree = np.zeros(2 * self.leaves)      # node n has children 2n, 2n+1; leaves at [leaves, 2 leaves)

    @property
    def total(self) -> float:
        return float(self.tree[1])

    def get(self, idx) -> np.ndarray:
        return self.tree[self.leaves + np.asarray(idx)]

    def update(self, idx, values) -> None:
        idx = np.asarray(idx, np.int64)
        values = np.asarray(values, float)
        # duplicates in one batch: the last value wins, as sequential updates would give
        last = len(idx) - 1 - np.unique(idx[::-1], return_index=True)[1]
        nodes = self.leaves + idx[last]
        self.tree[nodes] = values[last]
        nodes = np.unique(nodes // 2)
        while nodes.size and nodes[0] >= 1:
            self.tree[nodes] = self.tree[2 * nodes] + self.tree[2 * nodes + 1]
            if nodes[0] == 1:
                break
            nodes = np.unique(nodes // 2)

    def find(self, mass) -> np.ndarray:
        """Leaf index whose cumulative range holds each mass value (0 <= mass < total)."""
        mass = np.asarray(mass, float).copy()
        node = np.ones(mass.shape, np.int64)
        while node[0] < self.leaves if node.size else False:
            left = 2 * node
            go_right = mass >= self.tree[left]
            mass = np.where(go_right, mass - self.tree[left], mass)
            node = np.where(go_right, left + 1, left)
        return np.minimum(node - self.leaves, self.capacity - 1)


class PrioritizedReplayBuffer(ReplayBuffer):
    def __init__(self, capacity: int, obs_dim: int, action_dim: int, alpha: float = 0.6, beta0: float = 0.4,
                 beta_steps: int = 100_000, eps: float = 1e-6):
        super().__init__(capacity, obs_dim, action_dim)
        for name, value, lo, hi in (('per_alpha', alpha, 0.0, 1.0), ('per_beta0', beta0, 0.0, 1.0)):
            if not lo <= value <= hi:
                raise ValueError(f'{name}: must be in [{lo}, {hi}], got {value}')
        self.alpha, self.beta0, self.beta_steps, self.eps = alpha, beta0, max(beta_steps, 1), eps
        self.tree = SumTree(capacity)
        self.max_priority = 1.0
        self.samples_drawn = 0

    @property
    def beta(self) -> float:
        """Annealed linearly from beta0 to 1 over beta_steps sample() calls."""
        frac = min(1.0, self.samples_drawn / self.beta_steps)
        return self.beta0 + frac * (1.0 - self.beta0)

    def add(self, obs, action, reward, next_obs, done) -> np.ndarray:
        idx = super().add(obs, action, reward, next_obs, done)
        self.tree.update(idx, np.full(len(idx), self.max_priority))
        return idx

    def sample(self, batch_size: int, rng: np.random.Generator):
        """Stratified draws proportional to priority, with normalised importance weights."""
        total = self.tree.total
        bounds = np.linspace(0.0, total, batch_size + 1)
        mass = rng.uniform(bounds[:-1], bounds[1:])
        idx = np.minimum(self.tree.find(np.minimum(mass, np.nextafter(total, 0))), self.size - 1)
        prob = self.tree.get(idx) / total
        beta = self.beta
        weights = (self.size * prob) ** (-beta)
        # normalise by the largest possible weight (the smallest priority in the buffer)
        p_min = self.tree.get(np.arange(self.size)).min() / total
        weights = weights / (self.size * p_min) ** (-beta)
        self.samples_drawn += 1
        return self._batch(idx), idx, weights.astype(np.float32)

    def update_priorities(self, idx, td_error) -> None:
        priority = (np.abs(np.asarray(td_error, float)) + self.eps) ** self.alpha
        self.tree.update(idx, priority)
        self.max_priority = max(self.max_priority, float(priority.max()))

    def state_dict(self) -> dict:
        state = super().state_dict()
        state.update(priorities=self.tree.get(np.arange(self.size)), max_priority=self.max_priority,
                     samples_drawn=self.samples_drawn)
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.tree = SumTree(self.capacity)
        self.tree.update(np.arange(self.size), state['priorities'])
        self.max_priority = float(state['max_priority'])
        self.samples_drawn = int(state['samples_drawn'])
