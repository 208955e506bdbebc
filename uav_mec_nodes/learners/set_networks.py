"""Actor and critics that read users and UAVs as sets, for any I and J of their range.

Both read the padded layout of learners/set_layout.py. Every user goes through
one shared encoder, every UAV through another, and every (user, UAV) pair
through a third that sees both embeddings and the pair's channel rate and
offset; users then pool over the live UAVs and UAVs over the present users
(masked means), so nothing depends on the order of users or of UAVs, absent
users and UAVs are ignored, and dead UAVs (alive flag 0 at the slot's start)
drop out of every user's context. Only the pairs that exist (present user,
present UAV) are computed, packed across the batch (`Pairs`): the sizes of a
set run's range average under half the padded I_max x J_max. The critic
ensemble stacks its N critics' weights, so each layer is one batched matmul
for all N. The actor's heads are shared per user
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
# motion prior's initial scale: positions are observed / area (500 m), orbit offsets are in units of 100 m
# (guidance.ORBIT_OFFSET_M), so the offset that keeps a UAV's orbit where it is flies starts at 5 x (q - users)
MOTION_PRIOR = 5.0


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
        o['pairs'] = Pairs(o['user_mask'], o['uav_mask'])
        return o

    def action(self, action: torch.Tensor) -> dict:
        return self._split(action, self.act)


def _masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int) -> torch.Tensor:
    """Mean of x over `dim` where mask is 1 (x: (..., n, ..., d), mask broadcastable without d)."""
    m = mask.unsqueeze(-1)
    return (x * m).sum(dim) / m.sum(dim).clamp_min(1.0)


class Pairs:
    """The (user, UAV) pairs that exist (present user, present UAV), packed: the padded layout has
    I_max x J_max of them a state, while the sizes of a set run's range average under half that, and
    the pair tokens are most of an update's memory traffic. Rows in (state, user, UAV) order; every
    method takes and gives tokens on the second-to-last dim, after any leading (member) dims."""

    def __init__(self, user_mask: torch.Tensor, uav_mask: torch.Tensor):
        b, i = user_mask.shape
        j = uav_mask.shape[-1]
        self.shape = (b, i, j)
        self.index = ((user_mask.unsqueeze(2) * uav_mask.unsqueeze(1)) > 0.5).flatten().nonzero().squeeze(1)
        self.state = torch.div(self.index, i * j, rounding_mode='floor')
        self.user = torch.div(self.index, j, rounding_mode='floor')          # its row of (B * I)
        self.uav = self.state * j + self.index % j                            # its row of (B * J)
        self.uav_count = torch.zeros(b * j).index_add_(0, self.uav, torch.ones(len(self.index))).clamp_min_(1.0)

    @staticmethod
    def _rows(x: torch.Tensor, dims: int, rows: torch.Tensor) -> torch.Tensor:
        """x (..., <dims dims>, k) -> (..., len(rows), k)"""
        return x.reshape(x.shape[:-dims - 1] + (-1, x.shape[-1])).index_select(-2, rows)

    def of_pair(self, x: torch.Tensor) -> torch.Tensor:
        """(..., B, I, J, k) -> (..., P, k)"""
        return self._rows(x, 3, self.index)

    def of_user(self, x: torch.Tensor) -> torch.Tensor:
        """(..., B, I, k) -> (..., P, k): each pair's user's row"""
        return self._rows(x, 2, self.user)

    def of_uav(self, x: torch.Tensor) -> torch.Tensor:
        """(..., B, J, k) -> (..., P, k): each pair's UAV's row"""
        return self._rows(x, 2, self.uav)

    def padded(self, x: torch.Tensor) -> torch.Tensor:
        """(P,) -> (B, I, J), zero where no pair exists"""
        return x.new_zeros(math.prod(self.shape)).index_copy(0, self.index, x).reshape(self.shape)

    def user_mean(self, e: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """(..., P, d) -> (..., B, I, d): each user's mean over its pairs of weight 1 (weight (P,) of 0 or 1)"""
        b, i, _ = self.shape
        total = e.new_zeros(e.shape[:-2] + (b * i, e.shape[-1])).index_add(-2, self.user, e * weight.unsqueeze(-1))
        count = weight.new_zeros(b * i).index_add(0, self.user, weight).clamp_min(1.0)
        return (total / count.unsqueeze(-1)).reshape(e.shape[:-2] + (b, i, e.shape[-1]))

    def uav_mean(self, e: torch.Tensor) -> torch.Tensor:
        """(..., P, d) -> (..., B, J, d): each UAV's mean over its pairs (its present users)"""
        b, _, j = self.shape
        total = e.new_zeros(e.shape[:-2] + (b * j, e.shape[-1])).index_add(-2, self.uav, e)
        return (total / self.uav_count.unsqueeze(-1)).reshape(e.shape[:-2] + (b, j, e.shape[-1]))


