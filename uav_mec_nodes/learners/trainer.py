"""The training loop: env steps, replay, updates, logs, evaluations, checkpoints, resume.

Output folder:
  train.csv        one row per finished training episode
  eval.csv         one row per evaluation (deterministic policy, fixed seeds)
  checkpoint.pt    the latest policy: actor weights + learner and scenario configs (small)
  best.pt          the policy at the evaluation with the best mean reward so far: evaluations run on
                   validation episodes (evaluation.py), so choosing this file looks at no test episode
  resume.pt        everything to continue bit for bit: agent, optimisers, buffer, RNG states
  run.json         the command's settings

Resume points are episode ends (the env's state is then fully given by the
next reset seed), saved every `checkpoint_every` steps and at the end, so a
resumed run continues exactly as the uninterrupted one would have.

Both files hold tensors and plain data only (numpy arrays are stored as
tensors) and are read with `torch.load(weights_only=True)`: a file that holds
any other Python object is refused, never unpickled, since unpickling a file
from someone else can run their code.
"""
from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from uav_mec_nodes.config import ScenarioConfig, from_dict, to_dict
from uav_mec_nodes.env.uav_mec_env import UavMecEnv
from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.learners.buffers import PrioritizedReplayBuffer, ReplayBuffer
from uav_mec_nodes.learners.agent import Agent, make_agent
from uav_mec_nodes.learners.config import LearnerConfig
from uav_mec_nodes.policies.files import safe_load, save_policy

TRAIN_FIELDS = ('step', 'episode', 'reward', 'energy_j', 'deadline_miss_rate', 'alpha', 'critic_loss',
                'steps_per_s', 'wall_s')
EVAL_FIELDS = ('step', 'reward_mean', 'reward_std', 'energy_mean_j', 'energy_std_j', 'deadline_miss_rate',
               'episodes')
EVAL_SEED = 1_000_000   # evaluation episodes use seeds EVAL_SEED.. (never a training seed)


@dataclass
class TrainSettings:
    steps: int
    seed: int = 0
    eval_every: int = 2_000
    eval_episodes: int = 3
    checkpoint_every: int = 5_000
    threads: int = 1
    progress: bool = True
    chunk_steps: int = 0     # > 0: return at the first resume point this many steps or more after the start
                             # (a sweep's task trains a run piece by piece; the numbers are the same)

    def validate(self) -> None:
        for name, lo in (('steps', 1), ('eval_every', 1), ('eval_episodes', 1), ('checkpoint_every', 1),
                         ('threads', 1), ('chunk_steps', 0)):
            if getattr(self, name) < lo:
                raise UserInputError(f'--{name.replace("_", "-")}: must be >= {lo}, got {getattr(self, name)}')


def episode_seed(seed: int, episode: int) -> int:
    return seed * 100_003 + episode


VALIDATION_SIZES = ((4, 3), (6, 3), (8, 3), (10, 3), (12, 3), (10, 2), (10, 4), (10, 5))   # Fig. 4 and 5's


