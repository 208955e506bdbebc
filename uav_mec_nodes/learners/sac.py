"""SAC (37)-(38) with automatic temperature, its PER form (39), and REDQ, in one agent.

The learners differ only in a few knobs of `LearnerConfig`:
  * sac:     2 critics, target = min of both, 1 update per env step, uniform replay;
  * sac-per: the same with prioritized replay (TD errors of (39) as priorities,
             importance weights on the critic loss);
  * sac-per-ua (ours): sac-per whose actor and temperature steps use a uniform
             draw of their own instead of the critics' prioritized batch
             (per_actor_batch='uniform');
  * redq:    N critics (default 10), target = min over a random subset of M (2),
             G updates per env step (default 2, not Chen et al.'s 20: one critic
             update of 10 critics costs about 2.3 times SAC's whole update on one
             CPU thread, so G=20 would make a 20K-step run take hours), and the
             actor maximises the mean of all N critics.
The TD error of (39) is the mean over the critics of |y - Q_i(s, a)|, with the
entropy term inside the target y as in SAC's usual target.
"""
from __future__ import annotations

import copy
from typing import Tuple

import numpy as np
import torch

from uav_mec_nodes.learners.config import LearnerConfig
from uav_mec_nodes.learners.networks import CriticEnsemble, SquashedGaussianActor


def build_actor(cfg: LearnerConfig, obs_dim: int, action_dim: int) -> torch.nn.Module:
    """The actor a learner config names: flat for (obs_dim, action_dim), or a set network for its range."""
    if cfg.network == 'set':
        from uav_mec_nodes.learners.set_networks import SetActor
        return SetActor(cfg.layout, cfg.set_width, cfg.set_motion_prior)
    return SquashedGaussianActor(obs_dim, action_dim, cfg.hidden)


def build_critic(cfg: LearnerConfig, obs_dim: int, action_dim: int) -> torch.nn.Module:
    if cfg.network == 'set':
        from uav_mec_nodes.learners.set_networks import SetCriticEnsemble
        return SetCriticEnsemble(cfg.layout, cfg.num_critics, cfg.set_width)
    return CriticEnsemble(obs_dim, action_dim, cfg.num_critics, cfg.hidden)