def _cat(parts) -> torch.Tensor:
    """torch.cat on the last dim of tensors whose leading dims broadcast (the critics' and the state's)."""
    lead = torch.broadcast_shapes(*(p.shape[:-1] for p in parts))
    return torch.cat([p.expand(lead + p.shape[-1:]) for p in parts], -1)


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

    def forward(self, o: dict, user_extra=None, uav_extra=None, pair_extra=None, lift=lambda x: x):
        """Token embeddings and contexts; `lift` gives the state's features the critic ensemble's member
        dimension (its layers map (1, ...) inputs to (N, ...) outputs), so every dim below counts from the end."""
        lay = self.layout
        user_in = torch.cat([o['dnn_type'], o['user_xy']] + ([user_extra] if user_extra is not None else []), -1)
        uav_in = torch.cat([o['uav_position'], o['uav_velocity'], o['alive'].unsqueeze(-1)]
                           + ([uav_extra] if uav_extra is not None else []), -1)
        hu = F.relu(self.user(lift(user_in)))                 # (B, I, d)
        hv = F.relu(self.uav(lift(uav_in)))                   # (B, J, d)
        pairs = o['pairs']
        offset = pairs.of_user(o['user_xy']) - pairs.of_uav(o['uav_position'][..., :2])   # (P, 2)
        # the rate against the user's best live UAV: which UAV is near is a comparison across the set
        rates = torch.stack([o['mu_uav_rate'], o['relative_rate']], -1)                 # (B, I, J, 2)
        pair_in = torch.cat([pairs.of_pair(rates), offset]
                            + ([pairs.of_pair(pair_extra)] if pair_extra is not None else []), -1)
        e = F.relu(pairs.of_user(self.pair_user(hu)) + pairs.of_uav(self.pair_uav(hv)) + self.pair_own(lift(pair_in)))
        if self.pair_out is not None:
            e = F.relu(self.pair_out(e))                      # (P, d)
        user_ctx = pairs.user_mean(e, pairs.of_uav(o['live'].unsqueeze(-1)).squeeze(-1))   # over live UAVs: (B, I, d)
        uav_ctx = pairs.uav_mean(e)                           # over present users: (B, J, d)
        counts = torch.stack([o['user_mask'].sum(-1) / lay.max_users, o['uav_mask'].sum(-1) / lay.max_uavs], -1)
        g = _cat([_masked_mean(hu, o['user_mask'], -2), _masked_mean(hv, o['live'], -2), o['time'], counts])
        return hu, hv, e, user_ctx, uav_ctx, F.relu(self.glob(g))


