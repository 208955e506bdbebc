"""Actor and critics for SAC, SAC-PER and REDQ."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0


def mlp(sizes, activation=nn.ReLU) -> nn.Sequential:
    layers = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(a, b), activation()]
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


class SquashedGaussianActor(nn.Module):
    """pi(a|s): a = tanh(u), u ~ N(mu(s), sigma(s)); actions in (-1, 1) as the env's Box."""

    def __init__(self, obs_dim: int, action_dim: int, hidden=(256, 256)):
        super().__init__()
        self.body = mlp((obs_dim,) + tuple(hidden) + (2 * action_dim,))
        self.action_dim = action_dim

    def forward(self, obs: torch.Tensor, deterministic: bool = False, with_log_prob: bool = True):
        mean, log_std = self.body(obs).chunk(2, dim=-1)
        log_std = log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)
        u = mean if deterministic else mean + log_std.exp() * torch.randn_like(mean)
        action = torch.tanh(u)
        if not with_log_prob:
            return action, None
        # log N(u) - sum log(1 - tanh(u)^2), the latter as 2 (log 2 - u - softplus(-2u)) for stability
        log_prob = (-0.5 * ((u - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_prob = log_prob - (2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))).sum(-1)
        return action, log_prob


class CriticEnsemble(nn.Module):
    """N independent Q(s, a) networks evaluated in one batched matmul per layer."""

    def __init__(self, obs_dim: int, action_dim: int, num_critics: int = 2, hidden=(256, 256)):
        super().__init__()
        sizes = (obs_dim + action_dim,) + tuple(hidden) + (1,)
        self.num_critics = num_critics
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for a, b in zip(sizes[:-1], sizes[1:]):
            w = torch.empty(num_critics, a, b)
            for n in range(num_critics):   # the same init as nn.Linear, per member
                layer = nn.Linear(a, b)
                w[n] = layer.weight.detach().T
            bound = 1.0 / math.sqrt(a)
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(torch.empty(num_critics, 1, b).uniform_(-bound, bound)))

    def forward(self, obs: torch.Tensor, action: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        """(N, batch) Q values; with `members` (indices) only those critics, (len(members), batch).

        Each member's matmul is independent, so a subset gives the same numbers as slicing the
        full output, at the cost of the subset only (REDQ's target needs M=2 of N=10).
        """
        size = self.num_critics if members is None else len(members)
        x = torch.cat([obs, action], dim=-1).unsqueeze(0).expand(size, -1, -1)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            if members is not None:
                w, b = w[members], b[members]
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = F.relu(x)
        return x.squeeze(-1)
