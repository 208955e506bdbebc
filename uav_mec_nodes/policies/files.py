"""Policy files: where the shipped ones lie, writing one, and reading one safely (never unpickling).

A policy file holds the actor's weights, the learner and scenario settings and the observation and action
sizes, as tensors and plain data only; it is read with `torch.load(weights_only=True)`, so a file that holds
any other Python object is refused, never unpickled (unpickling a file from someone else can run their code).
The trainer writes them; LearnedPolicy, `select` and the planner read them through `load_policy`.
"""
from __future__ import annotations

from pathlib import Path

from uav_mec_nodes.config import ScenarioConfig, from_dict, to_dict
from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.learners.agent import agent_class
from uav_mec_nodes.learners.config import LearnerConfig

POLICY_FORMAT = 'uav_mec_nodes.policy/1'
DATA = Path(__file__).resolve().parent / 'data'


def shipped_policy_path() -> Path:
    """The SAC-PER policy for the default scenario shipped with the package (see README)."""
    return DATA / 'sac_per_default.pt'


def shipped_set_policy_path() -> Path:
    """The set policy shipped with the package: any I in 4..12 users and J in 2..5 UAVs (see README)."""
    return DATA / 'set_policy.pt'


def save_policy(path, agent, learner: LearnerConfig, scenario: ScenarioConfig, step: int) -> None:
    """The small file `uav-mec evaluate --policy PATH` and the ROS planner load (any Agent: its policy_state)."""
    import torch
    torch.save(dict(format=POLICY_FORMAT, actor=agent.policy_state(), learner=learner.to_dict(),
                    scenario=to_dict(scenario), obs_dim=agent.obs_dim, action_dim=agent.action_dim, step=step),
               Path(path))


def safe_load(path, flag: str) -> dict:
    """A file of ours, read without unpickling anything but tensors and plain data."""
    import pickle
    import zipfile

    import torch   # here, not at import: the CLI's parser reads this module's paths, and torch takes seconds
    path = Path(path)
    kind = 'policy file' if flag == '--policy' else 'resume file'
    if not path.is_file():
        raise UserInputError(f'{flag}: no {kind} {path}')
    try:
        state = torch.load(path, weights_only=True, map_location='cpu')
    except pickle.UnpicklingError as exc:
        if 'GLOBAL' in str(exc) or 'global' in str(exc):   # an object to be built by a callable: refused
            raise UserInputError(f'{flag}: {path} holds Python objects other than tensors and plain data; it '
                                 f'is not loaded (unpickling them could run code): not a {kind} of uav_mec_nodes, '
                                 'or one written before version 0.2') from None
        raise UserInputError(f'{flag}: {path} is not a uav_mec_nodes {kind} (not a torch file)') from None
    except (RuntimeError, OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:   # truncated or foreign
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserInputError(f'{flag}: {path} is not a uav_mec_nodes {kind} (unreadable: {first})') from None
    if not isinstance(state, dict):
        raise UserInputError(f'{flag}: {path} is not a uav_mec_nodes {kind} (no dictionary inside)')
    return state


MAX_HIDDEN = 8192    # wider layers than any policy of ours; a file claiming more is refused


def load_policy(path) -> dict:
    """A policy file's contents, checked: format, sizes, learner and scenario settings, actor tensors."""
    import torch
    path = Path(path)
    state = safe_load(path, '--policy')
    if state.get('format') != POLICY_FORMAT:
        raise UserInputError(f'--policy: {path} is not a uav_mec_nodes policy file (format '
                             f'{state.get("format")!r}, expected uav_mec_nodes.policy/1)')
    try:
        learner = LearnerConfig.from_dict(dict(state['learner']))
        learner.validate()
        hidden = tuple(int(h) for h in learner.hidden)
        obs_dim, action_dim = int(state['obs_dim']), int(state['action_dim'])
        state['scenario_config'] = from_dict(state['scenario'])
    except UserInputError as exc:
        raise UserInputError(f'--policy: {path}: {exc}') from None
    except (KeyError, TypeError, ValueError) as exc:
        raise UserInputError(f'--policy: {path} lacks or garbles a field of a policy file ({exc})') from None
    if not (1 <= len(hidden) <= 8 and all(1 <= h <= MAX_HIDDEN for h in hidden)):
        raise UserInputError(f'--policy: {path}: hidden layer sizes must be 1-8 layers of 1-{MAX_HIDDEN}, '
                             f'got {list(hidden)}')
    if learner.network == 'set' and (obs_dim, action_dim) != (learner.layout.obs_dim, learner.layout.action_dim):
        raise UserInputError(f'--policy: {path}: a set policy of I in {list(learner.set_users)} and J in '
                             f'{list(learner.set_uavs)} has observation {learner.layout.obs_dim} and action '
                             f'{learner.layout.action_dim}, the file says {obs_dim} and {action_dim}')
    with torch.device('meta'):   # the shapes the file must hold, without allocating them
        shapes = agent_class(learner.algo).build_actor(learner, obs_dim, action_dim).state_dict()
    expected = {k: tuple(v.shape) for k, v in shapes.items()}
    actor = state.get('actor')
    found = {k: tuple(v.shape) for k, v in actor.items()} if isinstance(actor, dict) and \
        all(isinstance(v, torch.Tensor) for v in actor.values()) else None
    if found != expected:
        shape = f'set width {learner.set_width}' if learner.network == 'set' else f'hidden {list(hidden)}'
        raise UserInputError(f'--policy: {path}: the actor weights do not fit a network of observation {obs_dim}, '
                             f'{shape}, action {action_dim}')
    if not all(torch.isfinite(v).all() for v in actor.values()):
        raise UserInputError(f'--policy: {path}: the actor weights hold NaN or inf')
    state['obs_dim'], state['action_dim'] = obs_dim, action_dim
    return state
