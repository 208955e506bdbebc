"""Typed scenario configuration: YAML load, defaults and validation.

Every field carries its unit and allowed range; `load_scenario` rejects unknown
keys, wrong types, values out of range and inconsistent combinations with one
`ConfigError` that names the field (``section.key``) and what is allowed.
Defaults are the paper's (Meng & Li, Sec. Simulation Results) and, where the
paper is silent, the choices of shared SPEC.md; config/scenario.yaml repeats
them with comments.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

import yaml

from uav_mec_nodes.errors import ConfigError

INF = math.inf


def spec(default, lo=None, hi=None, *, unit: str = '', choices: Optional[Tuple] = None,
         lo_open: bool = False, doc: str = ''):
    """A config field with its range (closed unless lo_open), unit and meaning."""
    return field(default=default, metadata=dict(lo=lo, hi=hi, unit=unit, choices=choices,
                                                 lo_open=lo_open, doc=doc))


@dataclass(frozen=True)
class ScenarioSection:
    num_users: int = spec(10, 1, 65_535, doc='I, mobile users (user ids are uint16 in the messages)')
    num_uavs: int = spec(3, 1, 1_000, doc='J, UAV edge servers')
    num_slots: int = spec(60, 1, 1_000_000, doc='T, slots per episode')
    slot_s: float = spec(1.0, 0.0, 3600.0, unit='s', lo_open=True, doc='delta, slot length and deadline')
    area_m: float = spec(500.0, 0.0, 1e6, unit='m', lo_open=True, doc='side of the square area')
    altitude_min_m: float = spec(100.0, 0.0, 1e4, unit='m', doc='H_min (28c)')
    altitude_max_m: float = spec(200.0, 0.0, 1e4, unit='m', doc='H_max (28c)')
    dnn_assignment: str = spec('round_robin', choices=('round_robin', 'random'),
                               doc='how users get DNN types: i mod 3, or uniform at reset')


@dataclass(frozen=True)
class UserSection:
    cpu_max_hz: float = spec(1e9, 0.0, 1e12, unit='Hz', lo_open=True, doc='f_i^max')
    tx_power_max_w: float = spec(0.5, 0.0, 100.0, unit='W', lo_open=True, doc='p_i^max (28j)')
    memory_heading: float = spec(0.8, 0.0, 1.0, doc='mu_1 of (3a); theta-bar_i is drawn per user at reset')
    memory_speed: float = spec(0.8, 0.0, 1.0, doc='mu_2 of the Gauss-Markov model (3b)')
    mean_speed_mps: float = spec(1.5, 0.0, 100.0, unit='m/s', doc='v-bar (3b)')
    heading_noise_std_rad: float = spec(0.5, 0.0, 10.0, unit='rad', doc='std of Psi_i (3a), mean 0')
    speed_noise_std_mps: float = spec(0.5, 0.0, 100.0, unit='m/s', doc='std of Phi_i (3b), mean 0')


@dataclass(frozen=True)
class UavSection:
    v_max_mps: float = spec(20.0, 0.0, 200.0, unit='m/s', lo_open=True, doc='v_max (7)')
    a_max_mps2: float = spec(5.0, 0.0, 100.0, unit='m/s^2', lo_open=True, doc='a_max (7)')
    d_safe_m: float = spec(5.0, 0.0, 1e4, unit='m', doc='d_safe (5)')
    cpu_hz: float = spec(10e9, 0.0, 1e13, unit='Hz', lo_open=True, doc='f_j^uav (28i)')
    tx_power_w: float = spec(1.0, 0.0, 100.0, unit='W', lo_open=True, doc='p_j, UAV-UAV transmit power (23)')


@dataclass(frozen=True)
class ChannelSection:
    bandwidth_mu_uav_hz: float = spec(10e6, 0.0, 1e12, unit='Hz', lo_open=True, doc='B_1 (15)')
    bandwidth_uav_uav_hz: float = spec(15e6, 0.0, 1e12, unit='Hz', lo_open=True, doc='B_2 (17)')
    beta0_db: float = spec(-30.0, -200.0, 50.0, unit='dB', doc='beta_0, MU-UAV power gain at 1 m (14)')
    h0_db: float = spec(-30.0, -200.0, 50.0, unit='dB', doc='h_0, UAV-UAV power gain at 1 m (16)')
    rician_factor: float = spec(10.0, 0.0, 1e6, doc='Gamma, linear (14)')
    path_loss_exponent: float = spec(2.0, 1.0, 6.0, doc='chi (14)')
    noise_mu_uav_dbm: float = spec(-100.0, -250.0, 50.0, unit='dBm', doc='sigma_1^2 (15)')
    noise_uav_uav_dbm: float = spec(-100.0, -250.0, 50.0, unit='dBm', doc='sigma_2^2 (17)')
    uav_gain_squared: bool = spec(False, doc='(17) read literally: |h_jk|^2 = h0^2/d^4 (SPEC: option only)')


@dataclass(frozen=True)
class ComputeSection:
    flops_per_cycle: float = spec(8.0, 0.0, 1e4, lo_open=True, doc='C_0 (18)')
    kappa: float = spec(1e-28, 0.0, 1e-20, doc='effective capacitance, users and UAVs (19)(25)')
    bits_per_value: int = spec(32, 1, 128, unit='bit', doc='sigma in (9): 4 bytes')
    conv_flops: str = spec('output', choices=('output', 'paper_input'),
                           doc='conv FLOPs from the output size (SPEC) or the paper input-size form')
    fc_flops: str = spec('paper', choices=('paper', 'usual'),
                         doc="FC FLOPs 2(U_in-1)U_out (paper) or (2U_in-1)U_out")


@dataclass(frozen=True)
class PropulsionSection:
    """Zeng, Xu, Zhang 2019 rotary-wing model, eq. (2) as corrected by SPEC.md."""
    blade_profile_w: float = spec(79.86, 0.0, 1e5, unit='W', doc='P_0')
    induced_w: float = spec(88.63, 0.0, 1e5, unit='W', doc='P_i')
    tip_speed_mps: float = spec(120.0, 0.0, 1e3, unit='m/s', lo_open=True, doc='U_tip')
    mean_rotor_velocity_mps: float = spec(4.03, 0.0, 1e3, unit='m/s', lo_open=True, doc='v_0')
    fuselage_drag_ratio: float = spec(0.6, 0.0, 10.0, doc='d_0')
    air_density_kgpm3: float = spec(1.225, 0.0, 10.0, unit='kg/m^3', doc='rho')
    rotor_solidity: float = spec(0.05, 0.0, 1.0, doc='s (printed g in the paper)')
    rotor_disc_area_m2: float = spec(0.503, 0.0, 100.0, unit='m^2', doc='A')


@dataclass(frozen=True)
class EnergySection:
    w_fly: float = spec(1e-4, 0.0, 1e6, doc='varpi_1 (27)')
    w_uav: float = spec(1e-3, 0.0, 1e6, doc='varpi_2 (27)')
    fly_energy_of_failed: str = spec('down', choices=('down', 'all'),
                                     doc='down: a failed UAV spends no flight energy after its failure slot')


@dataclass(frozen=True)
class FailureSection:
    max_failures: int = spec(1, 0, 1_000, doc='F_max (11)')
    model: str = spec('uniform', choices=('none', 'uniform', 'hazard', 'schedule'),
                      doc='uniform: exactly num_failures UAVs fail, each at a uniform slot; '
                          'hazard: each live UAV fails with hazard_per_slot; schedule: `schedule`')
    num_failures: int = spec(1, 0, 1_000, doc='failures drawn by the uniform model (<= max_failures)')
    hazard_per_slot: float = spec(0.01, 0.0, 1.0, doc='failure probability of a live UAV per slot')
    schedule: Tuple[Tuple[int, int], ...] = spec((), doc='(uav_id, slot) pairs for model=schedule')
    lost_schedule: Tuple[Tuple[int, int], ...] = spec(
        (), doc='(uav_id, slot) pairs for model=schedule: the UAV is lost between slot-1 and slot (a frozen or '
                'cut-off UAV node, noticed by its lease): slot-1 stands as served, down from slot on')


@dataclass(frozen=True)
class RewardSection:
    penalty_collision: float = spec(2.0, 1.0, 1e6, doc='P_dis when (5) is violated (31)')
    penalty_timeout: float = spec(2.0, 1.0, 1e6, doc='P_time when a task misses (28k) (31)')
    penalty_boundary: float = spec(2.0, 1.0, 1e6, doc='P_0 when a UAV leaves the area/altitudes (31)')


@dataclass(frozen=True)
class ModeSection:
    resource_allocation: str = spec('improved', choices=('paper', 'improved'),
                                    doc='paper: CPU shares/f_loc from the action; improved: exact KKT time split')
    tx_time_budget: str = spec('remaining', choices=('remaining', 'slot'),
                               doc='t_tx of (33): time left after compute and migration, or delta (paper)')
    power_solver: str = spec('dinkelbach', choices=('dinkelbach', 'closed_form'),
                             doc='(34)-(35) iterations, or p_hat of (33) directly')
    deadline_tolerance: float = spec(1e-9, 0.0, 1e-3, doc='tau <= delta (1 + tol)')
    motion_action: str = spec('acceleration', choices=('acceleration', 'orbit'),
                              doc='what the action\'s 3 motion entries per UAV mean: acceleration (the paper\'s, '
                                  'x a_max), or orbit (model/guidance.py: where to circle the UAV\'s users at the '
                                  'cruise speed of (2), and at which altitude; flyable by construction)')


@dataclass(frozen=True)
class SafetySection:
    enabled: bool = spec(False, doc='the safety layer below the planner (model/safety.py): area margin, altitude '
                                    'band, (7), d_safe; off: the paper\'s dynamics (the learners\' and the '
                                    'results\'); `uav-mec run` and the launch file turn it on')
    margin_m: float = spec(10.0, 0.0, 1e4, unit='m', doc='distance the layer keeps commands from the area\'s borders')


@dataclass(frozen=True)
class ScenarioConfig:
    scenario: ScenarioSection = field(default_factory=ScenarioSection)
    users: UserSection = field(default_factory=UserSection)
    uavs: UavSection = field(default_factory=UavSection)
    channel: ChannelSection = field(default_factory=ChannelSection)
    compute: ComputeSection = field(default_factory=ComputeSection)
    propulsion: PropulsionSection = field(default_factory=PropulsionSection)
    energy: EnergySection = field(default_factory=EnergySection)
    failures: FailureSection = field(default_factory=FailureSection)
    reward: RewardSection = field(default_factory=RewardSection)
    modes: ModeSection = field(default_factory=ModeSection)
    safety: SafetySection = field(default_factory=SafetySection)

    def replace(self, **dotted: Any) -> 'ScenarioConfig':
        """A validated copy with ``section__key=value`` or {'section.key': value} changes."""
        return from_dict(merge(to_dict(self), {k.replace('__', '.'): v for k, v in dotted.items()}))

    # derived constants live here, once (linear units)
    @property
    def noise_mu_uav_w(self) -> float:
        return dbm_to_w(self.channel.noise_mu_uav_dbm)

    @property
    def noise_uav_uav_w(self) -> float:
        return dbm_to_w(self.channel.noise_uav_uav_dbm)

    @property
    def beta0(self) -> float:
        return db_to_linear(self.channel.beta0_db)

    @property
    def h0(self) -> float:
        return db_to_linear(self.channel.h0_db)


def db_to_linear(db: float) -> float:
    return 10.0 ** (db / 10.0)


def dbm_to_w(dbm: float) -> float:
    return 10.0 ** (dbm / 10.0) / 1000.0


def _describe(name: str, meta: Mapping) -> str:
    if meta.get('choices'):
        return f'one of {list(meta["choices"])}'
    lo, hi = meta.get('lo'), meta.get('hi')
    if lo is None and hi is None:
        return 'see config/scenario.yaml'
    left = '(' if meta.get('lo_open') else '['
    unit = f' {meta["unit"]}' if meta.get('unit') else ''
    return f'in {left}{lo}, {hi}]{unit}'


def _check_value(name: str, f: dataclasses.Field, value: Any) -> Any:
    meta = f.metadata
    typ = f.type
    if typ == 'bool':
        if not isinstance(value, bool):
            raise ConfigError(f'{name}: expected true or false, got {value!r}')
        return value
    if typ == 'int':
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ConfigError(f'{name}: expected an integer {_describe(name, meta)}, got {value!r}')
    elif typ == 'float':
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f'{name}: expected a number {_describe(name, meta)}, got {value!r}')
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f'{name}: must be finite, {_describe(name, meta)}; got {value!r}')
    elif typ == 'str':
        if not isinstance(value, str):
            raise ConfigError(f'{name}: expected a string, {_describe(name, meta)}; got {value!r}')
    elif name.endswith('schedule'):
        return _check_schedule(name, value)
    if meta.get('choices') and value not in meta['choices']:
        raise ConfigError(f'{name}: must be {_describe(name, meta)}, got {value!r}')
    lo, hi = meta.get('lo'), meta.get('hi')
    if lo is not None and (value < lo or (meta.get('lo_open') and value == lo)) or \
            hi is not None and value > hi:
        raise ConfigError(f'{name}: must be {_describe(name, meta)}, got {value!r}')
    return value


def _check_schedule(name: str, value: Any) -> Tuple[Tuple[int, int], ...]:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f'{name}: expected a list of {{uav: int, slot: int}}, got {value!r}')
    out = []
    for n, item in enumerate(value):
        if isinstance(item, Mapping) and set(item) == {'uav', 'slot'}:
            uav, slot = item['uav'], item['slot']
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            uav, slot = item
        else:
            raise ConfigError(f'{name}[{n}]: expected {{uav: int, slot: int}}, got {item!r}')
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (uav, slot)):
            raise ConfigError(f'{name}[{n}]: uav and slot must be integers >= 0, got {item!r}')
        out.append((uav, slot))
    return tuple(out)


def from_dict(data: Optional[Mapping]) -> ScenarioConfig:
    """Build and validate a ScenarioConfig from nested dicts (missing keys take defaults)."""
    data = data or {}
    if not isinstance(data, Mapping):
        raise ConfigError(f'scenario config: expected a mapping of sections, got {type(data).__name__}')
    sections = {f.name: f for f in dataclasses.fields(ScenarioConfig)}
    unknown = set(data) - set(sections)
    if unknown:
        raise ConfigError(f'unknown section(s) {sorted(unknown)}; allowed: {sorted(sections)}')
    built = {}
    for sec_name, sec_field in sections.items():
        cls = sec_field.default_factory
        values = data.get(sec_name) or {}
        if not isinstance(values, Mapping):
            raise ConfigError(f'{sec_name}: expected a mapping, got {values!r}')
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(values) - set(fields)
        if unknown:
            raise ConfigError(f'{sec_name}: unknown key(s) {sorted(unknown)}; allowed: {sorted(fields)}')
        built[sec_name] = cls(**{k: _check_value(f'{sec_name}.{k}', fields[k], v) for k, v in values.items()})
    cfg = ScenarioConfig(**built)
    _check_consistency(cfg)
    return cfg


def _check_consistency(cfg: ScenarioConfig) -> None:
    s, f = cfg.scenario, cfg.failures
    if s.altitude_min_m > s.altitude_max_m:
        raise ConfigError(f'scenario.altitude_min_m: must be <= scenario.altitude_max_m '
                          f'({s.altitude_max_m}), got {s.altitude_min_m}')
    if f.max_failures > s.num_uavs:
        raise ConfigError(f'failures.max_failures: must be in [0, scenario.num_uavs={s.num_uavs}], '
                          f'got {f.max_failures}')
    if f.model == 'uniform' and f.num_failures > f.max_failures:
        raise ConfigError(f'failures.num_failures: must be in [0, failures.max_failures={f.max_failures}], '
                          f'got {f.num_failures}')
    if f.model == 'schedule':
        uavs = [u for u, _ in f.schedule + f.lost_schedule]
        for name in ('schedule', 'lost_schedule'):
            for uav, slot in getattr(f, name):
                if uav >= s.num_uavs or slot >= s.num_slots:
                    raise ConfigError(f'failures.{name}: uav must be in [0, {s.num_uavs - 1}] and slot in '
                                      f'[0, {s.num_slots - 1}], got uav={uav} slot={slot}')
        if len(set(uavs)) != len(uavs):
            raise ConfigError('failures.schedule: each UAV may fail or be lost at most once (permanent failures)')
        if len(uavs) > f.max_failures:
            raise ConfigError(f'failures.schedule: {len(uavs)} failures exceed failures.max_failures='
                              f'{f.max_failures} (11)')
    elif f.lost_schedule:
        raise ConfigError(f'failures.lost_schedule: only with failures.model=schedule, got model={f.model}')
    if 2 * cfg.safety.margin_m >= s.area_m:
        raise ConfigError(f'safety.margin_m: must be below half of scenario.area_m ({s.area_m / 2:g} m), '
                          f'got {cfg.safety.margin_m}')
    spacing = cfg.uavs.d_safe_m * math.ceil(math.sqrt(s.num_uavs))
    if spacing > s.area_m:
        raise ConfigError(f'uavs.d_safe_m: {s.num_uavs} UAVs {cfg.uavs.d_safe_m} m apart do not fit in '
                          f'scenario.area_m={s.area_m}')


def to_dict(cfg: ScenarioConfig) -> Dict[str, Dict[str, Any]]:
    out = {}
    for sec in dataclasses.fields(cfg):
        values = dataclasses.asdict(getattr(cfg, sec.name))
        if sec.name == 'failures':
            for name in ('schedule', 'lost_schedule'):
                values[name] = [{'uav': u, 'slot': t} for u, t in values[name]]
        out[sec.name] = values
    return out


def merge(base: Mapping, dotted: Mapping[str, Any]) -> Dict:
    """Apply {'section.key': value} overrides to a nested dict (copy)."""
    out = {k: dict(v) for k, v in base.items()}
    for key, value in dotted.items():
        if key.count('.') != 1:
            raise ConfigError(f'override {key!r}: expected section.key')
        sec, name = key.split('.')
        out.setdefault(sec, {})[name] = value
    return out


def load_scenario(path: Optional[str | Path] = None, overrides: Optional[Mapping[str, Any]] = None
                  ) -> ScenarioConfig:
    """Load a scenario YAML and apply {'section.key': value} overrides.

    With no path the defaults above are used; config/scenario.yaml spells out the
    same values with comments (a test keeps the two equal).
    """
    if path is None:
        return from_dict(merge({}, overrides or {}))
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f'scenario file not found: {path}') from None
    except yaml.YAMLError as exc:
        raise ConfigError(f'{path}: not valid YAML: {exc}') from None
    if overrides:
        data = merge(data, overrides)
    try:
        return from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f'{path}: {exc}') from None


def render_yaml(cfg: Optional[ScenarioConfig] = None) -> str:
    """The configuration as commented YAML: each key with its meaning, unit and range."""
    cfg = cfg or ScenarioConfig()
    lines = ['# uav_mec_nodes scenario: paper defaults (Meng & Li) and the choices of SPEC.md.',
             '# Regenerate with `uav-mec config > config/scenario.yaml`; every key is validated on load.']
    for sec in dataclasses.fields(cfg):
        section = getattr(cfg, sec.name)
        lines.append('')
        lines.append(f'{sec.name}:')
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if f.name.endswith('schedule'):
                text = yaml.safe_dump([{'uav': u, 'slot': t} for u, t in value], default_flow_style=True).strip()
            else:
                text = yaml.safe_dump(value, default_flow_style=True).strip()
                text = text.removesuffix('\n...').removesuffix('...').strip()
            meta = f.metadata
            note = meta.get('doc', '')
            allowed = _describe(f.name, meta)
            if allowed != 'see config/scenario.yaml':
                note = f'{note}; {allowed}' if note else allowed
            lines.append(f'  {f.name}: {text}  # {note}')
    return '\n'.join(lines) + '\n'
