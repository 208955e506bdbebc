"""Behaviour cloning: a set policy's actor learns a teacher's decisions and motion from demonstrations.

The teacher is a flying policy that plans in the env's own action terms
(`plan(env) -> (SlotDecisions, orbit action)`, policies/flying.py: by
default steady-greedy). It flies training episodes of the sizes a set run
draws (trainer.Sizes, training seeds); every slot gives the padded
observation and the action that decodes back to the teacher's decisions and
motion (env.encode_decisions). The actor's deterministic action is fitted to
those actions by least squares over the entries that exist (the actor's mask
of present users and live UAVs). Evaluations on validation episodes
(trainer.evaluate_actor, as in training) keep the best policy file, so a
choice never looks at a test episode.

Output folder: imitate.csv (one row per evaluation: update, fit loss, the
evaluation, wall time so far), best.pt and checkpoint.pt (policy files, as
`uav-mec train` writes them), run.json.
"""
from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from uav_mec_nodes.config import ScenarioConfig, to_dict
from uav_mec_nodes.env.uav_mec_env import encode_decisions
from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.learners.agent import make_agent
from uav_mec_nodes.learners.config import ImitationSettings, LearnerConfig
from uav_mec_nodes.learners.trainer import Sizes, episode_seed, evaluate_actor
from uav_mec_nodes.policies.files import save_policy

LOG_FIELDS = ('update', 'fit_loss', 'reward_mean', 'reward_std', 'energy_mean_j', 'energy_std_j',
              'deadline_miss_rate', 'episodes', 'wall_s')


def teacher_of(name: str):
    """The named policy, if it plans orbit actions (else a one-line error)."""
    from uav_mec_nodes.policies import make_policy
    try:
        teacher = make_policy(name)
    except UserInputError as exc:   # make_policy speaks of --policy
        raise UserInputError(str(exc).replace('--policy:', '--teacher:', 1)) from None
    if not hasattr(teacher, 'plan'):
        raise UserInputError(f'--teacher: {name!r} does not plan an orbit action; use steady-greedy, flying-greedy '
                             'or flying-optimal')
    return teacher


def demonstrations(sizes: Sizes, teacher, episodes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(observations, actions), padded, of every slot of `episodes` training episodes the teacher flies."""
    observations, actions = [], []
    for episode in range(episodes):
        env = sizes.for_episode(episode)
        obs, _ = env.reset(seed=episode_seed(seed, episode))
        teacher.reset(episode_seed(seed, episode))
        done = False
        while not done:
            decisions, motion = teacher.plan(env)
            observations.append(sizes.observe(obs, env))
            actions.append(sizes.layout.pad_action(encode_decisions(env.world, decisions, motion),
                                                   env.num_users, env.num_uavs))
            obs, _, done, _, _ = env.step_decisions(decisions, teacher.fly(env, decisions, motion))
    return np.asarray(observations, np.float32), np.asarray(actions, np.float32)


def fit_loss(actor, obs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the actor's deterministic action over the entries that exist."""
    action, _ = actor(obs, deterministic=True, with_log_prob=False)
    valid = actor.valid(actor.parse.observation(obs))
    return (((action - target) ** 2) * valid).sum() / valid.sum().clamp(min=1.0)


def imitate(learner: LearnerConfig, scenario: ScenarioConfig, settings: ImitationSettings, out_dir) -> dict:
    """Demonstrations, then the fit with evaluations; returns the best evaluation and the wall time."""
    settings.validate()
    learner.validate()
    if learner.network != 'set':
        raise UserInputError("--network: imitation trains a set policy; got 'flat'")
    out = Path(out_dir)
    if out.exists() and any(out.glob('*.csv')):
        raise UserInputError(f'--out: {out} already holds a run; choose another folder')
    out.mkdir(parents=True, exist_ok=True)
    # the student's motion entries mean what the teacher's do: where to circle (guidance.orbit_action)
    scenario = scenario.replace(modes__motion_action='orbit')
    teacher = teacher_of(settings.teacher)
    (out / 'run.json').write_text(json.dumps(dict(learner=learner.to_dict(), scenario=to_dict(scenario),
                                                  settings=asdict(settings)), indent=1) + '\n')
    torch.set_num_threads(settings.threads)
    start = time.perf_counter()
    sizes = Sizes(learner, scenario, settings.seed)
    obs, actions = demonstrations(sizes, teacher, settings.episodes, settings.seed)
    agent = make_agent(learner, sizes.obs_dim, sizes.action_dim, seed=settings.seed)
    actor = agent.actor
    optimiser = torch.optim.Adam(actor.parameters(), lr=settings.lr)
    generator = torch.Generator().manual_seed(settings.seed)
    obs_t, actions_t = torch.from_numpy(obs), torch.from_numpy(actions)
    best, losses = None, []
    with (out / 'imitate.csv').open('w', newline='') as log:
        writer = csv.DictWriter(log, fieldnames=LOG_FIELDS)
        writer.writeheader()
        for update in range(1, settings.updates + 1):
            pick = torch.randint(len(obs_t), (min(settings.batch_size, len(obs_t)),), generator=generator)
            loss = fit_loss(actor, obs_t[pick], actions_t[pick])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
            if update % settings.eval_every == 0 or update == settings.updates:
                row = evaluate_actor(agent, sizes, settings.eval_episodes)
                if best is None or row['reward_mean'] > best['reward_mean']:
                    best = dict(update=update, **row)
                    save_policy(out / 'best.pt', agent, learner, scenario, update)
                writer.writerow(dict(update=update, fit_loss=float(np.mean(losses)),
                                     wall_s=time.perf_counter() - start, **row))
                log.flush()
                losses = []
    save_policy(out / 'checkpoint.pt', agent, learner, scenario, settings.updates)
    return dict(best=best, samples=len(obs), wall_s=time.perf_counter() - start)