class Sizes:
    """The env of each episode, and the actor's view of it: one fixed-size env for a flat network; for a
    set network an env of I users and J UAVs drawn per episode from its range (from the run's seed and
    the episode number, so a resumed run draws the same), observations padded and actions cut back."""

    def __init__(self, learner: LearnerConfig, scenario: ScenarioConfig, seed: int = 0):
        self.set = learner.network == 'set'
        self.scenario, self.seed = scenario, seed
        self.layout = learner.layout if self.set else None
        self._envs: dict = {}
        self._validation: dict = {}     # envs of their own: an evaluation runs in the middle of an episode
        self.env = self.env_of(scenario.scenario.num_users, scenario.scenario.num_uavs)
        if self.set:
            self.obs_dim, self.action_dim = self.layout.obs_dim, self.layout.action_dim
        else:
            self.obs_dim, self.action_dim = self.env.observation_space.shape[0], self.env.action_space.shape[0]

    def env_of(self, users: int, uavs: int, validation: bool = False) -> UavMecEnv:
        envs = self._validation if validation else self._envs
        if (users, uavs) not in envs:
            if self.set:
                self.layout.check_scenario(users, uavs, self.scenario.modes.resource_allocation == 'paper',
                                           'scenario')
            envs[(users, uavs)] = UavMecEnv(self.scenario.replace(scenario__num_users=users,
                                                                  scenario__num_uavs=uavs))
        return envs[(users, uavs)]

    def for_episode(self, episode: int) -> UavMecEnv:
        if self.set:
            lay = self.layout
            rng = np.random.default_rng([self.seed, episode, 14])
            self.env = self.env_of(int(rng.integers(lay.min_users, lay.max_users + 1)),
                                   int(rng.integers(lay.min_uavs, lay.max_uavs + 1)))
        return self.env

    def observe(self, obs: np.ndarray, env: UavMecEnv = None) -> np.ndarray:
        env = env or self.env
        return self.layout.pad_obs(obs, env.num_users, env.num_uavs) if self.set else obs

    def to_env(self, action: np.ndarray, env: UavMecEnv = None) -> np.ndarray:
        env = env or self.env
        return self.layout.unpad_action(action, env.num_users, env.num_uavs) if self.set else action

    def validation_envs(self, episodes: int):
        """(env, seed) of each validation episode: a set network's cycle over Fig. 4 and 5's sizes."""
        if not self.set:
            size = (self.env.num_users, self.env.num_uavs)
            return [(self.env_of(*size, validation=True), EVAL_SEED + n) for n in range(episodes)]
        sizes = [s for s in VALIDATION_SIZES if self.layout.min_users <= s[0] <= self.layout.max_users
                 and self.layout.min_uavs <= s[1] <= self.layout.max_uavs] or [(self.layout.max_users,
                                                                                 self.layout.max_uavs)]
        return [(self.env_of(*sizes[n % len(sizes)], validation=True), EVAL_SEED + n)
                for n in range(max(episodes, len(sizes)))]


def evaluate_actor(agent: Agent, sizes: Sizes, episodes: int) -> dict:
    rewards, energies, misses, tasks = [], [], 0, 0
    for env, seed in sizes.validation_envs(episodes):
        obs, _ = env.reset(seed=seed)
        done, total_r, total_e = False, 0.0, 0.0
        while not done:
            action = sizes.to_env(agent.act(sizes.observe(obs, env), deterministic=True), env)
            obs, r, done, _, info = env.step(action)
            total_r += r
            total_e += info['e_tot']
            misses += info['tasks_late'] + info['tasks_dropped']
            tasks += env.num_users
        rewards.append(total_r)
        energies.append(total_e)
    return dict(reward_mean=float(np.mean(rewards)), reward_std=float(np.std(rewards)),
                energy_mean_j=float(np.mean(energies)), energy_std_j=float(np.std(energies)),
                deadline_miss_rate=misses / max(tasks, 1), episodes=len(rewards))


