"""A learner that is not SAC, added with one registry line, goes through the trainer, policy files,
`select`, `evaluate` and the ROS planner with no other change (learners/agent.py)."""
import numpy as np
import pytest
from helpers import gym_episode

from uav_mec_nodes import cli
from uav_mec_nodes.bags.io import read_bag
from uav_mec_nodes.graph.launcher import run_single_process
from uav_mec_nodes.graph.layout import GraphConfig
from uav_mec_nodes.learners import agent
from uav_mec_nodes.policies import make_policy


@pytest.fixture
def toy_learner(monkeypatch):
    monkeypatch.setitem(agent.AGENTS, 'toy', 'helpers:ToyAgent')   # the one line a new learner needs


def test_a_new_learner_is_one_class_the_rest_takes_unchanged(toy_learner, tmp_path, capsys):
    out = tmp_path / 'toy'
    assert cli.main(['train', '--algo', 'toy', '--steps', '300', '--learning-starts', '60', '--batch-size', '32',
                     '--eval-every', '150', '--eval-episodes', '1', '--out', str(out), '--no-progress']) == 0
    assert 'trained toy for 300 steps' in capsys.readouterr().out
    policy = make_policy(str(out / 'best.pt'))
    assert policy.name == 'toy:best.pt'
    # select ranks it beside a baseline, and evaluate runs it
    assert cli.main(['select', '--policies', str(out / 'best.pt'), 'offload-all', '--episodes', '1',
                     '--no-progress']) == 0
    assert str(out / 'best.pt') in capsys.readouterr().out
    assert cli.main(['evaluate', '--policy', str(out / 'best.pt'), '--episodes', '1', '--no-progress']) == 0
    # the ROS planner (single process: this process's registry) plans with it, as the Gym env does
    result = run_single_process(GraphConfig(policy=str(out / 'best.pt'), num_slots=10, safety=False,
                                            bag_path=str(tmp_path / 'bag')))
    assert not result.stopped, result.stopped
    expected, _ = gym_episode(str(out / 'best.pt'), 0, 10)
    bag = read_bag(tmp_path / 'bag')
    np.testing.assert_allclose([m.e_tot for m in sorted(bag['/slot_metrics'], key=lambda m: m.slot)], expected,
                               rtol=1e-12, atol=0)
    assert {p.policy for p in bag['/plan']} == {'toy:best.pt'}


def test_an_unregistered_learner_is_a_one_line_error(tmp_path, capsys):
    assert cli.main(['train', '--algo', 'nope', '--steps', '10', '--out', str(tmp_path / 'x')]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and "--algo: must be one of ['sac-per', 'sac', 'redq', 'sac-per-ua']" in err
