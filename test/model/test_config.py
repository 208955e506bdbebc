"""Scenario configuration: paper defaults, the shipped YAML, and clear errors."""
from pathlib import Path

import pytest
import yaml

from uav_mec_nodes.config import ScenarioConfig, from_dict, load_scenario, render_yaml
from uav_mec_nodes.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_paper_defaults():
    cfg = load_scenario()
    s = cfg.scenario
    assert (s.num_users, s.num_uavs, s.num_slots, s.slot_s, s.area_m) == (10, 3, 60, 1.0, 500.0)
    assert (s.altitude_min_m, s.altitude_max_m) == (100.0, 200.0)
    assert (cfg.uavs.v_max_mps, cfg.uavs.a_max_mps2, cfg.uavs.d_safe_m, cfg.uavs.cpu_hz) == (20, 5, 5, 10e9)
    assert (cfg.users.cpu_max_hz, cfg.users.tx_power_max_w) == (1e9, 0.5)
    assert (cfg.channel.bandwidth_mu_uav_hz, cfg.channel.bandwidth_uav_uav_hz) == (10e6, 15e6)
    assert (cfg.energy.w_fly, cfg.energy.w_uav, cfg.compute.kappa, cfg.compute.flops_per_cycle) == \
        (1e-4, 1e-3, 1e-28, 8)
    assert cfg.h0 == pytest.approx(1e-3) and cfg.noise_mu_uav_w == pytest.approx(1e-13)


def test_shipped_yaml_equals_defaults():
    shipped = REPO_ROOT / 'config' / 'scenario.yaml'
    assert load_scenario(shipped) == ScenarioConfig()
    assert shipped.read_text() == render_yaml(), 'regenerate with `uav-mec config > config/scenario.yaml`'


@pytest.mark.parametrize('data, field, allowed', [
    ({'channel': {'bandwidth_mu_uav_hz': -1.0}}, 'channel.bandwidth_mu_uav_hz', '(0.0, '),
    ({'scenario': {'num_users': 'ten'}}, 'scenario.num_users', 'integer'),
    ({'scenario': {'num_users': 2.5}}, 'scenario.num_users', 'integer'),
    ({'uavs': {'cpu_hz': True}}, 'uavs.cpu_hz', 'number'),
    ({'failures': {'max_failures': 4}}, 'failures.max_failures', '[0, scenario.num_uavs=3]'),
    ({'scenario': {'altitude_min_m': 300.0}}, 'scenario.altitude_min_m', 'altitude_max_m'),
    ({'scenario': {'num_user': 3}}, 'scenario', "unknown key(s) ['num_user']"),
    ({'sceanrio': {}}, 'unknown section', 'scenario'),
    ({'modes': {'resource_allocation': 'best'}}, 'modes.resource_allocation', "['paper', 'improved']"),
    ({'channel': {'noise_mu_uav_dbm': float('nan')}}, 'channel.noise_mu_uav_dbm', 'finite'),
    ({'failures': {'model': 'schedule', 'schedule': [{'uav': 5, 'slot': 1}]}}, 'failures.schedule', 'uav'),
])
def test_bad_config_names_field_and_range(data, field, allowed):
    with pytest.raises(ConfigError) as err:
        from_dict(data)
    assert field in str(err.value) and allowed in str(err.value)


def test_bad_yaml_file_names_the_file(tmp_path):
    path = tmp_path / 'bad.yaml'
    path.write_text(yaml.safe_dump({'uavs': {'v_max_mps': 0}}))
    with pytest.raises(ConfigError, match=r'bad.yaml: uavs.v_max_mps: must be in \(0.0, 200.0\] m/s'):
        load_scenario(path)


def test_replace_validates():
    cfg = ScenarioConfig().replace(scenario__num_users=20)
    assert cfg.scenario.num_users == 20
    with pytest.raises(ConfigError, match='scenario.num_uavs'):
        ScenarioConfig().replace(scenario__num_uavs=0)
