"""Gradient updates per second: our SAC and SAC-PER against Stable-Baselines3's SAC; PER vs uniform replay.

    .venv/bin/python bench/learner_updates.py [--updates N] [--fill N]

Same work for all: the default UavMecEnv (obs 111, action 79), two hidden
layers of 256, batch 256, two critics, automatic temperature, one thread.
Each replay buffer is first filled with the same number of random env steps;
then N gradient updates are timed (sampling included; SAC-PER also updates
the priorities). REDQ's row times its own updates (ten critics, the actor
every second one), for the cost of a REDQ run, not as a like-for-like ratio.
SB3 runs `SAC.train(gradient_steps=N)`. Then the replay
alone: sample 256 + priority update of our prioritized buffer against our
uniform buffer's sample, on a buffer of 100000 transitions. Then the whole
training loop (env steps, replay and updates, one update a step after the
same random-action steps): our trainer (`uav-mec train`'s, one evaluation
episode at the end, checkpoints written) against SB3's `SAC.learn()` on the
same env, steps per second over the whole run; issue 21's targets: SAC-PER
1.5x and REDQ 1.0x SB3's updates, the loop 2x SB3's learn(). Last, the set
networks of the sweeps' set policies (plans.SET_SETTINGS: width 32, batch 128,
users 4-12 and UAVs 2-5 padded to 12 and 5), on padded random-action states of
four sizes: milliseconds an update of each learner, its ratio to our flat
SAC-PER update measured in the same run, and what the updates alone of one
set run (plans.SET_STEPS steps) would take, against issue 22's budget for all
set-policy training (a quarter of 57,899 s).
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault('OMP_NUM_THREADS', '1')

import numpy as np  # noqa: E402
import torch  # noqa: E402


def fill_transitions(env, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    out = []
    for step in range(n):
        action = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
        next_obs, reward, done, _, _ = env.step(action)
        out.append((obs, action, reward, next_obs, float(done)))
        obs = next_obs if not done else env.reset(seed=seed + step + 1)[0]
    return out


def ours(algo: str, transitions, updates: int) -> float:
    from uav_mec_nodes.learners.buffers import PrioritizedReplayBuffer, ReplayBuffer
    from uav_mec_nodes.learners.sac import LearnerConfig, SacAgent
    cfg = LearnerConfig.for_algo(algo)
    obs_dim, act_dim = len(transitions[0][0]), len(transitions[0][1])
    buf = PrioritizedReplayBuffer(100_000, obs_dim, act_dim) if cfg.prioritized else \
        ReplayBuffer(100_000, obs_dim, act_dim)
    for t in transitions:
        buf.add(*t)
    agent = SacAgent(obs_dim, act_dim, cfg, seed=0)
    rng = np.random.default_rng(0)

    def one():
        batch, idx, w = buf.sample(cfg.batch_size, rng)
        _, td = agent.update(batch, w)
        buf.update_priorities(idx, td)
    return 1.0 / seconds_per_call(one, updates, warmup=5)


def seconds_per_call(one, calls: int, warmup: int) -> float:
    """Wall time of one call of `one`, over `calls` after `warmup` untimed ones."""
    for _ in range(warmup):
        one()
    start = time.perf_counter()
    for _ in range(calls):
        one()
    return (time.perf_counter() - start) / calls


def sb3(env_factory, fill: int, updates: int) -> float:
    from stable_baselines3 import SAC
    model = SAC('MlpPolicy', env_factory(), policy_kwargs=dict(net_arch=[256, 256]), batch_size=256,
                buffer_size=100_000, learning_starts=fill, train_freq=1, gradient_steps=1, ent_coef='auto',
                device='cpu', seed=0, verbose=0)
    model.learn(total_timesteps=fill)          # random actions only: learning_starts = fill
    model.train(gradient_steps=5, batch_size=256)
    start = time.perf_counter()
    model.train(gradient_steps=updates, batch_size=256)
    return updates / (time.perf_counter() - start)


def loop_rate_ours(algo: str, fill: int, steps: int) -> float:
    import tempfile

    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.learners.sac import LearnerConfig
    from uav_mec_nodes.learners.trainer import TrainSettings, train
    learner = LearnerConfig.for_algo(algo, learning_starts=fill)
    settings = TrainSettings(steps=fill + steps, eval_every=10 ** 9, eval_episodes=1, checkpoint_every=10 ** 9,
                             progress=False)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        train(learner, load_scenario(), settings, out)
    return (fill + steps) / (time.perf_counter() - start)


def loop_rate_sb3(env_factory, fill: int, steps: int) -> float:
    from stable_baselines3 import SAC
    model = SAC('MlpPolicy', env_factory(), policy_kwargs=dict(net_arch=[256, 256]), batch_size=256,
                buffer_size=100_000, learning_starts=fill, train_freq=1, gradient_steps=1, ent_coef='auto',
                device='cpu', seed=0, verbose=0)
    start = time.perf_counter()
    model.learn(total_timesteps=fill + steps)
    return (fill + steps) / (time.perf_counter() - start)


def replay_rates(reps: int = 2000) -> tuple[float, float]:
    from uav_mec_nodes.learners.buffers import PrioritizedReplayBuffer, ReplayBuffer
    n, obs_dim, act_dim = 100_000, 111, 79
    rng = np.random.default_rng(0)
    uni, per = ReplayBuffer(n, obs_dim, act_dim), PrioritizedReplayBuffer(n, obs_dim, act_dim)
    for buf in (uni, per):
        for _ in range(n // 1000):
            buf.add(np.zeros((1000, obs_dim)), np.zeros((1000, act_dim)), np.zeros(1000),
                    np.zeros((1000, obs_dim)), np.zeros(1000))
    per.update_priorities(np.arange(n), rng.random(n))
    start = time.perf_counter()
    for _ in range(reps):
        uni.sample(256, rng)
    t_uni = (time.perf_counter() - start) / reps
    start = time.perf_counter()
    for _ in range(reps):
        _, idx, _ = per.sample(256, rng)
        per.update_priorities(idx, rng.random(256))
    t_per = (time.perf_counter() - start) / reps
    return t_uni, t_per


PER_POINT_TRAIN_S = 57_899   # Fig. 4 and 5's per-point runs (docs/results/cpu_time.csv, fig4 + fig5)


def set_states(layout, seed: int = 0) -> np.ndarray:
    """Padded states of random-action episodes at four sizes of the set range (orbit motion)."""
    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.env import UavMecEnv
    base = load_scenario().replace(modes__motion_action='orbit')
    states = []
    for users, uavs in ((4, 2), (8, 4), (10, 3), (12, 5)):
        env = UavMecEnv(base.replace(scenario__num_users=users, scenario__num_uavs=uavs))
        states += [layout.pad_obs(t[0], users, uavs) for t in fill_transitions(env, env.num_slots, seed)]
    return np.stack(states)


def set_update_ms(learner, states: np.ndarray, updates: int) -> float:
    from uav_mec_nodes.learners.sac import SacAgent
    agent = SacAgent(learner.layout.obs_dim, learner.layout.action_dim, learner, seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (len(states), learner.layout.action_dim)).astype(np.float32)
    n = learner.batch_size

    def one():
        idx = rng.integers(0, len(states) - 1, n)
        agent.update(dict(obs=states[idx], action=actions[idx], reward=rng.normal(size=n).astype(np.float32),
                          next_obs=states[idx + 1], done=np.zeros(n, np.float32)), np.ones(n, np.float32))
    return seconds_per_call(one, updates, warmup=3) * 1e3


def set_table(updates: int, flat_rate: float) -> None:
    from uav_mec_nodes.experiments.figures import SET_BUDGET_SHARE
    from uav_mec_nodes.experiments.plans import SET, SET_STEPS, RunSpec, run_setup
    from uav_mec_nodes.learners.agent import AGENTS
    learners = {algo: run_setup(RunSpec(SET + algo, 10, 3, 0, SET_STEPS))[0] for algo in AGENTS}
    states = set_states(next(iter(learners.values())).layout)
    print(f'set networks (width 32, batch 128, I 4-12 and J 2-5 padded to 12 and 5), {updates} updates each; '
          f'a run: {SET_STEPS} steps; issue 22\'s budget for all set-policy training: '
          f'{PER_POINT_TRAIN_S / SET_BUDGET_SHARE:.0f} s')
    print('| learner | ms an update | ratio to our flat SAC-PER update | updates of a run | their time [s] |')
    print('|---|---|---|---|---|')
    for algo, learner in learners.items():
        ms = set_update_ms(learner, states, updates)
        run_updates = (SET_STEPS - learner.learning_starts) * learner.updates_per_step
        print(f'| set {algo} | {ms:.1f} | {ms * flat_rate / 1e3:.2f} | {run_updates} | {run_updates * ms / 1e3:.0f} |',
              flush=True)


def main(argv=None) -> int:
    from uav_mec_nodes.env import UavMecEnv
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--updates', type=int, default=300, help='timed gradient updates (default 300)')
    parser.add_argument('--fill', type=int, default=2000, help='random env steps in the buffers (default 2000)')
    parser.add_argument('--loop-steps', type=int, default=600,
                        help='learning steps of the training-loop comparison, after --fill random ones (default 600)')
    parser.add_argument('--set-updates', type=int, default=30,
                        help='timed updates of each set-network learner (default 30)')
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    transitions = fill_transitions(UavMecEnv(), args.fill)
    rates = {'SB3 SAC': sb3(UavMecEnv, args.fill, args.updates),
             'our SAC': ours('sac', transitions, args.updates),
             'our SAC-PER': ours('sac-per', transitions, args.updates),
             # one REDQ update = one step of its N=10 critics (M=2 in the target), the actor every G=2 of them
             'our REDQ (N=10, M=2, G=2)': ours('redq', transitions, args.updates)}
    ref = rates['SB3 SAC']
    print(f'gradient updates per second (one thread, batch 256, 2x256 hidden, {args.updates} updates)')
    print('| learner | updates/s | ratio to SB3 SAC |')
    print('|---|---|---|')
    for name, rate in rates.items():
        print(f'| {name} | {rate:.1f} | {rate / ref:.2f} |')
    t_uni, t_per = replay_rates()
    print()
    print('| replay (100000 transitions, batch 256) | time per batch [ms] | ratio to uniform |')
    print('|---|---|---|')
    print(f'| uniform: sample | {t_uni * 1e3:.3f} | 1.00 |')
    print(f'| prioritized: sample + priority update | {t_per * 1e3:.3f} | {t_per / t_uni:.2f} |')
    print()
    print(f'training loop, steps per second over {args.fill} random + {args.loop_steps} learning steps '
          f'(one update a step); target: 2x SB3 learn()')
    loops = {"SB3 SAC learn()": loop_rate_sb3(UavMecEnv, args.fill, args.loop_steps),
             'our SAC': loop_rate_ours('sac', args.fill, args.loop_steps),
             'our SAC-PER': loop_rate_ours('sac-per', args.fill, args.loop_steps)}
    print('| loop | steps/s | ratio to SB3 learn() |')
    print('|---|---|---|')
    for name, rate in loops.items():
        print(f'| {name} | {rate:.1f} | {rate / loops["SB3 SAC learn()"]:.2f} |')
    print()
    set_table(args.set_updates, rates['our SAC-PER'])
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