class SacAgent:
    """SAC, SAC-PER, REDQ and SAC-PER-UA (learners/agent.py's Agent): networks, optimisers and the update rule;
    no env and no buffer inside."""

    build_actor = staticmethod(build_actor)   # the acting network of a policy file

    def __init__(self, obs_dim: int, action_dim: int, cfg: LearnerConfig, seed: int = 0):
        self.cfg, self.obs_dim, self.action_dim = cfg, obs_dim, action_dim
        self.generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        self.actor = build_actor(cfg, obs_dim, action_dim)
        self.critic = build_critic(cfg, obs_dim, action_dim)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = torch.tensor(float(np.log(cfg.init_alpha)), requires_grad=True)
        self.target_entropy = cfg.target_entropy_per_dim * action_dim
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.actor_lr)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=cfg.alpha_lr)
        self.updates = 0

    @property
    def alpha(self) -> float:
        return float(self.log_alpha.detach().exp())

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        obs_t = torch.as_tensor(np.asarray(obs, np.float32))
        single = obs_t.ndim == 1
        action, _ = self.actor(obs_t.unsqueeze(0) if single else obs_t, deterministic, with_log_prob=False)
        action = action.numpy()
        return action[0] if single else action

    # --- losses (separate so tests can check them on hand-made numbers) -------
    def critic_target_values(self, reward, next_obs, done) -> torch.Tensor:
        """y = s r + gamma (1 - d) (min over M target critics of Q'(s', a') - alpha log pi(a'|s'))."""
        with torch.no_grad():
            next_action, next_logp = self.actor(next_obs)
            pick = None
            if self.cfg.target_subset < self.cfg.num_critics:
                pick = torch.randperm(self.cfg.num_critics, generator=self.generator)[:self.cfg.target_subset]
            q_next = self.critic_target(next_obs, next_action, members=pick)
            q_next = q_next.min(dim=0).values - self.log_alpha.exp() * next_logp
            return self.cfg.reward_scale * reward + self.cfg.gamma * (1.0 - done) * q_next

    def critic_loss(self, batch, weights) -> Tuple[torch.Tensor, torch.Tensor]:
        """Importance-weighted squared TD error summed over critics; also |delta| (39) per sample."""
        y = self.critic_target_values(batch['reward'], batch['next_obs'], batch['done'])
        q = self.critic(batch['obs'], batch['action'])
        td = q - y.unsqueeze(0)
        loss = (weights.unsqueeze(0) * td ** 2).mean(dim=1).sum()
        return loss, td.detach().abs().mean(dim=0)

    def actor_loss(self, obs) -> Tuple[torch.Tensor, torch.Tensor]:
        action, logp = self.actor(obs)
        # the critics' weights are constants here: their gradients would be thrown away (zero_grad before
        # the critic step), and skipping them saves a third of the backward pass through N critics
        self.critic.requires_grad_(False)
        try:
            q = self.critic(obs, action)
        finally:
            self.critic.requires_grad_(True)
        q = q.mean(dim=0) if self.cfg.num_critics > 2 else q.min(dim=0).values
        return (self.log_alpha.exp().detach() * logp - q).mean(), logp.detach()

    def target_entropies(self, obs) -> torch.Tensor | float:
        """The target entropy per state: per-dimension target times the action entries that exist there
        (a set network's count varies with the state's users and live UAVs; a flat one's is fixed)."""
        if hasattr(self.actor, 'action_dims'):
            return self.cfg.target_entropy_per_dim * self.actor.action_dims(obs)
        return self.target_entropy

    def alpha_loss(self, logp, obs=None) -> torch.Tensor:
        target = self.target_entropy if obs is None else self.target_entropies(obs)
        return -(self.log_alpha * (logp + target)).mean()

    def actor_due(self) -> bool:
        """Whether the next update() also steps the actor and alpha (every G-th critic step)."""
        return (self.updates + 1) % self.cfg.updates_per_step == 0

    def update(self, batch_np: dict, weights_np: np.ndarray, actor_obs_np=None) -> Tuple[dict, np.ndarray]:
        """One gradient step of the critics; the actor and alpha once per G critic steps.

        actor_obs_np: the states of the actor's step (default: the critics' batch).
        """
        actor_step = self.actor_due()
        batch = {k: torch.as_tensor(v) for k, v in batch_np.items()}
        weights = torch.as_tensor(weights_np)
        c_loss, td = self.critic_loss(batch, weights)
        self.critic_opt.zero_grad()
        c_loss.backward()
        self.critic_opt.step()
        with torch.no_grad():
            for p, p_t in zip(self.critic.parameters(), self.critic_target.parameters()):
                p_t.mul_(1.0 - self.cfg.tau).add_(p, alpha=self.cfg.tau)
        self.updates += 1
        metrics = dict(critic_loss=float(c_loss.detach()))
        if actor_step:
            actor_obs = batch['obs'] if actor_obs_np is None else torch.as_tensor(actor_obs_np)
            a_loss, logp = self.actor_loss(actor_obs)
            self.actor_opt.zero_grad()
            a_loss.backward()
            self.actor_opt.step()
            al_loss = self.alpha_loss(logp, actor_obs)
            self.alpha_opt.zero_grad()
            al_loss.backward()
            self.alpha_opt.step()
            metrics.update(actor_loss=float(a_loss.detach()), alpha=self.alpha, entropy=float(-logp.mean()))
        return metrics, td.numpy()

    # --- checkpoints -----------------------------------------------------------
    def policy_state(self) -> dict:
        return self.actor.state_dict()

    def state_dict(self) -> dict:
        return dict(actor=self.actor.state_dict(), critic=self.critic.state_dict(),
                    critic_target=self.critic_target.state_dict(), log_alpha=self.log_alpha.detach().clone(),
                    actor_opt=self.actor_opt.state_dict(), critic_opt=self.critic_opt.state_dict(),
                    alpha_opt=self.alpha_opt.state_dict(), updates=self.updates,
                    generator=self.generator.get_state())

    def load_state_dict(self, state: dict, actor_only: bool = False) -> None:
        self.actor.load_state_dict(state['actor'])
        if actor_only:
            return
        self.critic.load_state_dict(state['critic'])
        self.critic_target.load_state_dict(state['critic_target'])
        with torch.no_grad():
            self.log_alpha.copy_(state['log_alpha'])
        self.actor_opt.load_state_dict(state['actor_opt'])
        self.critic_opt.load_state_dict(state['critic_opt'])
        self.alpha_opt.load_state_dict(state['alpha_opt'])
        self.updates = int(state['updates'])
        self.generator.set_state(state['generator'])
