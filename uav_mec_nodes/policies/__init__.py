"""Policies: the paper's baselines, the per-slot greedy reference, and trained policy files."""
from pathlib import Path

from uav_mec_nodes.policies.baselines import BASELINES, make_policy  # noqa: F401


def shipped_policy_path() -> Path:
    """The SAC-PER policy for the default scenario shipped with the package (see README)."""
    return Path(__file__).resolve().parent / 'data' / 'sac_per_default.pt'


def shipped_set_policy_path() -> Path:
    """The set policy shipped with the package: any I in 4..12 users and J in 2..5 UAVs (see README)."""
    return Path(__file__).resolve().parent / 'data' / 'set_policy.pt'
