"""The learners' hyper-parameters, one config object (no torch: the CLI builds its flags from it)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Tuple

from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.learners.agent import AGENTS

NETWORKS = ('flat', 'set')


def _flag(flag: str, help: str, note: str = '', also: Tuple[str, ...] = (), **argparse_kwargs) -> dict:
    """A field's command-line flag: `uav-mec train` makes it from this (help, then its default and the note)."""
    return dict(flag=flag, help=help, note=note, also=also, argparse=argparse_kwargs)


@dataclass
class LearnerConfig:
    """Every hyper-parameter of the learners (units: env steps unless said). A field with a flag is one of
    `uav-mec train`'s options (cli/learn.py builds them from here)."""
    algo: str = 'sac-per'
    hidden: Tuple[int, ...] = field(default=(256, 256), metadata=_flag('--hidden', 'hidden layer sizes', type=int,
                                                                         nargs='+'))
    gamma: float = field(default=0.99, metadata=_flag('--gamma', 'discount factor', type=float))
    tau: float = field(default=0.005, metadata=_flag('--tau', 'Polyak rate of the target critics', type=float))
    actor_lr: float = field(default=3e-4, metadata=_flag('--lr', 'Adam learning rate of actor, critics and '
                                                         'temperature', type=float, also=('critic_lr', 'alpha_lr')))
    critic_lr: float = 3e-4
    alpha_lr: float = 3e-4
    init_alpha: float = field(default=0.2, metadata=_flag('--init-alpha', 'initial entropy temperature',
                                                          type=float))
    target_entropy_per_dim: float = -1.0   # target entropy = this * action_dim
    batch_size: int = field(default=256, metadata=_flag('--batch-size', 'minibatch size', type=int))
    # SPEC: 1e6 (untouched pages cost no memory)
    buffer_size: int = field(default=1_000_000, metadata=_flag('--buffer-size', 'replay capacity', type=int))
    learning_starts: int = field(default=1_000, metadata=_flag('--learning-starts', 'random-action steps first',
                                                               type=int))
    # rewards are -e_tot (~0.1 J a slot); unscaled, the entropy term of ~80 action dims swamps them (measured: no
    # learning at 1 or 10)
    reward_scale: float = field(default=100.0, metadata=_flag('--reward-scale', 'factor on the rewards seen by the '
                                                              'critics', type=float))
    num_critics: int = field(default=2, metadata=_flag('--critics', 'N critics', type=int, note='; redq 10'))
    target_subset: int = field(default=2, metadata=_flag('--target-subset', 'M critics in the target min (REDQ)',
                                                         type=int))
    updates_per_step: int = field(default=1, metadata=_flag('--utd', 'G updates per env step', type=int,
                                                            note='; redq 2'))
    per_alpha: float = field(default=0.6, metadata=_flag('--per-alpha', 'sac-per: priority exponent alpha',
                                                         type=float))
    per_beta0: float = field(default=0.4, metadata=_flag('--per-beta0', 'sac-per: initial importance-weight '
                                                         'exponent beta, annealed to 1', type=float))
    per_eps: float = 1e-6
    per_beta_steps: int = 0             # 0: anneal beta to 1 over the whole run
    # sac-per: 'uniform' draws the actor's minibatch apart: high-TD states are over-represented in a prioritized
    # batch, a biased actor objective
    per_actor_batch: str = field(default='prioritized', metadata=_flag(
        '--per-actor-batch', "sac-per: the actor's minibatch: the critics' prioritized one (the paper) or a uniform "
        'draw of its own', choices=('prioritized', 'uniform')))
    network: str = field(default='flat', metadata=_flag(
        '--network', "flat: MLPs for the scenario's I and J, as the paper; set: users and UAVs as sets, one policy "
        'for every I in --set-users and J in --set-uavs, each episode of a size drawn from them (--users/--uavs: '
        'the size validation starts from; learners/set_networks.py)', choices=NETWORKS))
    set_users: Tuple[int, int] = field(default=(4, 12), metadata=_flag(
        '--set-users', 'set network: the range of I it trains on and serves', type=int, nargs=2,
        metavar=('MIN', 'MAX')))
    set_uavs: Tuple[int, int] = field(default=(2, 5), metadata=_flag(
        '--set-uavs', 'set network: the range of J', type=int, nargs=2, metavar=('MIN', 'MAX')))
    set_width: int = field(default=64, metadata=_flag('--set-width', 'set network: embedding width', type=int,
                                                      note='; sweeps 32'))
    set_motion_prior: bool = field(default=False, metadata=_flag(
        '--set-motion-prior', "set network: orbit offsets start from the one that keeps each UAV's orbit where it "
        'is (a steady motion to correct; `uav-mec imitate` of steady-greedy)', action='store_true', default=None))
    extra: dict = field(default_factory=dict)

    @classmethod
    def for_algo(cls, algo: str, **overrides) -> 'LearnerConfig':
        if algo not in AGENTS:   # every learner by name (learners/agent.py registers them)
            raise UserInputError(f'--algo: must be one of {list(AGENTS)}, got {algo!r}')
        base = dict(algo=algo)
        if algo == 'sac-per-ua':   # ours: SAC-PER whose actor learns from uniform draws (see per_actor_batch)
            base = dict(algo='sac-per', per_actor_batch='uniform')
        if algo == 'redq':
            base.update(num_critics=10, target_subset=2, updates_per_step=2)
        base.update({k: v for k, v in overrides.items() if v is not None})
        cfg = cls(**base)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        checks = [('gamma', 0.0, 1.0), ('tau', 0.0, 1.0), ('per_alpha', 0.0, 1.0), ('per_beta0', 0.0, 1.0)]
        for name, lo, hi in checks:
            value = getattr(self, name)
            if not lo <= value <= hi:
                raise UserInputError(f'{name}: must be in [{lo}, {hi}], got {value}')
        for name in ('actor_lr', 'critic_lr', 'alpha_lr', 'init_alpha', 'reward_scale'):
            if not getattr(self, name) > 0:
                raise UserInputError(f'{name}: must be > 0, got {getattr(self, name)}')
        for name in ('batch_size', 'buffer_size', 'num_critics', 'target_subset', 'updates_per_step'):
            if getattr(self, name) < 1:
                raise UserInputError(f'{name}: must be >= 1, got {getattr(self, name)}')
        if self.per_actor_batch not in ('prioritized', 'uniform'):
            raise UserInputError(f"per_actor_batch: must be 'prioritized' or 'uniform', "
                                 f"got {self.per_actor_batch!r}")
        if self.network not in NETWORKS:
            raise UserInputError(f'network: must be one of {list(NETWORKS)}, got {self.network!r}')
        if self.network == 'set':
            self.layout.validate()
            if not 8 <= self.set_width <= 1024:
                raise UserInputError(f'set_width: must be in [8, 1024], got {self.set_width}')
        if self.target_subset > self.num_critics:
            raise UserInputError(f'target_subset: must be in [1, num_critics={self.num_critics}], '
                                 f'got {self.target_subset}')

    @property
    def prioritized(self) -> bool:
        return self.algo == 'sac-per'

    @property
    def uniform_actor_batch(self) -> bool:
        return self.prioritized and self.per_actor_batch == 'uniform'

    @property
    def layout(self):
        from uav_mec_nodes.learners.set_layout import SetLayout
        return SetLayout(int(self.set_users[0]), int(self.set_users[1]), int(self.set_uavs[0]),
                         int(self.set_uavs[1]))

    def to_dict(self) -> dict:
        d = asdict(self)
        for name in ('hidden', 'set_users', 'set_uavs'):
            d[name] = list(getattr(self, name))
        return d

    @classmethod
    def from_dict(cls, d: dict) -> 'LearnerConfig':
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        for name in ('hidden', 'set_users', 'set_uavs'):
            if name in d:
                d[name] = tuple(d[name])
        return cls(**d)


