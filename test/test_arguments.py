"""Each run argument is declared once (graph/arguments.py): the `uav-mec run` flags, the launch arguments, the
node parameters and config/params.yaml all come from it and agree; an explicit flag wins over the YAML."""
import argparse
import importlib.util
import sys

import pytest
import yaml
from helpers import REPO_ROOT

from uav_mec_nodes.graph.arguments import EVERY_NODE, RUN_ARGUMENTS, parameters_of
from uav_mec_nodes.graph.launcher import NODE_MODULES
from uav_mec_nodes.graph.layout import GraphConfig, graph_scenario

GRAPH_NODES = [m for m in NODE_MODULES if m != 'px4_standin']


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


def test_a_plant_is_its_node_module_and_its_name_in_plants():
    """Adding a plant: nodes/<module>.py (class by the naming rule) and one entry in contract.PLANTS. The run
    flag's choices, the launch's, the finishing nodes and the owners of /world/uav_states follow."""
    from uav_mec_nodes.graph.contract import PLANTS, TOPIC_WORLD_UAVS, graph_topics
    from uav_mec_nodes.graph.launcher import node_class
    from uav_mec_nodes.graph.layout import FINISHERS
    plant = next(a for a in RUN_ARGUMENTS if a.name == 'plant')
    assert tuple(plant.choices) == tuple(PLANTS)
    owners = graph_topics(10, 3)[TOPIC_WORLD_UAVS].publishers
    for module in PLANTS.values():
        assert module in NODE_MODULES and module in FINISHERS and module in owners
        assert node_class(module).__module__ == f'uav_mec_nodes.nodes.{module}'


def test_the_train_flags_are_the_learner_config_fields():
    """`uav-mec train`'s hyper-parameter options come from LearnerConfig's fields: each sets its field (--lr all
    three rates), and one not given leaves the algorithm's own default (redq: 10 critics, 2 updates a step)."""
    from dataclasses import fields

    from uav_mec_nodes import cli
    from uav_mec_nodes.cli.learn import _learner_overrides
    from uav_mec_nodes.learners.config import LearnerConfig
    cli.load_subcommands()
    parser = cli.build_parser()
    flagged = {f.metadata['flag']: f.name for f in fields(LearnerConfig) if 'flag' in f.metadata}
    train = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices['train']
    options = {o: a.dest for a in train._actions for o in a.option_strings}
    assert all(options[flag] == name for flag, name in flagged.items()) and len(flagged) >= 15
    base = ['train', '--steps', '1', '--out', 'x']
    args = parser.parse_args(base + ['--critics', '7', '--lr', '0.001', '--hidden', '8', '8', '--network', 'set'])
    cfg = LearnerConfig.for_algo(args.algo, **_learner_overrides(args))
    assert (cfg.num_critics, cfg.hidden, cfg.network) == (7, (8, 8), 'set')
    assert cfg.actor_lr == cfg.critic_lr == cfg.alpha_lr == 0.001
    redq = LearnerConfig.for_algo('redq', **_learner_overrides(parser.parse_args(base)))
    assert (redq.num_critics, redq.updates_per_step, redq.hidden) == (10, 2, (256, 256))
