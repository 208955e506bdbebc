"""ros2 launch uav_mec_nodes sim.launch.py [num_uavs:=3] [num_users:=10] [seed:=0] ...

Describes the graph of uav_mec_nodes.graph (the same node list and parameters
the package's own launcher `uav-mec run` uses) and isolates it as that one
does: a run identity of its own, a DDS domain no other uav-mec run on the host
holds (printed; `domain_id:=N` to choose), host-only discovery, and a new bag
folder per launch. The launch ends when the episode does (every node exits by
itself), or at once when a core node fails.
Arguments: num_users, num_uavs, num_slots, max_failures, seed, scenario_file,
failure_mode (announce|silence|kill), failure_schedule ("uav:slot,..."),
policy (baseline name or policy file; empty: shipped SAC-PER), record
(true|false), bag_path (empty: runs/launch/<run id>/bag), storage
(sqlite3|mcap), real_time_factor, lease_s, missing_uavs ("2,3": UAV nodes not
started), run_id (empty: a new one), domain_id (auto|0-232), discovery
(localhost|subnet), safety (true|false: the safety layer below the planner),
plant (kinematic|px4: the PX4 bridge, in real time), px4_external (true: fly PX4
vehicles already running; false: start a PX4 stand-in per UAV), px4_homes ("x,y,z;...":
each vehicle's home in the world frame; empty: under its start position), params_file
(extra ROS 2 parameters applied after the graph's).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, LogInfo, OpaqueFunction, RegisterEventHandler
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from uav_mec_nodes.graph import CORE, GraphConfig, node_specs, parse_missing, resolved_num_uavs
from uav_mec_nodes.isolation import acquire_domain, new_run_id, parse_domain, ros_environment

ARGUMENTS = {
    'num_users': '0', 'num_uavs': '0', 'num_slots': '0', 'max_failures': '-1', 'seed': '0',
    'scenario_file': '', 'failure_mode': 'announce', 'failure_schedule': '', 'policy': '',
    'record': 'true', 'bag_path': '', 'storage': 'sqlite3', 'real_time_factor': '0.0',
    'lease_s': '0.5', 'missing_uavs': '', 'run_id': '', 'domain_id': 'auto', 'discovery': 'localhost',
    'safety': 'true', 'plant': 'kinematic', 'px4_external': 'false', 'px4_homes': '', 'params_file': '',
}
DOMAIN_LEASES = []   # held by this launch process for as long as it runs


def _graph(context) -> GraphConfig:
    arg = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
    run_id = arg['run_id'] or new_run_id()
    return GraphConfig(
        num_users=int(arg['num_users']), num_uavs=int(arg['num_uavs']), num_slots=int(arg['num_slots']),
        max_failures=int(arg['max_failures']), seed=int(arg['seed']), scenario_file=arg['scenario_file'],
        failure_mode=arg['failure_mode'], failure_schedule=arg['failure_schedule'], policy=arg['policy'],
        record=arg['record'].lower() == 'true', bag_path=arg['bag_path'] or f'runs/launch/{run_id}/bag',
        storage=arg['storage'], lease_s=float(arg['lease_s']),
        missing_uavs=parse_missing(arg['missing_uavs']), run_id=run_id, domain_id=parse_domain(arg['domain_id']),
        discovery=arg['discovery'], safety=arg['safety'].lower() == 'true', plant=arg['plant'],
        px4_external=arg['px4_external'].lower() == 'true', px4_homes=arg['px4_homes'],
        real_time_factor=1.0 if arg['plant'] == 'px4' else float(arg['real_time_factor']))


def _shutdown_if_failed(name: str):
    def handle(event, context):
        if event.returncode != 0:
            return [EmitEvent(event=Shutdown(reason=f'{name} exited with code {event.returncode}'))]
        return None
    return handle


def _nodes(context):
    g = _graph(context)
    num_uavs = resolved_num_uavs(g)
    g.validate(num_uavs)
    lease = acquire_domain(g.domain_id, g.run_id)
    DOMAIN_LEASES.append(lease)
    env = ros_environment(lease.domain_id, g.discovery)
    actions = [LogInfo(msg=f'run {g.run_id} on ROS 2 domain {lease.domain_id} (discovery {g.discovery}); '
                           f'bag {g.bag_path}')]
    extra = LaunchConfiguration('params_file').perform(context)
    for spec in node_specs(g, num_uavs):
        params = dict(spec.params)
        if spec.module == 'uav':
            params['own_process'] = True
        node = Node(package='uav_mec_nodes', executable=spec.module, name=spec.name, namespace=spec.namespace,
                    output='screen', parameters=[params] + ([extra] if extra else []), additional_env=env)
        actions.append(node)
        if spec.module in CORE:
            actions.append(RegisterEventHandler(OnProcessExit(target_action=node,
                                                              on_exit=_shutdown_if_failed(spec.name))))
    return actions


def generate_launch_description():
    return LaunchDescription([DeclareLaunchArgument(name, default_value=value) for name, value in ARGUMENTS.items()]
                             + [OpaqueFunction(function=_nodes)])
