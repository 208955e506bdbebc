"""Policies: the Policy protocol (base), the paper's baselines, the per-slot greedy reference and optimum,
the flying reference, trained policy files (learned, files) and, by name, the registry `--policy` reads."""
from uav_mec_nodes.policies.files import shipped_policy_path, shipped_set_policy_path  # noqa: F401
from uav_mec_nodes.policies.registry import BASELINES, make_policy  # noqa: F401
