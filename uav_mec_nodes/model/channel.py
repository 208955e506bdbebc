"""Channels and rates, eqs. (14)-(17).

MU-UAV (14)-(15): Rician fading, |h|^2 = beta0 / d^chi * |sqrt(G/(G+1)) h_los + sqrt(1/(G+1)) h_nlos|^2
with h_los = 1 (unit modulus; its phase does not change |h|^2 since h_nlos ~ CN(0, 1)).
UAV-UAV (16)-(17): LoS, power gain h0 / d^2 used once in the SNR (SPEC.md); the literal
reading h0^2 / d^4 is an option (`channel.uav_gain_squared`).
"""
import numpy as np

from uav_mec_nodes.model.mobility import row_norms


def distances_m(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise Euclidean distances between rows of a (N, 3) and b (M, 3) -> (N, M)."""
    return row_norms(a[..., :, None, :] - b[..., None, :, :])


def rician_power(rician_factor: float, rng: np.random.Generator, shape) -> np.ndarray:
    """|sqrt(G/(G+1)) + sqrt(1/(G+1)) h_nlos|^2 with h_nlos ~ CN(0, 1): small-scale fading power."""
    g = rician_factor
    nlos = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2.0)
    return np.abs(np.sqrt(g / (g + 1.0)) + np.sqrt(1.0 / (g + 1.0)) * nlos) ** 2


def mu_uav_gain(user_pos: np.ndarray, uav_pos: np.ndarray, cfg, fading: np.ndarray) -> np.ndarray:
    """|h_ij|^2 (I, J), eq. (14), for given small-scale fading powers (I, J)."""
    d = distances_m(user_pos, uav_pos)
    return cfg.beta0 / d ** cfg.channel.path_loss_exponent * fading


def rate_bps(power_w, gain, bandwidth_hz: float, noise_w: float) -> np.ndarray:
    """Shannon rate B log2(1 + p |h|^2 / sigma^2), eqs. (15), (17)."""
    return bandwidth_hz * np.log2(1.0 + np.asarray(power_w) * gain / noise_w)


def uav_uav_gain(uav_pos: np.ndarray, cfg) -> np.ndarray:
    """|h_jk|^2 (J, J), eq. (16); 0 on the diagonal."""
    d = distances_m(uav_pos, uav_pos)
    np.fill_diagonal(d, np.inf)
    with np.errstate(divide='ignore'):  # two UAVs at one point (a collision, penalised by (5)): inf gain
        gain = cfg.h0 / d ** 2
    return gain ** 2 if cfg.channel.uav_gain_squared else gain


def uav_uav_rate_bps(uav_pos: np.ndarray, cfg) -> np.ndarray:
    """r_jk (J, J) at the UAV transmit power p_j, eq. (17); 0 on the diagonal."""
    return rate_bps(cfg.uavs.tx_power_w, uav_uav_gain(uav_pos, cfg),
                    cfg.channel.bandwidth_uav_uav_hz, cfg.noise_uav_uav_w)
