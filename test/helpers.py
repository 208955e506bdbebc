"""Helpers of the graph and command tests (imported as `helpers`; conftest puts this folder on sys.path)."""
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import yaml

UAV_MEC = str(Path(sys.prefix) / 'bin' / 'uav-mec')
REPO_ROOT = Path(__file__).resolve().parents[1]


def uav_mec(*args, check=True, timeout=300):
    out = subprocess.run([UAV_MEC, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def gym_episode(policy: str, seed: int = 0, slots: int = 60, schedule=None, users: int = 10, safety=False,
                uavs: int = 3, lost=None):
    """The Gym env's episode with this policy and seed: (per-slot e_tot, EpisodeLog).

    safety=True: through the safety layer, as `uav-mec run` and the graph fly by default.
    """
    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.env import UavMecEnv
    from uav_mec_nodes.experiments.episode import run_episode
    from uav_mec_nodes.policies import make_policy
    cfg = load_scenario().replace(scenario__num_slots=slots, scenario__num_users=users, scenario__num_uavs=uavs,
                                  safety__enabled=safety)
    if schedule or lost:   # lost: (uav, slot) lost between slot-1 and slot (model.failures)
        cfg = cfg.replace(failures__model='schedule', failures__schedule=tuple(schedule or ()),
                          failures__lost_schedule=tuple(lost or ()),
                          failures__max_failures=max(cfg.failures.max_failures, len(schedule or ()) + len(lost or ())))
    log = run_episode(UavMecEnv(cfg), make_policy(policy), seed)
    return np.array([s['e_tot'] for s in log.slots]), log


def slots_in_bag(bag: Path) -> int:
    """Slots whose metrics the bag holds, from the metadata the recorder checkpoints every slot."""
    try:
        info = yaml.safe_load((Path(bag) / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    except (OSError, TypeError, KeyError, yaml.YAMLError):
        return 0
    counts = {t['topic_metadata']['name']: t['message_count'] for t in info['topics_with_message_count']}
    return counts.get('/slot_metrics', 0)


def wait_for_slots(bag: Path, slots: int, timeout_s: float, proc=None) -> None:
    deadline = time.monotonic() + timeout_s
    while slots_in_bag(bag) < slots:
        assert proc is None or proc.poll() is None, f'the run ended early (exit {proc.returncode})'
        assert time.monotonic() < deadline, f'{slots} slots not in {bag} within {timeout_s} s'
        time.sleep(0.1)


def assert_every_task_once(bag: dict, slots: int, users: int = 10) -> None:
    per_task = Counter((r.slot, r.user_id) for r in bag['/task_reports'])
    assert len(per_task) == slots * users and set(per_task.values()) == {1}
    assert {r.terminal_state for r in bag['/task_reports']} <= {0, 1, 2}


def run_processes(marker: str):
    """PIDs of processes whose command line holds `marker` (a run's log folder, say)."""
    out = subprocess.run(['pgrep', '-f', marker], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def summary_of(out_dir: Path) -> dict:
    return json.loads((Path(out_dir) / 'summary.json').read_text())


def acceleration_policy_file(path, seed: int = 0):
    """An untrained actor with the paper's acceleration action (a policy the safety layer has to correct)."""
    import torch

    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.env import UavMecEnv
    from uav_mec_nodes.learners.sac import LearnerConfig, SacAgent
    from uav_mec_nodes.policies.files import save_policy
    cfg = load_scenario()
    env = UavMecEnv(cfg)
    learner = LearnerConfig.for_algo('sac-per', hidden=(16, 16))
    torch.manual_seed(seed)
    save_policy(path, SacAgent(env.observation_space.shape[0], env.action_dim, learner), learner, cfg, step=0)
    return str(path)


def set_policy_file(path, seed: int = 0, users=(4, 12), uavs=(2, 5)):
    """An untrained set actor (any I in `users`, J in `uavs`) with the orbit motion action."""
    import torch

    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.learners.sac import LearnerConfig, SacAgent
    from uav_mec_nodes.policies.files import save_policy
    cfg = load_scenario().replace(modes__motion_action='orbit')
    learner = LearnerConfig.for_algo('sac-per', network='set', set_width=16, set_users=users, set_uavs=uavs)
    torch.manual_seed(seed)
    agent = SacAgent(learner.layout.obs_dim, learner.layout.action_dim, learner, seed=seed)
    save_policy(path, agent, learner, cfg, step=0)
    return str(path)


class ToyAgent:
    """A learner that is not SAC (tests of the learner interface, learners/agent.py): a linear tanh policy
    nudged towards the replayed actions of above-average reward. Plugged in with one registry line."""

    def __init__(self, obs_dim, action_dim, cfg, seed=0):
        import torch
        self.obs_dim, self.action_dim, self.cfg = obs_dim, action_dim, cfg
        torch.manual_seed(seed)
        self.actor = ToyAgent.build_actor(cfg, obs_dim, action_dim)
        self.opt = torch.optim.SGD(self.actor.parameters(), lr=1e-2)
        self.rng = np.random.default_rng(seed)
        self.updates = 0

    @staticmethod
    def build_actor(cfg, obs_dim, action_dim):
        import torch

        class Linear(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.layer = torch.nn.Linear(obs_dim, action_dim)

            def forward(self, obs, deterministic=False, with_log_prob=True):
                return torch.tanh(self.layer(obs)), None
        return Linear()

    alpha = float('nan')

    def act(self, obs, deterministic=False):
        import torch
        with torch.no_grad():
            a = self.actor(torch.as_tensor(np.asarray(obs, np.float32)))[0].numpy()
        return a if deterministic else np.clip(a + 0.1 * self.rng.standard_normal(a.shape), -1, 1)

    def update(self, batch, weights, actor_obs=None):
        import torch
        obs = torch.as_tensor(batch['obs'])
        good = torch.as_tensor(batch['reward'] >= batch['reward'].mean())
        a, _ = self.actor(obs)
        loss = ((a - torch.as_tensor(batch['action'])) ** 2).mean(-1)[good].mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.updates += 1
        return dict(actor_loss=float(loss.detach())), np.ones(len(obs))

    def actor_due(self):
        return True

    def policy_state(self):
        return self.actor.state_dict()

    def state_dict(self):
        return dict(actor=self.actor.state_dict(), opt=self.opt.state_dict(), updates=self.updates)

    def load_state_dict(self, state, actor_only=False):
        self.actor.load_state_dict(state['actor'])
        if not actor_only:
            self.opt.load_state_dict(state['opt'])
            self.updates = int(state['updates'])


BELOW_START_M = 3.0    # each PX4 vehicle's home a few metres under its start point: a short climb and landing


def px4_homes(seed: int = 0, num_uavs: int = 3):
    """PX4 homes just under the UAVs' start points of this seed's episode: (array, --px4-homes text)."""
    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.env import UavMecEnv
    env = UavMecEnv(load_scenario(None, {'scenario.num_uavs': num_uavs}))
    env.reset(seed=seed)
    homes = env.uav_pos - [0.0, 0.0, BELOW_START_M]
    return homes, ';'.join(','.join(f'{v:.6f}' for v in h) for h in homes)