class SetActor(nn.Module):
    """pi(a|s) over the padded action: squashed Gaussians per entry, as SquashedGaussianActor."""

    def __init__(self, layout: SetLayout, width: int = 64, motion_prior: bool = False):
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
        # optional: the orbit offsets start from the one that keeps each UAV circling where it is, relative to
        # the users it likely serves (a learned scale); the head learns the correction (a steady teacher's
        # offsets are that plus a few metres, learners/imitation.py)
        self.motion_prior = nn.Parameter(torch.tensor(MOTION_PRIOR)) if motion_prior else None
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
        pairs = o['pairs']
        b, i, d = hu.shape
        j = hv.shape[1]
        user_tok = torch.cat([hu, user_ctx, g.unsqueeze(1).expand(b, i, d)], -1)
        part = self.partition(user_tok)                                           # (B, I, 2)
        # users', UAVs' and states' projections before they are gathered for their pairs
        pre = self.pair_hidden(e) + pairs.of_user(self.pair_context(user_ctx)) + pairs.of_uav(self.pair_load(uav_ctx)) \
            + self.pair_global(g).index_select(0, pairs.state)
        pre_assoc, pre_mig = pre.chunk(2, dim=-1)                                 # (P, d) each
        assoc = self.association(F.relu(pre_assoc))                               # (P, 2)
        prior = self.association_prior * pairs.of_pair(o['relative_rate'].unsqueeze(-1))[:, 0]
        assoc_mean = pairs.padded(assoc[:, 0] + prior)
        # expected UAV-UAV rate from the user's likely serving UAV, to every UAV k
        scores = assoc_mean.masked_fill(o['live'].unsqueeze(1) < 0.5, -1e9)
        serve = torch.softmax(scores, dim=-1)                                     # (B, I, J)
        rr = pairs.of_pair(torch.einsum('bij,bjk->bik', serve, o['uav_uav_rate']).unsqueeze(-1))
        mig = self.migration(F.relu(pre_mig + rr * self.migration_rate))          # (P, 2)
        motion = self.motion(torch.cat([hv, uav_ctx, g.unsqueeze(1).expand(b, j, d)], -1))   # (B, J, 6)
        if self.motion_prior is not None:
            motion = motion + F.pad(self._stay_offsets(o, serve), (0, 4))
        mean = torch.cat([part[..., 0], assoc_mean.flatten(1), pairs.padded(mig[:, 0]).flatten(1),
                          motion[..., :3].flatten(1)], -1)
        log_std = torch.cat([part[..., 1], pairs.padded(assoc[:, 1]).flatten(1), pairs.padded(mig[:, 1]).flatten(1),
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

    def _stay_offsets(self, o: dict, serve: torch.Tensor) -> torch.Tensor:
        """(B, J, 2) pre-squash orbit offsets of each UAV's own position from the mean of the users it likely
        serves (serve: (B, I, J) association weights); no users: zero."""
        weight = serve * o['user_mask'].unsqueeze(-1)                              # (B, I, J)
        uav_xy = o['uav_position'][..., :2]
        eps = 1e-3   # a UAV that serves nobody stays where it is
        pooled = torch.einsum('bij,bik->bjk', weight, o['user_xy'])
        mean = (pooled + eps * uav_xy) / (weight.sum(1).unsqueeze(-1) + eps)
        return torch.atanh((self.motion_prior * (uav_xy - mean)).clamp(-0.99, 0.99))


class SetCritic(nn.Module):
    """Q(s, a): the action entries join their user, pair and UAV tokens; users are summed (e_tot is a
    sum over users), UAVs averaged. One network; SetCriticEnsemble stacks N of them."""

    def __init__(self, layout: SetLayout, width: int = 64):
        super().__init__()
        d = width
        self.parse = _Parse(layout)
        self.layout = layout
        self.encoder = SetEncoder(layout, width, user_extra=1, uav_extra=3, pair_extra=2)
        self.user_head = mlp((3 * d, d, d))
        self.uav_head = mlp((3 * d, d, d))
        self.value = mlp((3 * d, d, 1))

    def forward(self, obs: torch.Tensor, action: torch.Tensor, lift=lambda x: x) -> torch.Tensor:
        o, a = self.parse.observation(obs), self.parse.action(action)
        hu, hv, e, user_ctx, uav_ctx, g = self.encoder(
            o, a['partition'].unsqueeze(-1), a['motion'], torch.stack([a['association'], a['migration']], -1), lift)
        g_tok = g.unsqueeze(-2)
        z = F.relu(self.user_head(_cat([hu, user_ctx, g_tok])))
        y = F.relu(self.uav_head(_cat([hv, uav_ctx, g_tok])))
        users = (z * o['user_mask'].unsqueeze(-1)).sum(-2) / self.layout.max_users
        return self.value(_cat([users, _masked_mean(y, o['uav_mask'], -2), g])).squeeze(-1)


class StackedLinear(nn.Module):
    """N nn.Linear layers of the same shape as one (N, in, out) weight: (N or 1, ..., in) -> (N, ..., out),
    one batched matmul for all N (or for the `members` subset the ensemble set)."""

    def __init__(self, layers):
        super().__init__()
        self.weight = nn.Parameter(torch.stack([layer.weight.detach().T for layer in layers]))
        self.bias = None if layers[0].bias is None else \
            nn.Parameter(torch.stack([layer.bias.detach() for layer in layers]).unsqueeze(1))
        self.members = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight if self.members is None else self.weight[self.members]
        n, lead = w.shape[0], x.shape[1:-1]
        flat = x.reshape(x.shape[0], -1, x.shape[-1]).expand(n, -1, -1)
        y = torch.bmm(flat, w) if self.bias is None else \
            torch.baddbmm(self.bias if self.members is None else self.bias[self.members], flat, w)
        return y.reshape((n,) + lead + y.shape[-1:])


def _stack_members(stacked: nn.Module, members) -> None:
    """Replace every nn.Linear of `stacked` by a StackedLinear of the same layer of each member."""
    for name, child in list(stacked.named_children()):
        if isinstance(child, nn.Linear):
            setattr(stacked, name, StackedLinear([getattr(m, name) for m in members]))
        else:
            _stack_members(child, [getattr(m, name) for m in members])


class SetCriticEnsemble(nn.Module):
    """N SetCritics with CriticEnsemble's interface, (N, B) values or only `members`: every layer of the
    N critics is one batched matmul, so the N critics cost about as many operations as one (each drawn
    as a SetCritic of its own, in turn, so the same seed gives the same initial weights)."""

    def __init__(self, layout: SetLayout, num_critics: int = 2, width: int = 64):
        super().__init__()
        self.num_critics = num_critics
        members = [SetCritic(layout, width) for _ in range(num_critics)]
        self.stacked = members[0]
        _stack_members(self.stacked, members)
        self._layers = [m for m in self.stacked.modules() if isinstance(m, StackedLinear)]

    def forward(self, obs: torch.Tensor, action: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self._layers:   # the subset is a property of this call: set, used, cleared
            layer.members = members
        try:
            return self.stacked(obs, action, lift=lambda x: x.unsqueeze(0))
        finally:
            for layer in self._layers:
                layer.members = None