class Trainer:
    def __init__(self, learner: LearnerConfig, scenario: ScenarioConfig, settings: TrainSettings, out_dir,
                 resume: bool = False):
        settings.validate()
        learner.validate()
        self.learner, self.scenario, self.settings = learner, scenario, settings
        self.out = Path(out_dir)
        torch.set_num_threads(settings.threads)
        self.sizes = Sizes(learner, scenario, settings.seed)
        self.env = self.sizes.env
        obs_dim, action_dim = self.sizes.obs_dim, self.sizes.action_dim
        self.agent = make_agent(learner, obs_dim, action_dim, seed=settings.seed)
        beta_steps = learner.per_beta_steps or max(1, (settings.steps - learner.learning_starts)
                                                   * learner.updates_per_step)
        if learner.prioritized:
            self.buffer = PrioritizedReplayBuffer(learner.buffer_size, obs_dim, action_dim, learner.per_alpha,
                                                  learner.per_beta0, beta_steps, learner.per_eps)
        else:
            self.buffer = ReplayBuffer(learner.buffer_size, obs_dim, action_dim)
        self.rng = np.random.default_rng(settings.seed)
        self.step, self.episode = 0, 0
        self.wall_s = 0.0
        if resume:
            self._load_resume()
        elif self.out.exists() and any(self.out.glob('*.csv')):
            raise UserInputError(f'--out: {self.out} already holds a run; pass --resume to continue it '
                                 f'or choose another folder')
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / 'run.json').write_text(json.dumps(dict(
            learner=learner.to_dict(), scenario=to_dict(scenario), settings=vars(settings)), indent=1) + '\n')

    # --- persistence -------------------------------------------------------------
    def _resume_path(self) -> Path:
        return self.out / 'resume.pt'

    def _load_resume(self) -> None:
        path = self._resume_path()
        if not path.exists():
            raise UserInputError(f'--resume: no {path} to resume from')
        state = safe_load(path, '--resume')
        try:
            # through from_dict: a resume point saved before a setting existed has that setting's default
            if LearnerConfig.from_dict(state['learner']).to_dict() != self.learner.to_dict():
                raise UserInputError(f'--resume: {path} was trained with other learner settings '
                                     f'({state["learner"]["algo"]}); use the same --algo and options')
            self.agent.load_state_dict(state['agent'])
            self.buffer.load_state_dict(_as_numpy(state['buffer']))
            self.rng.bit_generator.state = state['numpy_rng']
            torch.set_rng_state(state['torch_rng'])
            self.step, self.episode, self.wall_s = int(state['step']), int(state['episode']), float(state['wall_s'])
        except UserInputError:
            raise
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise UserInputError(f'--resume: {path} does not fit this run ({first})') from None

    def _save_resume(self) -> None:
        state = dict(agent=self.agent.state_dict(), buffer=_as_tensors(self.buffer.state_dict()),
                     numpy_rng=self.rng.bit_generator.state, torch_rng=torch.get_rng_state(),
                     step=self.step, episode=self.episode, wall_s=self.wall_s, learner=self.learner.to_dict())
        tmp = self._resume_path().with_suffix('.tmp')
        torch.save(state, tmp)
        tmp.replace(self._resume_path())
        save_policy(self.out / 'checkpoint.pt', self.agent, self.learner, self.scenario, self.step)

    def _best_reward(self) -> float:
        """The best mean reward of the evaluations logged so far (a resumed run's included)."""
        path = self.out / 'eval.csv'
        if not path.exists():
            return -np.inf
        with path.open() as f:
            return max((float(r['reward_mean']) for r in csv.DictReader(f)), default=-np.inf)

    def _append(self, name: str, header, row: dict) -> None:
        path = self.out / name
        new = not path.exists()
        with path.open('a', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=header)
            if new:
                writer.writeheader()
            writer.writerow({k: row.get(k, '') for k in header})

    def _truncate_logs(self) -> None:
        """On resume, drop log rows written after the resume point (a run killed between saves)."""
        for name in ('train.csv', 'eval.csv'):
            path = self.out / name
            if not path.exists():
                continue
            with path.open() as f:
                rows = list(csv.DictReader(f))
            keep = [r for r in rows if int(r['step']) <= self.step]
            header = TRAIN_FIELDS if name == 'train.csv' else EVAL_FIELDS
            with path.open('w', newline='') as f:
                writer = csv.DictWriter(f, fieldnames=header)
                writer.writeheader()
                writer.writerows(keep)

    # --- the loop -------------------------------------------------------------------
    def run(self) -> dict:
        s, lc = self.settings, self.learner
        self._truncate_logs()
        start_step = self.step
        bar = _progress(s.steps, self.step, s.progress)
        self.env = self.sizes.for_episode(self.episode)
        obs, _ = self.env.reset(seed=episode_seed(s.seed, self.episode))
        obs = self.sizes.observe(obs)
        ep_reward = ep_energy = 0.0
        ep_miss = 0
        metrics: dict = {}
        last_save = self.step
        t0, step0 = time.perf_counter(), self.step
        while self.step < s.steps:
            if self.step < lc.learning_starts:
                action = self.rng.uniform(-1.0, 1.0, (self.sizes.action_dim,)).astype(np.float32)
            else:
                action = self.agent.act(obs)
            next_obs, reward, terminated, truncated, info = self.env.step(self.sizes.to_env(action))
            next_obs = self.sizes.observe(next_obs)
            self.buffer.add(obs, action, reward, next_obs, float(terminated))
            obs = next_obs
            ep_reward += reward
            ep_energy += info['e_tot']
            ep_miss += info['tasks_late'] + info['tasks_dropped']
            self.step += 1
            if self.step > lc.learning_starts and len(self.buffer) >= lc.batch_size:
                for _ in range(lc.updates_per_step):
                    batch, idx, weights = self.buffer.sample(lc.batch_size, self.rng)
                    actor_obs = None
                    if lc.uniform_actor_batch and self.agent.actor_due():
                        actor_obs = self.buffer.sample_uniform(lc.batch_size, self.rng)[0]['obs']
                    metrics, td = self.agent.update(batch, weights, actor_obs)
                    self.buffer.update_priorities(idx, td)
            if self.step % s.eval_every == 0 or self.step == s.steps:
                row = evaluate_actor(self.agent, self.sizes, s.eval_episodes)
                if row['reward_mean'] > self._best_reward():
                    save_policy(self.out / 'best.pt', self.agent, self.learner, self.scenario, self.step)
                self._append('eval.csv', EVAL_FIELDS, dict(step=self.step, **row))
            if terminated or truncated:
                elapsed = time.perf_counter() - t0
                self.wall_s += elapsed
                t0 = time.perf_counter()
                rate = (self.step - step0) / max(elapsed, 1e-9)
                step0 = self.step
                row = dict(step=self.step, episode=self.episode, reward=ep_reward, energy_j=ep_energy,
                           deadline_miss_rate=ep_miss / (self.env.num_slots * self.env.num_users),
                           alpha=self.agent.alpha, critic_loss=metrics.get('critic_loss', ''),
                           steps_per_s=rate, wall_s=self.wall_s)
                self._append('train.csv', TRAIN_FIELDS, row)
                bar.set_postfix(reward=f'{ep_reward:.3f}', energy=f'{ep_energy:.3f}', steps_s=f'{rate:.0f}')
                self.episode += 1
                if self.step - last_save >= s.checkpoint_every or self.step >= s.steps:
                    self._save_resume()
                    last_save = self.step
                    if s.chunk_steps and self.step - start_step >= s.chunk_steps and self.step < s.steps:
                        break
                self.env = self.sizes.for_episode(self.episode)
                obs, _ = self.env.reset(seed=episode_seed(s.seed, self.episode))
                obs = self.sizes.observe(obs)
                ep_reward = ep_energy = 0.0
                ep_miss = 0
            bar.update(1)
        bar.close()
        if last_save != self.step:   # the run ended mid-episode: keep the policy (resume point stays earlier)
            save_policy(self.out / 'checkpoint.pt', self.agent, self.learner, self.scenario, self.step)
        return dict(step=self.step, episodes=self.episode, wall_s=self.wall_s)


def _progress(total: int, initial: int, enabled: bool):
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, disable=not enabled, unit='step', dynamic_ncols=True,
                desc='train')


# --- resume files -------------------------------------------------------------------------
def _as_tensors(state: dict) -> dict:
    """numpy arrays as tensors, so the file loads weights-only."""
    return {k: torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v
            for k, v in state.items()}


def _as_numpy(state: dict) -> dict:
    return {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in state.items()}


def train(learner: LearnerConfig, scenario: ScenarioConfig, settings: TrainSettings, out_dir,
          resume: bool = False) -> dict:
    return Trainer(learner, scenario, settings, out_dir, resume).run()

