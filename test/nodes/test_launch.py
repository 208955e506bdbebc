"""sim.launch.py under a stand-in of ros2 launch that runs it as launch 3.x does (test/nodes/fake_launch).

The real launch, launch_ros and ros2cli are not installable here; README says which of these
behaviours were also checked by hand against the real ones.
"""
import importlib.util
import os
import signal
import subprocess
import sys
import time

import pytest
from helpers import REPO_ROOT

from uav_mec_nodes.graph.arguments import RUN_ARGUMENTS
from uav_mec_nodes.graph.layout import CORE, GraphConfig, node_specs

FAKE = REPO_ROOT / 'test' / 'nodes' / 'fake_launch'


@pytest.fixture
def launch_file(monkeypatch):
    monkeypatch.syspath_prepend(str(FAKE))
    for name in [m for m in sys.modules if m == 'launch' or m.startswith(('launch.', 'launch_ros'))]:
        monkeypatch.delitem(sys.modules, name)
    spec = importlib.util.spec_from_file_location('sim_launch', REPO_ROOT / 'launch' / 'sim.launch.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    for lease in module.DOMAIN_LEASES:
        lease.close()


def _launch(module, **args):
    from launch import LaunchContext
    description = module.generate_launch_description()
    values = {e.name: e.default_value for e in description.entities if hasattr(e, 'default_value')}
    values.update(args)
    return description.entities[-1].function(LaunchContext(values))


def ros2_launch(*args, timeout=240, **popen):
    """`ros2 launch uav_mec_nodes sim.launch.py ARGS` on the stand-in, as a process of its own."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(FAKE), os.environ.get('PYTHONPATH')) if p),
               AMENT_PREFIX_PATH=sys.prefix)   # as sourcing a ROS install's setup script would
    cmd = [sys.executable, str(FAKE / 'ros2launch.py'), 'uav_mec_nodes', 'sim.launch.py', *args]
    cwd = popen.pop('cwd', None) or FAKE   # outside the source tree: nodes import the installed package
    if popen:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd,
                                **popen)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd)


def _children_of(launcher_pid: int):
    """The node processes this launch started (its direct children)."""
    try:
        return [int(p) for p in open(f'/proc/{launcher_pid}/task/{launcher_pid}/children').read().split()]
    except OSError:
        return []


def _alive(pids):
    """Those of these processes still running (not gone, not zombies)."""
    running = []
    for pid in pids:
        try:
            state = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[0]
        except OSError:
            continue
        if state != 'Z':
            running.append(pid)
    return running


def test_launch_file_starts_the_nodes_of_graph_py(launch_file):
    actions = _launch(launch_file, num_uavs='4', seed='7', failure_mode='kill', missing_uavs='3', policy='greedy',
                      run_id='feedc0de')
    nodes = [a for a in actions if hasattr(a, 'kwargs')]
    expected = node_specs(GraphConfig(num_uavs=4, seed=7, failure_mode='kill', missing_uavs=(3,), policy='greedy',
                                      bag_path='runs/feedc0de/bag', run_id='feedc0de'), 4)
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
    assert all(e['FASTDDS_DEFAULT_PROFILES_FILE'].endswith('fastdds_localhost.xml') for e in envs)
    assert bags[0] != bags[1]            # a second launch never collides with the first one's bag
    assert f"domain {envs[0]['ROS_DOMAIN_ID']}" in infos[0]
    # content filters: on by default; auto as `uav-mec run` decides it: off on a domain picked for the launch
    assert {n.kwargs['parameters'][0]['content_filters'] for n in first if hasattr(n, 'kwargs')} == {'on'}
    for actions, filters in ((_launch(launch_file, content_filters='auto'), 'off'),
                             (_launch(launch_file, content_filters='auto', domain_id=envs[0]['ROS_DOMAIN_ID']), 'on')):
        assert {n.kwargs['parameters'][0]['content_filters'] for n in actions if hasattr(n, 'kwargs')} == {filters}


def test_every_argument_has_its_description_range_and_choices_from_the_declaration():
    out = ros2_launch('--show-args')
    assert out.returncode == 0, out.stderr
    assert 'no description given' not in out.stdout
    for arg in RUN_ARGUMENTS:
        # arguments the launch file does not take (launch=False) are CLI-only
        assert (f"'{arg.name}':" in out.stdout) == arg.launch, arg.name
    by_name = {arg.name: arg for arg in RUN_ARGUMENTS}
    assert f"{by_name['num_users'].help}; in [1, 65535]" in out.stdout   # the range of a value given; 0 unset
    mode = by_name['failure_mode']
    assert f"{mode.help}. Valid choices are: {list(mode.choices)}" in out.stdout
    assert f"{by_name['safety'].help}. Valid choices are: ['true', 'false']" in out.stdout


@pytest.mark.parametrize('args,line', [
    (['num_uavs:=abc'], 'num_uavs:=abc: expected an integer in [1, 1000]'),
    (['num_uavs:=5000'], 'num_uavs:=5000: expected an integer in [1, 1000]'),
    (['lease_s:=-1'], 'lease_s:=-1: expected a number in [0.05, 60]'),
    (['plant:=gazebo'], 'Argument "plant" provided value "gazebo" is not valid. Valid options are: '
                        "['kinematic', 'px4']"),
    (['safety:=yes'], 'Argument "safety" provided value "yes" is not valid'),
    (['failure_mode:=px4_motor'], 'failure_mode:=px4_motor: only with plant:=px4 (a failure through PX4)'),
    (['missing_uavs:=one'], 'missing_uavs:=one: expected UAV ids separated by commas'),
    (['domain_id:=x'], 'domain_id:=x: must be auto or an integer in [0, 232]'),
    (['plant:=px4', 'px4_homes:=1,2'], 'px4_homes:=1,2: expected 3 points'),
])
def test_a_bad_argument_is_one_line_naming_the_launch_argument_and_a_non_zero_exit(args, line):
    out = ros2_launch(*args, timeout=60)
    assert out.returncode == 1
    errors = [ln for ln in out.stderr.splitlines() if 'ERROR' in ln]
    assert len(errors) == 1 and line in errors[0], out.stderr
    assert 'Traceback' not in out.stderr + out.stdout


@pytest.mark.slow
def test_a_failed_core_node_gives_a_non_zero_exit_and_says_why(tmp_path):
    out = ros2_launch('policy:=/nonexistent.pt', f'bag_path:={tmp_path / "bag"}', 'real_time_factor:=0')
    assert out.returncode == 1, out.stdout + out.stderr
    assert 'Caught exception in launch (see debug for traceback): planner exited with code 2' in out.stderr
    assert 'error: ' in out.stdout + out.stderr and 'nonexistent.pt' in out.stdout + out.stderr


@pytest.mark.slow
def test_the_kinematic_launch_ends_by_itself_when_the_episode_does(tmp_path):
    out = ros2_launch('num_slots:=5', f'bag_path:={tmp_path / "bag"}', 'policy:=greedy')
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert 'episode over: every node that finishes the run is done' in out.stdout
    assert (tmp_path / 'bag' / 'metadata.yaml').exists()


def _near_homes(num_uavs=3, below_m=3.0, seed=0):
    """Homes a few metres under each start point: a short climb and landing for a test."""
    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.env import UavMecEnv
    env = UavMecEnv(load_scenario(None, {'scenario.num_uavs': num_uavs}))
    env.reset(seed=seed)
    return ';'.join(','.join(f'{v:.3f}' for v in (x, y, z - below_m)) for x, y, z in env.uav_pos)


@pytest.mark.slow
def test_the_px4_launch_ends_by_itself_with_its_stand_ins_landed(tmp_path):
    proc = ros2_launch('plant:=px4', 'num_uavs:=2', 'num_users:=4', 'num_slots:=4', 'policy:=greedy',
                       f'px4_homes:={_near_homes(2)}', f'bag_path:={tmp_path / "bag"}', start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, out[-4000:]
    assert out.count('landed and disarmed') == 2 and 'episode over' in out
    assert 'process has died' not in out              # the stand-ins too end with 0 when the launch stops them


@pytest.mark.slow
def test_every_node_dies_with_a_killed_launch_and_a_terminal_ctrl_c_ends_them_with_130(tmp_path):
    killed = ros2_launch('plant:=px4', 'num_uavs:=2', 'num_users:=4', f'bag_path:={tmp_path / "a"}',
                         'policy:=greedy', start_new_session=True)
    deadline = time.monotonic() + 60
    while len(_children_of(killed.pid)) < 10 and time.monotonic() < deadline:   # 8 graph nodes + 2 stand-ins
        time.sleep(0.5)
    nodes = _children_of(killed.pid)
    assert len(nodes) == 10
    time.sleep(3.0)                                   # past their imports
    killed.kill()
    killed.wait()
    deadline = time.monotonic() + 20
    while _alive(nodes) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(nodes)                          # none outlives a SIGKILLed launch
    # a terminal's Ctrl-C reaches the whole foreground group: launch and every node
    proc = ros2_launch('num_slots:=2000', 'real_time_factor:=1', f'bag_path:={tmp_path / "b"}', 'policy:=greedy',
                       start_new_session=True)
    deadline = time.monotonic() + 60
    while len(_children_of(proc.pid)) < 9 and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(3.0)
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    codes = [ln for ln in out.splitlines() if 'process has died' in ln]
    assert len(codes) == 9 and all('exit code 130' in ln for ln in codes), out[-3000:]
    assert 'Traceback' not in out and 'KeyboardInterrupt' not in out and 'Caught exception' not in out


def test_a_failed_core_node_handler_raises_and_the_episode_end_shuts_down(launch_file):
    from launch import LaunchContext
    from launch.events import Shutdown
    actions = _launch(launch_file)
    handlers = {h.event_handler.target_action.kwargs['name']: h.event_handler
                for h in actions if hasattr(h, 'event_handler')}
    started = {a.kwargs['name'] for a in actions if hasattr(a, 'kwargs')}
    assert set(handlers) == set(CORE) & started == set(CORE) - {'px4_bridge'}   # a UAV may die: a failure

    class Exited:
        def __init__(self, returncode):
            self.returncode = returncode
    context = LaunchContext({})
    with pytest.raises(launch_file.NodeFailed, match='recorder exited with code 1'):
        handlers['recorder'].on_exit(Exited(1), context)
    assert handlers['planner'].on_exit(Exited(0), context) is None      # not one that finishes the run
    assert handlers['sequencer'].on_exit(Exited(0), context) is None
    assert handlers['channel_sim'].on_exit(Exited(0), context) is None
    assert handlers['world'].on_exit(Exited(0), context) is None        # the plant finishes the run too
    log, shutdown = handlers['recorder'].on_exit(Exited(0), context)      # the last one: the launch ends
    assert isinstance(shutdown.event, Shutdown)
    (stopped,) = handlers['planner'].on_exit(Exited(130), context)       # a Ctrl-C reached it: stop, no error
    assert isinstance(stopped.event, Shutdown)
    context.is_shutdown = True
    assert handlers['planner'].on_exit(Exited(1), context) is None       # stopping: exits are expected


def test_the_px4_plant_launches_the_bridge_and_a_stand_in_per_vehicle_in_real_time(launch_file):
    actions = _launch(launch_file, plant='px4')
    nodes = {(a.kwargs['namespace'], a.kwargs['name']): a.kwargs for a in actions if hasattr(a, 'kwargs')}
    assert ('', 'px4_bridge') in nodes and ('', 'world') not in nodes
    assert {ns for ns, name in nodes if name == 'px4_standin'} == {'px4_1', 'px4_2', 'px4_3'}
    assert nodes[('px4_2', 'px4_standin')]['parameters'][0]['mav_sys_id'] == 3   # PX4 instance 2: MAV_SYS_ID 3
    assert nodes[('', 'sequencer')]['parameters'][0]['real_time_factor'] == 1.0   # PX4 flies in real time
    external = _launch(launch_file, plant='px4', px4_external='true')
    assert not [a for a in external if hasattr(a, 'kwargs') and a.kwargs['name'] == 'px4_standin']
