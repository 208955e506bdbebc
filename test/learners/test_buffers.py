"""Sum tree and prioritized replay: sampling follows priorities, updates and insertion are right."""
import numpy as np
import pytest
from scipy import stats

from uav_mec_nodes.learners.buffers import PrioritizedReplayBuffer, ReplayBuffer, SumTree


def test_sum_tree_totals_and_updates():
    tree = SumTree(5)
    tree.update([0, 1, 2, 3, 4], [1.0, 2.0, 3.0, 4.0, 5.0])
    assert tree.total == 15.0
    tree.update([2, 2], [10.0, 0.5])          # last write wins, as sequential updates
    assert tree.get([2])[0] == 0.5
    assert tree.total == pytest.approx(12.5)
    # masses 0..1 -> leaf 0, 1..3 -> leaf 1, 3..3.5 -> leaf 2, 3.5..7.5 -> 3, 7.5..12.5 -> 4
    found = tree.find([0.0, 0.99, 1.0, 2.99, 3.2, 3.5, 7.49, 7.5, 12.49])
    assert found.tolist() == [0, 0, 1, 1, 2, 3, 3, 4, 4]


def test_prioritized_sampling_matches_priorities_chi_square():
    rng = np.random.default_rng(0)
    buf = PrioritizedReplayBuffer(8, 1, 1, alpha=1.0, eps=0.0)
    buf.add(np.zeros((8, 1)), np.zeros((8, 1)), np.zeros(8), np.zeros((8, 1)), np.zeros(8))
    priority = np.array([1, 2, 3, 4, 5, 6, 7, 8], float)
    buf.update_priorities(np.arange(8), priority)
    counts = np.zeros(8)
    for _ in range(2000):
        _, idx, _ = buf.sample(16, rng)
        counts += np.bincount(idx, minlength=8)
    expected = priority / priority.sum() * counts.sum()
    assert stats.chisquare(counts, expected).pvalue > 1e-3


def test_new_transitions_get_max_priority_and_weights_are_normalised():
    rng = np.random.default_rng(1)
    buf = PrioritizedReplayBuffer(4, 2, 1, alpha=0.5, beta0=0.4, beta_steps=10, eps=0.0)
    buf.add(np.zeros((2, 2)), np.zeros((2, 1)), np.zeros(2), np.zeros((2, 2)), np.zeros(2))
    buf.update_priorities([0, 1], [9.0, 1.0])    # priorities 3 and 1 (alpha = 0.5)
    assert buf.max_priority == pytest.approx(3.0)
    buf.add(np.ones(2), np.ones(1), 1.0, np.ones(2), 0.0)
    assert buf.tree.get([2])[0] == pytest.approx(3.0)
    _, idx, w = buf.sample(64, rng)
    # w = (N P)^-beta / max: the least likely transition (priority 1) has weight 1
    p = buf.tree.get(idx) / buf.tree.total
    beta = 0.4
    expected = (3 * p) ** -beta / (3 * 1.0 / 7.0) ** -beta
    np.testing.assert_allclose(w, expected, rtol=1e-6)
    assert w.max() <= 1.0 + 1e-6
    for _ in range(20):
        buf.sample(8, rng)
    assert buf.beta == 1.0                       # annealed to 1 after beta_steps samples


def test_ring_buffer_wraps_and_round_trips():
    buf = ReplayBuffer(3, 1, 1)
    for v in range(5):
        buf.add([v], [v], v, [v + 1], 0.0)
    assert len(buf) == 3 and sorted(buf.obs[:, 0].tolist()) == [2.0, 3.0, 4.0]
    other = ReplayBuffer(3, 1, 1)
    other.load_state_dict(buf.state_dict())
    np.testing.assert_array_equal(other.obs, buf.obs)
    assert other.pos == buf.pos
