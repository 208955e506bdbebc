"""Actor and critics that read users and UAVs as sets, for any I and J of their range.

Both read the padded layout of learners/set_layout.py. Every user goes through
one shared encoder, every UAV through another, and every (user, UAV) pair
through a third that sees both embeddings and the pair's channel rate and
offset; users then pool over the live UAVs and UAVs over the present users
(masked means), so nothing depends on the order of users or of UAVs, absent
users and UAVs are ignored, and dead UAVs (alive flag 0 at the slot's start)
drop out of every user's context. The actor's heads are shared per user
(partition), per pair (association and migration scores) and per UAV
(motion); entries of absent users and of absent or dead UAVs are zero and
carry no log-probability, so the temperature's target entropy counts the
action entries that exist (`action_dims`). A pair's features include its
rate against the user's best live UAV, and the pair heads see the UAV's
pooled users (its load), so that users do not all pick one UAV. Migration
scores also see the UAV-UAV rate from the user's likely serving UAV (softmax
of its association means over the live UAVs), which the choice of a standby
target is about.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from uav_mec_nodes.learners.networks import LOG_STD_MAX, LOG_STD_MIN, mlp
from uav_mec_nodes.learners.set_layout import SetLayout, action_parts, obs_parts

ASSOCIATION_PRIOR = 20.0   # initial scale: a rate 0.05 below the best (log10 rates / 10) lowers a score by 1


class _Parse(nn.Module):
    """Padded flat tensors -> named (B, ...) tensors (no parameters)."""

    def __init__(self, layout: SetLayout):
        super().__init__()
        i, j = layout.max_users, layout.max_uavs
        self.obs = obs_parts(i, j, layout.num_types) + [('user_mask', (i,)), ('uav_mask', (j,))]
        self.act = action_parts(i, j)

    @staticmethod
    def _split(x: torch.Tensor, parts) -> dict:
        sizes = [math.prod(shape) for _, shape in parts]
        return {name: p.reshape(x.shape[:-1] + shape) for (name, shape), p in zip(parts, x.split(sizes, dim=-1))}

    def observation(self, obs: torch.Tensor) -> dict:
        o = self._split(obs, self.obs)
        o['live'] = o['uav_mask'] * o['alive']
        # the rate against the user's best live UAV (<= 0): which UAV is near is a comparison across the set
        rate = o['mu_uav_rate']
        best = rate.masked_fill(o['live'].unsqueeze(1) < 0.5, -1.0).amax(-1, keepdim=True)
        o['relative_rate'] = (rate - best) * o['live'].unsqueeze(1)
        return o

    def action(self, action: torch.Tensor) -> dict:
        return self._split(action, self.act)


def _masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int) -> torch.Tensor:
    """Mean of x over `dim` where mask is 1 (x: (..., n, ..., d), mask broadcastable without d)."""
    m = mask.unsqueeze(-1)
    return (x * m).sum(dim) / m.sum(dim).clamp_min(1.0)


class SetEncoder(nn.Module):
    """User, UAV and pair embeddings with their pooled contexts; extra inputs per user, UAV and pair
    (the critic's action entries) are appended to each token's features."""

    def __init__(self, layout: SetLayout, width: int, user_extra: int = 0, uav_extra: int = 0, pair_extra: int = 0,
                 pair_layers: int = 2):
        super().__init__()
        self.layout = layout
        d = width
        self.user = mlp((layout.num_types + 2 + user_extra, d, d))   # type one-hot, xy
        self.uav = mlp((7 + uav_extra, d, d))
        # the pair's first layer is a sum of projections (user, UAV, pair features): it never
        # builds the (B, I, J, 2d) concatenation
        self.pair_user = nn.Linear(d, d)
        self.pair_uav = nn.Linear(d, d, bias=False)
        self.pair_own = nn.Linear(4 + pair_extra, d, bias=False)
        # pair tokens dominate the cost (B x I x J of them); the actor's pair heads are its second layer
        self.pair_out = nn.Linear(d, d) if pair_layers > 1 else None
        self.glob = mlp((2 * d + 3, d, d))

    def forward(self, o: dict, user_extra=None, uav_extra=None, pair_extra=None):
        lay = self.layout
        user_in = torch.cat([o['dnn_type'], o['user_xy']] + ([user_extra] if user_extra is not None else []), -1)
        uav_in = torch.cat([o['uav_position'], o['uav_velocity'], o['alive'].unsqueeze(-1)]
                           + ([uav_extra] if uav_extra is not None else []), -1)
        hu = F.relu(self.user(user_in))                       # (B, I, d)
        hv = F.relu(self.uav(uav_in))                         # (B, J, d)
        offset = o['user_xy'].unsqueeze(2) - o['uav_position'][..., :2].unsqueeze(1)   # (B, I, J, 2)
        # the rate against the user's best live UAV: which UAV is near is a comparison across the set
        pair_in = torch.cat([o['mu_uav_rate'].unsqueeze(-1), o['relative_rate'].unsqueeze(-1), offset]
                            + ([pair_extra] if pair_extra is not None else []), -1)
        e = F.relu(self.pair_user(hu).unsqueeze(2) + self.pair_uav(hv).unsqueeze(1) + self.pair_own(pair_in))
        if self.pair_out is not None:
            e = F.relu(self.pair_out(e))                      # (B, I, J, d)
        user_ctx = _masked_mean(e, o['live'].unsqueeze(1), dim=2)            # over live UAVs: (B, I, d)
        uav_ctx = _masked_mean(e, o['user_mask'].unsqueeze(2), dim=1)        # over present users: (B, J, d)
        counts = torch.stack([o['user_mask'].sum(-1) / lay.max_users, o['uav_mask'].sum(-1) / lay.max_uavs], -1)
        g = torch.cat([_masked_mean(hu, o['user_mask'], 1), _masked_mean(hv, o['live'], 1), o['time'], counts], -1)
        return hu, hv, e, user_ctx, uav_ctx, F.relu(self.glob(g))


class SetActor(nn.Module):
    """pi(a|s) over the padded action: squashed Gaussians per entry, as SquashedGaussianActor."""

    def __init__(self, layout: SetLayout, width: int = 64):
        super().__init__()
        self.layout, d = layout, width
        self.parse = _Parse(layout)
        self.encoder = SetEncoder(layout, width, pair_layers=1)
        self.partition = mlp((3 * d, d, 2))
        # the pair heads' first layers as sums of projections of the pair, its user's context and the
        # global token (the (B, I, J, 3d) concatenation would cost most of an update)
        self.pair_hidden = nn.Linear(d, 2 * d)
        self.pair_context = nn.Linear(d, 2 * d, bias=False)
        self.pair_global = nn.Linear(d, 2 * d, bias=False)
        self.pair_load = nn.Linear(d, 2 * d, bias=False)   # the UAV's pooled users: how loaded it would be
        self.migration_rate = nn.Parameter(torch.zeros(d))
        # the association scores start from the strongest channel (the baselines' rule): a learned scale on
        # the rate against the user's best live UAV, added to the scores' means
        self.association_prior = nn.Parameter(torch.tensor(ASSOCIATION_PRIOR))
        self.association = nn.Linear(d, 2)
        self.migration = nn.Linear(d, 2)
        self.motion = mlp((3 * d, d, 6))
        self.action_dim = layout.action_dim

    def valid(self, o: dict) -> torch.Tensor:
        """(B, A) 1 where the action entry exists: present users, present and live UAVs."""
        um, live = o['user_mask'], o['live']
        pair = um.unsqueeze(2) * live.unsqueeze(1)
        flat = [um, pair.flatten(1), pair.flatten(1), live.unsqueeze(-1).expand(-1, -1, 3).flatten(1)]
        return torch.cat(flat, -1)

    def action_dims(self, obs: torch.Tensor) -> torch.Tensor:
        return self.valid(self.parse.observation(obs)).sum(-1)

    def forward(self, obs: torch.Tensor, deterministic: bool = False, with_log_prob: bool = True):
        single = obs.ndim == 1
        if single:
            obs = obs.unsqueeze(0)
        o = self.parse.observation(obs)
        hu, hv, e, user_ctx, uav_ctx, g = self.encoder(o)
        b, i, j, d = e.shape
        user_tok = torch.cat([hu, user_ctx, g.unsqueeze(1).expand(b, i, d)], -1)
        part = self.partition(user_tok)                                           # (B, I, 2)
        pre = self.pair_hidden(e) + self.pair_context(user_ctx).unsqueeze(2) + self.pair_load(uav_ctx).unsqueeze(1) \
            + self.pair_global(g)[:, None, None]
        pre_assoc, pre_mig = pre.chunk(2, dim=-1)                                 # (B, I, J, d) each
        assoc = self.association(F.relu(pre_assoc))                               # (B, I, J, 2)
        assoc = torch.cat([assoc[..., :1] + self.association_prior * o['relative_rate'].unsqueeze(-1),
                           assoc[..., 1:]], -1)
        # expected UAV-UAV rate from the user's likely serving UAV, to every UAV k
        scores = assoc[..., 0].masked_fill(o['live'].unsqueeze(1) < 0.5, -1e9)
        serve = torch.softmax(scores, dim=-1)                                     # (B, I, J)
        rr = torch.einsum('bij,bjk->bik', serve, o['uav_uav_rate'])
        mig = self.migration(F.relu(pre_mig + rr.unsqueeze(-1) * self.migration_rate))   # (B, I, J, 2)
        motion = self.motion(torch.cat([hv, uav_ctx, g.unsqueeze(1).expand(b, j, d)], -1))   # (B, J, 6)
        mean = torch.cat([part[..., 0], assoc[..., 0].flatten(1), mig[..., 0].flatten(1), motion[..., :3].flatten(1)], -1)
        log_std = torch.cat([part[..., 1], assoc[..., 1].flatten(1), mig[..., 1].flatten(1),
                             motion[..., 3:].flatten(1)], -1).clamp(LOG_STD_MIN, LOG_STD_MAX)
        valid = self.valid(o)
        u = mean if deterministic else mean + log_std.exp() * torch.randn_like(mean)
        action = torch.tanh(u) * valid
        log_prob = None
        if with_log_prob:
            per = -0.5 * ((u - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)
            per = per - 2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))
            log_prob = (per * valid).sum(-1)
        if single:
            action = action[0]
            log_prob = None if log_prob is None else log_prob[0]
        return action, log_prob


class SetCritic(nn.Module):
    """Q(s, a): the action entries join their user, pair and UAV tokens; users are summed (e_tot is a
    sum over users), UAVs averaged."""

    def __init__(self, layout: SetLayout, width: int = 64):
        super().__init__()
        d = width
        self.parse = _Parse(layout)
        self.layout = layout
        self.encoder = SetEncoder(layout, width, user_extra=1, uav_extra=3, pair_extra=2)
        self.user_head = mlp((3 * d, d, d))
        self.uav_head = mlp((3 * d, d, d))
        self.value = mlp((3 * d, d, 1))

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        o, a = self.parse.observation(obs), self.parse.action(action)
        hu, hv, e, user_ctx, uav_ctx, g = self.encoder(
            o, a['partition'].unsqueeze(-1), a['motion'], torch.stack([a['association'], a['migration']], -1))
        b, i, j, d = e.shape
        z = F.relu(self.user_head(torch.cat([hu, user_ctx, g.unsqueeze(1).expand(b, i, d)], -1)))
        y = F.relu(self.uav_head(torch.cat([hv, uav_ctx, g.unsqueeze(1).expand(b, j, d)], -1)))
        users = (z * o['user_mask'].unsqueeze(-1)).sum(1) / self.layout.max_users
        return self.value(torch.cat([users, _masked_mean(y, o['uav_mask'], 1), g], -1)).squeeze(-1)


class SetCriticEnsemble(nn.Module):
    """N SetCritics with CriticEnsemble's interface: (N, B) values, or only `members`."""

    def __init__(self, layout: SetLayout, num_critics: int = 2, width: int = 64):
        super().__init__()
        self.num_critics = num_critics
        self.members = nn.ModuleList(SetCritic(layout, width) for _ in range(num_critics))

    def forward(self, obs: torch.Tensor, action: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        pick = range(self.num_critics) if members is None else [int(m) for m in members]
        return torch.stack([self.members[m](obs, action) for m in pick])
