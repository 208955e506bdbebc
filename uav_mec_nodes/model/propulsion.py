"""Rotary-wing propulsion power, eq. (2) (Zeng, Xu, Zhang 2019), as corrected by SPEC.md.

P(V) = P0 (1 + 3 V^2 / U_tip^2)
     + Pi (sqrt(1 + V^4 / (4 v0^4)) - V^2 / (2 v0^2))^(1/2)
     + 0.5 d0 rho s A V^3
"""
import numpy as np

from uav_mec_nodes.model.mobility import row_norms


def propulsion_power_w(speed_mps, p) -> np.ndarray:
    """P(V) [W] for speeds V [m/s] (any shape); `p` is a config PropulsionSection."""
    v = np.asarray(speed_mps, dtype=float)
    blade = p.blade_profile_w * (1.0 + 3.0 * v ** 2 / p.tip_speed_mps ** 2)
    v0 = p.mean_rotor_velocity_mps
    induced = p.induced_w * np.sqrt(np.sqrt(1.0 + v ** 4 / (4.0 * v0 ** 4)) - v ** 2 / (2.0 * v0 ** 2))
    parasite = 0.5 * p.fuselage_drag_ratio * p.air_density_kgpm3 * p.rotor_solidity * p.rotor_disc_area_m2 * v ** 3
    return blade + induced + parasite


def flight_energy_j(speed_mps, slot_s: float, p) -> np.ndarray:
    """e_fly = P(||v||) * delta [J], eq. (2)."""
    return propulsion_power_w(speed_mps, p) * slot_s


def slot_flight_energy_j(velocity_mps: np.ndarray, alive_start: np.ndarray, cfg) -> np.ndarray:
    """e_j^fly of every UAV in one slot (J,), from its velocity (J, 3) at the slot's start.

    With `energy.fly_energy_of_failed: down` a UAV down at the slot's start
    spends nothing; 'all' sums over all J as (27) is printed.
    """
    speed = row_norms(velocity_mps)
    fly = flight_energy_j(speed, cfg.scenario.slot_s, cfg.propulsion)
    if cfg.energy.fly_energy_of_failed == 'down':
        fly = np.where(alive_start, fly, 0.0)
    return fly
