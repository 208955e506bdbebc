"""Transmit power of the users, eqs. (32)-(35).

p_hat (33) is the least power that sends D bits in t_tx seconds:
    p_hat = sigma^2 / |h|^2 * (2^(D / (B t_tx)) - 1).
The objective p D / r(p) (32a) is strictly increasing in p, so its minimum over
[p_hat, p_max] is p_hat; Dinkelbach's method (34)-(35) started at p_max must
converge to it (a test checks this within 1e-9 relative).
"""
import numpy as np

LN2 = np.log(2.0)


def min_power_w(bits, tx_time_s, gain, bandwidth_hz, noise_w):
    """p_hat of eq. (33) [W]; inf where tx_time_s <= 0 and bits > 0."""
    bits = np.asarray(bits, dtype=float)
    t = np.asarray(tx_time_s, dtype=float)
    with np.errstate(divide='ignore', over='ignore', invalid='ignore'):
        p = noise_w / gain * np.expm1(LN2 * bits / (bandwidth_hz * t))
    return np.where(bits <= 0, 0.0, np.where(t > 0, p, np.inf))


def tx_energy_objective(power_w, bits, gain, bandwidth_hz, noise_w):
    """p D / r(p), eq. (32a) [J]."""
    return power_w * bits / (bandwidth_hz * np.log2(1.0 + power_w * gain / noise_w))


def dinkelbach_power_w(bits, gain, bandwidth_hz, noise_w, p_min, p_max, tol=1e-12, max_iter=100):
    """Solve (32) by Dinkelbach's transform (34)-(35), vectorised; returns (power, iterations).

    Each step minimises p D - y B log2(1 + p g / sigma^2) over [p_min, p_max]: the
    stationary point is p = y B / (D ln 2) - sigma^2 / g, clipped to the interval;
    then y is updated by (35). Entries with p_min > p_max are infeasible: they get
    p_max (the caller marks the task late).
    """
    bits = np.asarray(bits, dtype=float)
    gain = np.asarray(gain, dtype=float)
    lo = np.minimum(np.asarray(p_min, dtype=float), p_max)
    p = np.broadcast_to(np.asarray(p_max, dtype=float), np.broadcast(bits, gain, lo).shape).copy()
    active = bits > 0
    p[~active] = 0.0
    y = np.zeros_like(p)
    iterations = 0
    for iterations in range(1, max_iter + 1):
        y_new = np.where(active, tx_energy_objective(np.where(active, p, 1.0), bits, gain, bandwidth_hz,
                                                     noise_w), 0.0)
        with np.errstate(divide='ignore', invalid='ignore'):
            p_new = np.where(active, y_new * bandwidth_hz / (np.where(active, bits, 1.0) * LN2)
                             - noise_w / gain, 0.0)
        p_new = np.where(active, np.clip(p_new, lo, p_max), 0.0)
        done = np.all(np.abs(p_new - p) <= tol * np.maximum(np.abs(p), 1e-300))
        p, y = p_new, y_new
        if done:
            break
    return p, iterations
