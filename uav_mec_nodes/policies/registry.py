"""Policies by name: the registry `--policy` reads. It imports what it registers only when asked for, so no
policy module needs it (no import circle)."""
from __future__ import annotations

from typing import Callable, Dict

from uav_mec_nodes.policies.base import Policy


def _offload_all():
    from uav_mec_nodes.policies.baselines import OffloadAll
    return OffloadAll()


def _random_partition():
    from uav_mec_nodes.policies.baselines import RandomPartition
    return RandomPartition()


def _greedy():
    from uav_mec_nodes.policies.greedy import GreedyOptimum
    return GreedyOptimum()


def _flying():
    from uav_mec_nodes.policies.flying import FlyingReference
    return FlyingReference()


def _steady():
    from uav_mec_nodes.policies.flying import FlyingReference
    return FlyingReference(name='steady-greedy', steady=True)


def _optimal():
    from uav_mec_nodes.policies.optimal import SlotOptimal
    return SlotOptimal()


def _flying_optimal():
    from uav_mec_nodes.policies.flying import FlyingReference
    from uav_mec_nodes.policies.optimal import SlotOptimal
    return FlyingReference(SlotOptimal(), name='flying-optimal')


# the policies by name; a policy file is one more (make_policy), and `polish:` before any name refines it
BASELINES: Dict[str, Callable[[], Policy]] = {
    'offload-all': _offload_all, 'random-partition': _random_partition, 'greedy': _greedy,
    'flying-greedy': _flying, 'steady-greedy': _steady, 'optimal': _optimal, 'flying-optimal': _flying_optimal,
}
SHIPPED_SET = 'set'   # the name of the shipped set policy (policies/data/set_policy.pt)


def make_policy(name: str) -> Policy:
    """A baseline by name, or a trained policy file (a path ending in .pt); `polish:` before either
    polishes its offloading decisions by greedy's local search, `fly:` keeps only its motion and takes greedy's
    offloading (policies/polished.py)."""
    from uav_mec_nodes.policies.polished import MOTION_PREFIX, PREFIX, GreedyOffloading, Polished
    if name.startswith(PREFIX):
        inner = make_policy(name[len(PREFIX):])
        return Polished(inner, PREFIX + inner.name)
    if name.startswith(MOTION_PREFIX):
        inner = make_policy(name[len(MOTION_PREFIX):])
        return GreedyOffloading(inner, MOTION_PREFIX + inner.name)
    if name == SHIPPED_SET:     # the shipped set policy, by name: the file lies inside the installed package
        from uav_mec_nodes.policies.files import shipped_set_policy_path
        name = str(shipped_set_policy_path())
    if name.endswith('.pt') or '/' in name:
        from uav_mec_nodes.policies.learned import LearnedPolicy
        return LearnedPolicy(name)
    if name not in BASELINES:
        from uav_mec_nodes.errors import UserInputError
        raise UserInputError(f'--policy: unknown policy {name!r}; allowed: {sorted(BASELINES)}, {SHIPPED_SET!r} (the '
                             f'shipped set policy) or a policy file (.pt) from uav-mec train, either with {PREFIX!r} '
                             f'or {MOTION_PREFIX!r} before it')
    return BASELINES[name]()
