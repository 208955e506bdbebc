"""Policies that need no learning: offload-all, random partitioning (paper's baselines)."""
from uav_mec_nodes.policies.baselines import BASELINES, make_policy  # noqa: F401
