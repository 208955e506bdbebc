"""Each equation against values worked out by hand in the test."""
import math

import numpy as np
import pytest

from uav_mec_nodes.config import load_scenario
from uav_mec_nodes.model import channel, dnn_profiles, power, propulsion

CFG = load_scenario()


def test_zeng_hover_power():
    # V = 0: P0 + Pi = 79.86 + 88.63 W
    assert propulsion.propulsion_power_w(0.0, CFG.propulsion) == pytest.approx(168.49, abs=1e-9)


def test_zeng_power_at_10_mps_by_hand():
    v, p = 10.0, CFG.propulsion
    blade = 79.86 * (1 + 3 * 100 / 120 ** 2)
    induced = 88.63 * math.sqrt(math.sqrt(1 + 10 ** 4 / (4 * 4.03 ** 4)) - 100 / (2 * 4.03 ** 2))
    parasite = 0.5 * 0.6 * 1.225 * 0.05 * 0.503 * 1000
    assert propulsion.propulsion_power_w(v, p) == pytest.approx(blade + induced + parasite, rel=1e-12)


def test_alexnet_conv1_flops_and_input_bits():
    # conv1: 3 -> 64 channels, 11x11 kernel, stride 4, padding 2: 224 -> 55
    p = dnn_profiles.profile('alexnet')
    assert p.flops[0] == 2 * 55 * 55 * 3 * 11 ** 2 * 64
    assert p.input_bits[0] == 224 * 224 * 3 * 32
    paper = dnn_profiles.profile('alexnet', conv_flops='paper_input')
    assert paper.flops[0] == 2 * 224 * 224 * 3 * 11 ** 2 * 64
    # first FC layer: 9216 -> 4096
    fc = p.kinds.index('fc')
    assert p.flops[fc] == 2 * (9216 - 1) * 4096
    assert dnn_profiles.profile('alexnet', fc_flops='usual').flops[fc] == (2 * 9216 - 1) * 4096
    assert p.input_bits[fc] == 9216 * 32


def test_layer_counts():
    assert [dnn_profiles.profile(n).num_layers for n in ('alexnet', 'vgg13', 'vgg16')] == [8, 13, 16]


def test_rician_tends_to_los():
    rng = np.random.default_rng(0)
    fading = channel.rician_power(1e12, rng, (200,))
    assert np.allclose(fading, 1.0, atol=1e-5)
    users = np.array([[0.0, 0.0, 0.0]])
    uavs = np.array([[30.0, 40.0, 120.0]])  # d = 130 m
    gain = channel.mu_uav_gain(users, uavs, CFG, np.ones((1, 1)))
    assert gain[0, 0] == pytest.approx(1e-3 / 130.0 ** 2, rel=1e-12)


def test_rician_mean_power_is_one():
    fading = channel.rician_power(10.0, np.random.default_rng(1), (200_000,))
    assert fading.mean() == pytest.approx(1.0, abs=0.01)


def test_uav_uav_rate_by_hand():
    q = np.array([[0.0, 0.0, 100.0], [100.0, 0.0, 100.0]])
    r = channel.uav_uav_rate_bps(q, CFG)
    snr = 1.0 * 1e-3 / 100.0 ** 2 / 1e-13
    assert r[0, 1] == pytest.approx(15e6 * math.log2(1 + snr), rel=1e-12)
    assert r[0, 0] == 0.0
    squared = channel.uav_uav_rate_bps(q, CFG.replace(channel__uav_gain_squared=True))
    assert squared[0, 1] == pytest.approx(15e6 * math.log2(1 + 1e-3 ** 2 / 100.0 ** 4 / 1e-13), rel=1e-12)


@pytest.mark.parametrize('bits, gain, t_tx', [(4.8e6, 1e-7, 1.0), (1.0e6, 3e-8, 0.2), (2.5e7, 1e-6, 0.9)])
def test_dinkelbach_converges_to_closed_form(bits, gain, t_tx):
    b, noise = 10e6, 1e-13
    p_hat = noise / gain * (2 ** (bits / (b * t_tx)) - 1)   # (33) by hand
    p, iterations = power.dinkelbach_power_w(np.array([bits]), np.array([gain]), b, noise, np.array([p_hat]), 0.5)
    assert p[0] == pytest.approx(p_hat, rel=1e-9)
    assert iterations < 20
    # at that power the upload takes exactly t_tx
    assert bits / channel.rate_bps(p[0], gain, b, noise) == pytest.approx(t_tx, rel=1e-9)


def test_min_power_infeasible_time():
    assert np.isinf(power.min_power_w(1e6, 0.0, 1e-7, 10e6, 1e-13))
    assert power.min_power_w(0.0, 0.0, 1e-7, 10e6, 1e-13) == 0.0


def test_slot_flight_energy_masks_failed_uavs():
    velocity = np.array([[0.0, 0.0, 0.0], [6.0, 8.0, 0.0]])  # speeds 0 and 10 m/s
    alive = np.array([True, False])
    down = propulsion.slot_flight_energy_j(velocity, alive, CFG)
    assert down[0] == pytest.approx(168.49) and down[1] == 0.0
    every = propulsion.slot_flight_energy_j(velocity, alive, CFG.replace(energy__fly_energy_of_failed='all'))
    assert every[1] == pytest.approx(propulsion.propulsion_power_w(10.0, CFG.propulsion))


def test_row_norms_are_numpys_norms_to_the_bit():
    """mobility.row_norms (the slot's distances, speeds and limits) gives np.linalg.norm(x, axis=-1) exactly,
    so the env's numbers did not move when it replaced it (issue 21: identical e_tot)."""
    from uav_mec_nodes.model.mobility import clip_norm, min_pairwise_distance, row_norms
    rng = np.random.default_rng(0)
    for shape in [(3, 3), (10, 3, 3), (1, 3), (7, 2), (0, 3)]:
        x = rng.normal(0, 10.0 ** rng.integers(-3, 4), shape)
        assert np.array_equal(row_norms(x), np.linalg.norm(x, axis=-1))
        assert np.array_equal(row_norms(x, keepdims=True), np.linalg.norm(x, axis=-1, keepdims=True))
    assert np.array_equal(row_norms(np.array([[3, 4]])), [5.0])   # integers: as floats, as norm does
    q = rng.uniform(0, 1000, (5, 3))
    d = np.linalg.norm(q[:, None] - q[None], axis=-1)
    assert min_pairwise_distance(q) == d[np.triu_indices(5, 1)].min()
    v = rng.normal(0, 20, (4, 3))
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    assert np.array_equal(clip_norm(v, 10.0), v * np.minimum(1.0, 10.0 / np.maximum(n, 1e-300)))
