"""`uav-mec slot FILE.json`: evaluate one slot described in a JSON file.

Format (README shows an example):
  config     optional {"section.key": value} overrides of the default scenario
  users      [{"position": [x, y], "dnn": "alexnet" | "vgg16" | "vgg13"}, ...]   positions [m]
  uavs       [{"position": [x, y, z], "velocity": [vx, vy, vz], "alive_start": bool,
               "alive_end": bool}, ...]                                         [m], [m/s]
  fading     optional I x J small-scale fading powers (default 1: the LoS value)
  decisions  one per user: {"partition_layer": int, "serving_uav": int,
               "migration_target": int (-1: none), "cpu_share": float,
               "local_cpu_fraction": float, "tx_power_w": float | "optimal"}
             cpu_share and local_cpu_fraction are used in paper mode only.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict

import numpy as np

from uav_mec_nodes.config import load_scenario
from uav_mec_nodes.model.dnn_profiles import DNN_NAMES
from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.model import channel, propulsion
from uav_mec_nodes.model.dnn_profiles import ProfileArrays, profiles_for
from uav_mec_nodes.model.slot import DROP_REASONS, STATE_NAMES, SlotDecisions, SlotState, evaluate_slot


def _array(obj: Dict, key: str, where: str, shape=None) -> np.ndarray:
    if key not in obj:
        raise UserInputError(f'{where}.{key}: missing')
    try:
        value = np.asarray(obj[key], dtype=float)
    except (TypeError, ValueError):
        raise UserInputError(f'{where}.{key}: expected numbers, got {obj[key]!r}') from None
    if shape is not None and value.shape != shape:
        raise UserInputError(f'{where}.{key}: expected shape {shape}, got {value.shape}')
    if not np.all(np.isfinite(value)):
        raise UserInputError(f'{where}.{key}: NaN or inf')
    return value


def evaluate_slot_file(path: str | Path) -> Dict[str, Any]:
    try:
        spec = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserInputError(f'{path}: no such file') from None
    except json.JSONDecodeError as exc:
        raise UserInputError(f'{path}: not valid JSON: {exc}') from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserInputError(f'{path}: cannot be read ({exc})') from None
    if not isinstance(spec, dict):
        raise UserInputError(f'{path}: expected a JSON object with users, uavs and decisions, '
                             f'got {type(spec).__name__}')
    for key in ('users', 'uavs', 'decisions'):
        if not isinstance(spec.get(key), list) or not spec[key]:
            raise UserInputError(f'{key}: expected a non-empty list')
        for n, item in enumerate(spec[key]):
            if not isinstance(item, dict):
                raise UserInputError(f'{key}[{n}]: expected an object, got {item!r}')
    users, uavs, decisions = spec['users'], spec['uavs'], spec['decisions']
    n_users, n_uavs = len(users), len(uavs)
    if not isinstance(spec.get('config') or {}, dict):
        raise UserInputError(f'config: expected an object of "section.key": value, got {spec["config"]!r}')
    overrides = dict(spec.get('config') or {})
    overrides.update({'scenario.num_users': n_users, 'scenario.num_uavs': n_uavs})
    overrides.setdefault('failures.max_failures', min(n_uavs, 1))
    cfg = load_scenario(None, overrides)
    if len(decisions) != n_users:
        raise UserInputError(f'decisions: expected one per user ({n_users}), got {len(decisions)}')
    dnn = []
    for i, u in enumerate(users):
        if u.get('dnn') not in DNN_NAMES:
            raise UserInputError(f'users[{i}].dnn: must be one of {list(DNN_NAMES)}, got {u.get("dnn")!r}')
        dnn.append(DNN_NAMES.index(u['dnn']))
    user_pos = np.array([np.append(_array(u, 'position', f'users[{i}]', (2,)), 0.0) for i, u in enumerate(users)])
    uav_pos = np.array([_array(u, 'position', f'uavs[{j}]', (3,)) for j, u in enumerate(uavs)])
    uav_vel = np.array([_array(u, 'velocity', f'uavs[{j}]', (3,)) for j, u in enumerate(uavs)])
    alive = {}
    for flag in ('alive_start', 'alive_end'):
        values = [u.get(flag, True) for u in uavs]
        for j, v in enumerate(values):
            if not isinstance(v, bool):
                raise UserInputError(f'uavs[{j}].{flag}: expected true or false, got {v!r}')
        alive[flag] = np.array(values)
    if np.any(alive['alive_end'] & ~alive['alive_start']):
        raise UserInputError('uavs[].alive_end: a UAV down at the slot start cannot be alive at its end (10)')
    area = cfg.scenario.area_m
    for i, w in enumerate(user_pos):
        if not (0.0 <= w[0] <= area and 0.0 <= w[1] <= area):
            raise UserInputError(f'users[{i}].position: must be inside the area, [0, {area:g}] m each, '
                                 f'got {w[:2].tolist()}')
    for j, v in enumerate(uav_vel):
        speed = float(np.linalg.norm(v))
        if speed > cfg.uavs.v_max_mps * (1 + 1e-9):
            raise UserInputError(f'uavs[{j}].velocity: speed must be in [0, v_max={cfg.uavs.v_max_mps:g}] m/s (7), '
                                 f'got {speed:g}')
    fading = _array(spec, 'fading', 'fading', (n_users, n_uavs)) if 'fading' in spec else np.ones((n_users, n_uavs))
    if np.any(fading < 0):
        raise UserInputError(f'fading: small-scale fading powers must be >= 0, got {float(fading.min()):g}')
    fields = {}
    for key, default in (('partition_layer', None), ('serving_uav', None), ('migration_target', -1),
                         ('cpu_share', 1.0), ('local_cpu_fraction', 1.0), ('tx_power_w', 'optimal')):
        column = []
        for i, d in enumerate(decisions):
            value = d.get(key, default)
            if value is None:
                raise UserInputError(f'decisions[{i}].{key}: missing')
            if key == 'tx_power_w' and value == 'optimal':
                value = float('nan')
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise UserInputError(f'decisions[{i}].{key}: expected a number, got {value!r}')
            if key != 'tx_power_w' and not (math.isfinite(value) and abs(value) < 2 ** 31):
                raise UserInputError(f'decisions[{i}].{key}: expected a finite number, got {value!r}')
            if key in ('partition_layer', 'serving_uav', 'migration_target') and value != int(value):
                raise UserInputError(f'decisions[{i}].{key}: expected an integer, got {value!r}')
            column.append(value)
        fields[key] = np.array(column, dtype=float)
    for i, j in enumerate(fields['serving_uav'].astype(np.int64)):
        if 0 <= j < n_uavs and not alive['alive_start'][j]:
            raise UserInputError(f'decisions[{i}].serving_uav: UAV {j} is down at the slot\'s start '
                                 f'(alive_start false), so it cannot serve (28h)')
    decided = SlotDecisions(fields['partition_layer'].astype(np.int64), fields['serving_uav'].astype(np.int64),
                            fields['migration_target'].astype(np.int64), fields['cpu_share'],
                            fields['local_cpu_fraction'], fields['tx_power_w'])
    gain = channel.mu_uav_gain(user_pos, uav_pos, cfg, fading)
    state = SlotState(np.array(dnn), gain, channel.uav_uav_rate_bps(uav_pos, cfg), alive['alive_start'],
                      alive['alive_end'])
    fly = propulsion.slot_flight_energy_j(uav_vel, alive['alive_start'], cfg)
    result = evaluate_slot(cfg, ProfileArrays.build(profiles_for(cfg.compute)), decided, state, fly)
    tasks = []
    for i in range(n_users):
        tasks.append(dict(
            user=i, dnn=DNN_NAMES[dnn[i]], partition_layer=int(decided.partition_layer[i]),
            serving_uav=int(decided.serving_uav[i]), computing_uav=int(result.computing_uav[i]),
            migrated=bool(result.migrated[i]), state=STATE_NAMES[result.state[i]],
            drop_reason=DROP_REASONS[result.drop_reason[i]],
            local_time_s=result.local_time_s[i], tx_time_s=result.tx_time_s[i],
            migration_time_s=result.migration_time_s[i], uav_time_s=result.uav_time_s[i],
            latency_s=result.latency_s[i], local_energy_j=result.local_energy_j[i],
            tx_energy_j=result.tx_energy_j[i], migration_energy_j=result.migration_energy_j[i],
            uav_energy_j=result.uav_energy_j[i], tx_power_w=result.tx_power_w[i],
            local_cpu_hz=result.local_cpu_hz[i], uav_cpu_hz=result.uav_cpu_hz[i]))
    tasks = [{k: (float(v) if isinstance(v, (np.floating, float)) else v) for k, v in t.items()} for t in tasks]
    return dict(mode=cfg.modes.resource_allocation, tasks=tasks,
                uav_flight_energy_j=[float(x) for x in fly],
                uav_load_hz=[float(x) for x in result.uav_load_hz], totals=result.totals())