def _setting(default, lo, hi, help: str):
    return field(default=default, metadata=dict(range=(lo, hi), help=help))


@dataclass
class ImitationSettings:
    """`uav-mec imitate`'s options (cli/learn.py builds them from these fields)."""
    teacher: str = field(default='steady-greedy', metadata=dict(
        help='the policy to imitate: a flying one that plans an orbit action (steady-greedy, flying-greedy, '
             'flying-optimal)'))
    episodes: int = _setting(100, 1, 100_000, 'training episodes the teacher flies (60 slots each)')
    updates: int = _setting(4_000, 1, 10_000_000, 'minibatch updates of the actor')
    batch_size: int = _setting(256, 1, 65_536, 'minibatch size')
    lr: float = _setting(1e-3, 1e-7, 1.0, 'Adam learning rate')
    seed: int = _setting(0, 0, 9, 'seed of the network, minibatches and training episodes')
    eval_every: int = _setting(500, 1, 10_000_000, 'updates between evaluations on validation episodes')
    eval_episodes: int = _setting(8, 1, 1_000, "validation episodes per evaluation (cycling over Fig. 4 and 5's "
                                              'sizes)')
    threads: int = _setting(1, 1, 256, 'torch threads (1: deterministic)')

    def validate(self) -> None:
        for f in self.__dataclass_fields__.values():
            if 'range' in f.metadata:
                lo, hi = f.metadata['range']
                value = getattr(self, f.name)
                if not lo <= value <= hi:
                    raise UserInputError(f"--{f.name.replace('_', '-')}: must be in [{lo}, {hi}], got {value}")
