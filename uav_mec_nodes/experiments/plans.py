"""The paper's experiments: which training runs and evaluations each figure needs.

Layout under the results folder (default docs/results/):
  runs/<algo>-I<I>-J<J>-s<seed>/   one training run of fixed-size networks (train.csv, eval.csv, run.json;
                                  *.pt not in git)
  runs/set-<algo>-s<seed>/        one training run of a set policy, trained on every I and J of Fig. 4
                                  and Fig. 5 and evaluated at each of their points and of the robustness
                                  figure without retraining
  evals/<policy>-I<I>-J<J>-F<F>.json  `uav-mec evaluate --json` output of one policy at one point, on the
                                  held-out test episodes (evaluation.py: seeds 5000000.., 30 episodes); a
                                  learner is its run's best.pt (its best validation evaluation)
A run counts as finished when its eval.csv holds a row at its final step. The
sweep itself (sweeps.py) runs every training run and evaluation as a Ray task,
skips what is finished and resumes interrupted runs from their resume.pt.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

from uav_mec_nodes.config import ScenarioConfig, load_scenario
from uav_mec_nodes.experiments.evaluation import TEST_EPISODES, TEST_SEED
from uav_mec_nodes.learners.agent import AGENTS

ORBIT = 'orbit-'   # a learner whose motion action is the orbit guidance (modes.motion_action = orbit)
SET = 'set-'       # a set policy (learners/set_networks.py) with the orbit motion, for every I and J of its range
PAPER_LEARNERS = tuple(AGENTS)   # every registered learner (learners/agent.py); sac-per-ua: ours
SET_LEARNERS = tuple(SET + a for a in PAPER_LEARNERS)   # the paper's four learners as set policies
LEARNERS = PAPER_LEARNERS + (ORBIT + 'sac-per', ORBIT + 'sac-per-ua') + SET_LEARNERS
# a set network's settings in the sweeps: its pair tokens (B x I_max x J_max) make an update cost
# about 3x a flat one's at these sizes, so it trains on half the batch and for fewer steps: the six
# 12,000-step runs of issue 14 (docs/results/issue14-set-runs/) gained little on validation after 6,000
SET_SETTINGS = dict(batch_size=128, set_width=32, set_users=(4, 12), set_uavs=(2, 5))
SET_STEPS = 6_000
BASELINE_POLICIES = ('offload-all', 'random-partition', 'greedy', 'flying-greedy', 'steady-greedy')
# the flying reference with the per-slot optimum's offloading: about 0.5 s a slot at I=10, so the sweeps
# evaluate it at the default point (I=10, J=3, one failure) only
OPTIMUM_POLICIES = ('flying-optimal',)
OPTIMUM_POINT = (10, 3, 1)
NAMED_POLICIES = BASELINE_POLICIES + OPTIMUM_POLICIES   # evaluated by name, no training run
FIGURES = ('fig3', 'fig4', 'fig5', 'robustness')
# learners per figure: Fig. 5 retrains per J, so only the paper's SAC-PER and ours; the robustness
# figure re-evaluates the I=10, J=3 runs of Fig. 3 and the set runs under more failures, so it costs no
# training; the orbit learners are trained at I=10, J=3 only
FIGURE_LEARNERS = dict(fig3=LEARNERS[:-len(SET_LEARNERS)], fig4=PAPER_LEARNERS + SET_LEARNERS,
                       fig5=('sac-per', 'sac-per-ua') + SET_LEARNERS, robustness=LEARNERS)
TRAIN_EVAL_EPISODES = 5   # validation episodes per training-time evaluation (runs before issue 13 used 3)
USERS_FIG4 = (4, 6, 8, 10, 12)
UAVS_FIG5 = (2, 3, 4, 5)
FAILURES_ROBUSTNESS = (0, 1, 2, 3)
DEFAULT_SEEDS = (0, 1, 2)


@dataclass(frozen=True)
class RunSpec:
    algo: str
    users: int
    uavs: int
    seed: int
    steps: int

    @property
    def name(self) -> str:
        if self.algo.startswith(SET):     # one run for every size
            return f'{self.algo}-s{self.seed}'
        return f'{self.algo}-I{self.users}-J{self.uavs}-s{self.seed}'


@dataclass(frozen=True)
class EvalSpec:
    policy: str          # a baseline name, or a RunSpec name (its best.pt)
    users: int
    uavs: int
    failures: int        # F_max = failures drawn per episode
    episodes: int = TEST_EPISODES
    seed: int = TEST_SEED

    @property
    def name(self) -> str:
        return f'{self.policy}-I{self.users}-J{self.uavs}-F{self.failures}'

    @property
    def folder(self) -> str:
        """evals/ for the held-out test episodes; another folder for other episodes (the figures read evals/)."""
        if (self.seed, self.episodes) == (TEST_SEED, TEST_EPISODES):
            return 'evals'
        return f'evals-seed{self.seed}x{self.episodes}'


# the first protocol's episodes (seeds 0-9), on which the per-point networks of Fig. 4 and 5 were evaluated
# (docs/results/previous-protocol-evals/; their weights were not kept): the set policies are evaluated on them
# too, so the two compare paired by episode
PER_POINT_EPISODES = dict(seed=0, episodes=10)


def scenario(users: int, uavs: int, failures: int = 1, base: Optional[ScenarioConfig] = None) -> ScenarioConfig:
    cfg = base or load_scenario()
    return cfg.replace(scenario__num_users=users, scenario__num_uavs=uavs, failures__max_failures=failures,
                       failures__num_failures=failures)


def run_setup(run: RunSpec, **learner_overrides):
    """(learner config, scenario) of a run: an orbit- learner is its algorithm with the orbit motion action,
    a set- learner that with a set network (SET_SETTINGS) trained on episodes of every size of its range."""
    from uav_mec_nodes.learners.config import LearnerConfig
    cfg = scenario(run.users, run.uavs)
    for prefix, extra in ((ORBIT, {}), (SET, SET_SETTINGS)):
        if run.algo.startswith(prefix):
            learner = LearnerConfig.for_algo(run.algo[len(prefix):], **{**extra, 'network': 'set' if extra else None,
                                                                        **learner_overrides})
            return learner, cfg.replace(modes__motion_action='orbit')
    return LearnerConfig.for_algo(run.algo, **learner_overrides), cfg


def plan(figure: str, seeds=DEFAULT_SEEDS, steps: int = 20_000, algos=LEARNERS,
         baselines=NAMED_POLICIES, set_steps: int = SET_STEPS) -> Tuple[List[RunSpec], List[EvalSpec]]:
    """The training runs and evaluations a figure needs; `algos` keeps only those learners' runs,
    `baselines` only those policies without training. A set learner has one run per seed (set_steps
    long), evaluated at every point of the figure."""
    from uav_mec_nodes.errors import UserInputError
    for flag, given, allowed in (('--algos', algos, LEARNERS), ('--baselines', baselines, NAMED_POLICIES)):
        unknown = sorted(set(given) - set(allowed))
        if unknown:
            raise UserInputError(f'{flag}: must be among {list(allowed)}, got {unknown}')
    runs: List[RunSpec] = []
    evals: List[EvalSpec] = []
    if figure == 'fig3':
        runs = [RunSpec(a, 10, 3, s, steps) for s in seeds for a in FIGURE_LEARNERS[figure]]
    elif figure in ('fig4', 'fig5'):
        points = [(u, 3) for u in USERS_FIG4] if figure == 'fig4' else [(10, j) for j in UAVS_FIG5]
        per_point = [a for a in FIGURE_LEARNERS[figure] if not a.startswith(SET)]
        shared = [RunSpec(a, 10, 3, s, set_steps) for a in FIGURE_LEARNERS[figure] if a.startswith(SET)
                  for s in seeds]
        for users, uavs in points:
            point = [RunSpec(a, users, uavs, s, steps) for a in per_point for s in seeds]
            runs += point
            evals += [EvalSpec(r.name, users, uavs, 1) for r in point + shared]
            evals += [EvalSpec(r.name, users, uavs, 1, **PER_POINT_EPISODES) for r in shared]
            evals += [EvalSpec(p, users, uavs, 1) for p in BASELINE_POLICIES]
        runs += shared
    elif figure == 'robustness':
        point = [RunSpec(a, 10, 3, s, steps) for a in FIGURE_LEARNERS[figure] if not a.startswith(SET)
                 for s in seeds]
        shared = [RunSpec(a, 10, 3, s, set_steps) for a in FIGURE_LEARNERS[figure] if a.startswith(SET)
                  for s in seeds]
        runs = point + shared
        for f in FAILURES_ROBUSTNESS:
            evals += [EvalSpec(r.name, 10, 3, f) for r in runs]
            evals += [EvalSpec(p, 10, 3, f) for p in BASELINE_POLICIES]
    else:
        raise UserInputError(f'--figure: must be one of {list(FIGURES)}, got {figure!r}')
    if figure != 'fig3':
        evals += [EvalSpec(p, *OPTIMUM_POINT) for p in OPTIMUM_POLICIES]
    dropped = {r.name for r in runs if r.algo not in algos} | (set(NAMED_POLICIES) - set(baselines))
    return [r for r in runs if r.name not in dropped], [e for e in evals if e.policy not in dropped]


def run_finished(folder: Path, steps: int) -> bool:
    path = folder / 'eval.csv'
    if not path.exists():
        return False
    with path.open() as f:
        return any(int(row['step']) >= steps for row in csv.DictReader(f))


def last_wall_s(folder: Path, log: str = 'train.csv') -> float:
    """The training wall time a run's log (train.csv; an imitation's imitate.csv) reports so far (0 with none)."""
    path = folder / log
    if not path.exists():
        return 0.0
    with path.open() as f:
        last = list(csv.DictReader(f))[-1:]
    return float(last[0]['wall_s']) if last else 0.0


def policy_file(ev: EvalSpec, results: Path) -> Optional[Path]:
    """A learner's policy file: its run's choice on validation episodes (a run from before best.pt: its
    last); None for a named policy."""
    if ev.policy in NAMED_POLICIES:
        return None
    run = results / 'runs' / ev.policy
    return run / 'best.pt' if (run / 'best.pt').exists() else run / 'checkpoint.pt'


def evaluate_policy(ev: EvalSpec, policy_path: Optional[Path] = None) -> dict:
    """One evaluation: a named policy, or the policy file at policy_path."""
    from uav_mec_nodes.env import UavMecEnv
    from uav_mec_nodes.experiments.episode import summarize_episodes
    from uav_mec_nodes.policies import make_policy
    name = ev.policy if policy_path is None else str(policy_path)
    env = UavMecEnv(scenario(ev.users, ev.uavs, ev.failures))
    result = summarize_episodes(env, make_policy(name), seed=ev.seed, episodes=ev.episodes)
    result['policy'] = ev.policy
    return result


def iter_evals(results: Path) -> Iterator[dict]:
    for path in sorted((results / 'evals').glob('*.json')):
        yield json.loads(path.read_text())
