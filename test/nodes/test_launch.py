"""sim.launch.py, run against stand-ins of launch/launch_ros (no ros2 launch here): graph.py's nodes, isolated."""
import importlib.util

import pytest
from helpers import REPO_ROOT

from uav_mec_nodes.graph import CORE, GraphConfig, node_specs


@pytest.fixture
def launch_file(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO_ROOT / 'test' / 'nodes' / 'fake_launch'))
    spec = importlib.util.spec_from_file_location('sim_launch', REPO_ROOT / 'launch' / 'sim.launch.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    for lease in module.DOMAIN_LEASES:
        lease.close()


def _launch(module, **args):
    description = module.generate_launch_description()
    values = {e.name: e.default_value for e in description.entities if hasattr(e, 'default_value')}
    values.update(args)
    return description.entities[-1].function(values)


def test_launch_file_starts_the_nodes_of_graph_py(launch_file):
    actions = _launch(launch_file, num_uavs='4', seed='7', failure_mode='kill', missing_uavs='3', policy='greedy',
                      run_id='feedc0de')
    nodes = [a for a in actions if hasattr(a, 'kwargs')]
    expected = node_specs(GraphConfig(num_uavs=4, seed=7, failure_mode='kill', missing_uavs=(3,), policy='greedy',
                                      bag_path='runs/launch/feedc0de/bag', lease_s=0.5, run_id='feedc0de'), 4)
    assert [n.kwargs['name'] for n in nodes] == [s.name for s in expected]
    for node, s in zip(nodes, expected):
        assert node.kwargs['executable'] == s.module and node.kwargs['package'] == 'uav_mec_nodes'
        params = node.kwargs['parameters'][0]
        assert {k: v for k, v in params.items() if k != 'own_process'} == s.params
        assert params['run_id'] == 'feedc0de'


def test_each_launch_is_isolated_with_its_own_run_domain_and_bag(launch_file):
    first, second = _launch(launch_file), _launch(launch_file)
    infos, envs, bags = [], [], []
    for actions in (first, second):
        nodes = [a for a in actions if hasattr(a, 'kwargs')]
        run_ids = {n.kwargs['parameters'][0]['run_id'] for n in nodes}
        assert len(run_ids) == 1 and len(next(iter(run_ids))) == 16
        env = {tuple(sorted(n.kwargs['additional_env'].items())) for n in nodes}
        assert len(env) == 1
        envs.append(dict(next(iter(env))))
        recorder = next(n for n in nodes if n.kwargs['name'] == 'recorder')
        bags.append(recorder.kwargs['parameters'][0]['bag_path'])
        infos.append(actions[0].msg)
    assert envs[0]['ROS_DOMAIN_ID'] != envs[1]['ROS_DOMAIN_ID']   # the first launch still holds its domain
    assert all(e['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST' for e in envs)
    assert bags[0] != bags[1]            # a second launch never collides with the first one's bag
    assert f"domain {envs[0]['ROS_DOMAIN_ID']}" in infos[0]


def test_a_failed_core_node_shuts_the_launch_down(launch_file):
    actions = _launch(launch_file)
    handlers = {h.event_handler.target_action.kwargs['name']: h.event_handler
                for h in actions if hasattr(h, 'event_handler')}
    started = {a.kwargs['name'] for a in actions if hasattr(a, 'kwargs')}
    assert set(handlers) == set(CORE) & started == set(CORE) - {'px4_bridge'}   # a UAV may die: a failure

    class Exited:
        def __init__(self, returncode):
            self.returncode = returncode
    (shutdown,) = handlers['recorder'].on_exit(Exited(1), None)
    assert 'recorder exited with code 1' in shutdown.event.reason
    assert handlers['sequencer'].on_exit(Exited(0), None) is None   # the episode's normal end


def test_the_px4_plant_launches_the_bridge_and_a_stand_in_per_vehicle_in_real_time(launch_file):
    actions = _launch(launch_file, plant='px4')
    nodes = {(a.kwargs['namespace'], a.kwargs['name']): a.kwargs for a in actions if hasattr(a, 'kwargs')}
    assert ('', 'px4_bridge') in nodes and ('', 'world') not in nodes
    assert {ns for ns, name in nodes if name == 'px4_standin'} == {'px4_1', 'px4_2', 'px4_3'}
    assert nodes[('px4_2', 'px4_standin')]['parameters'][0]['sys_id'] == 3   # PX4 instance 2: MAV_SYS_ID 3
    assert nodes[('', 'sequencer')]['parameters'][0]['real_time_factor'] == 1.0   # PX4 flies in real time
    external = _launch(launch_file, plant='px4', px4_external='true')
    assert not [a for a in external if hasattr(a, 'kwargs') and a.kwargs['name'] == 'px4_standin']
