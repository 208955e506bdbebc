"""Each run argument is declared once (graph/arguments.py): the `uav-mec run` flags, the launch arguments, the
node parameters and config/params.yaml all come from it and agree; an explicit flag wins over the YAML."""
import argparse
import importlib.util
import sys

import pytest
import yaml
from helpers import REPO_ROOT

from uav_mec_nodes.graph.arguments import EVERY_NODE, RUN_ARGUMENTS, parameters_of
from uav_mec_nodes.graph.launcher import NODE_CLASSES
from uav_mec_nodes.graph.layout import GraphConfig, graph_scenario

GRAPH_NODES = [m for m in NODE_CLASSES if m != 'px4_standin']


def _run_parser():
    from uav_mec_nodes import cli
    cli.load_subcommands()
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {option: action for action in sub.choices['run']._actions for option in action.option_strings}


def test_the_run_flags_are_the_declared_arguments():
    flags = _run_parser()
    for a in RUN_ARGUMENTS:
        if not a.flag:
            assert all(a.name not in f for f in flags), a.name
            continue
        action = flags[a.flag]
        assert action.default is None and a.help in action.help.replace('%%', '%'), a.name   # not given: the default
        if a.choices:
            assert tuple(action.choices) == a.choices, a.name
        elif a.type is bool and not a.switch:
            assert tuple(action.choices) == ('on', 'off'), a.name


def test_the_launch_arguments_are_the_declared_ones(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO_ROOT / 'test' / 'nodes' / 'fake_launch'))
    for name in [m for m in sys.modules if m == 'launch' or m.startswith(('launch.', 'launch_ros'))]:
        monkeypatch.delitem(sys.modules, name)
    spec = importlib.util.spec_from_file_location('sim_launch', REPO_ROOT / 'launch' / 'sim.launch.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    declared = {e.name: e for e in module.generate_launch_description().entities if hasattr(e, 'default_value')}
    for a in RUN_ARGUMENTS:
        assert (a.name in declared) == a.launch, a.name
        if a.launch:
            d = declared[a.name]
            assert d.default_value == a.launch_default and d.description.startswith(a.description), a.name
            assert d.choices == a.launch_choices, a.name
    assert set(declared) == {a.name for a in RUN_ARGUMENTS if a.launch} | {'params_file'}


@pytest.mark.parametrize('module', GRAPH_NODES)
def test_the_node_parameters_are_the_declared_arguments_each_node_reads(module):
    params = {p.name: p for p in parameters_of(module)}
    for a in RUN_ARGUMENTS:
        if EVERY_NODE in a.nodes or module in a.nodes:
            p = params[a.name]
            assert (p.default, p.description, p.hi, p.choices) == (a.default, a.help, a.hi, a.choices), a.name
            assert p.lo == (None if a.lo is None else min(a.lo, a.unset) if a.unset is not None else a.lo)
        else:
            assert a.name not in params, (module, a.name)


def test_params_yaml_holds_the_defaults_of_the_declared_arguments():
    shipped = yaml.safe_load((REPO_ROOT / 'config' / 'params.yaml').read_text())
    g = GraphConfig()
    for module in GRAPH_NODES:
        values = shipped['uav_0' if module == 'uav' else module]['ros__parameters']
        for a in RUN_ARGUMENTS:
            if EVERY_NODE in a.nodes or module in a.nodes:
                # what the graph gives a node: the declared default, or its resolved value (a lease of 0: 0.5 s)
                assert values[a.name] == (getattr(g, a.name) or 0.5 if a.name == 'lease_s' else a.default), \
                    (module, a.name)


@pytest.mark.parametrize('yaml_says,flag,expected', [(True, False, False), (False, True, True), (False, None, True)])
def test_an_explicit_safety_flag_wins_over_the_yaml(tmp_path, yaml_says, flag, expected):
    path = tmp_path / 'scenario.yaml'
    path.write_text(f'safety:\n  enabled: {str(yaml_says).lower()}\n')
    g = GraphConfig(scenario_file=str(path)) if flag is None else GraphConfig(scenario_file=str(path), safety=flag)
    assert graph_scenario(g).safety.enabled is expected
