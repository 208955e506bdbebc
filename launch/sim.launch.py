"""ros2 launch uav_mec_nodes sim.launch.py [num_uavs:=3] [num_users:=10] [seed:=0] ...

Describes the graph of uav_mec_nodes.graph (the same node list and parameters
the package's own launcher `uav-mec run` uses); no logic of its own.
Arguments: num_users, num_uavs, num_slots, max_failures, seed, scenario_file,
failure_mode (announce|silence|kill), failure_schedule ("uav:slot,..."),
policy (baseline name or policy file; empty: shipped SAC-PER), record
(true|false), bag_path, storage (sqlite3|mcap), real_time_factor, lease_s,
missing_uavs ("2,3": UAV nodes not started), params_file (extra ROS 2
parameters applied after the graph's).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from uav_mec_nodes.graph import GraphConfig, node_specs, parse_missing, resolved_num_uavs

ARGUMENTS = {
    'num_users': '0', 'num_uavs': '0', 'num_slots': '0', 'max_failures': '-1', 'seed': '0',
    'scenario_file': '', 'failure_mode': 'announce', 'failure_schedule': '', 'policy': '',
    'record': 'true', 'bag_path': 'runs/launch/bag', 'storage': 'sqlite3', 'real_time_factor': '0.0',
    'lease_s': '0.5', 'missing_uavs': '', 'params_file': '',
}


def _graph(context) -> GraphConfig:
    arg = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
    return GraphConfig(
        num_users=int(arg['num_users']), num_uavs=int(arg['num_uavs']), num_slots=int(arg['num_slots']),
        max_failures=int(arg['max_failures']), seed=int(arg['seed']), scenario_file=arg['scenario_file'],
        failure_mode=arg['failure_mode'], failure_schedule=arg['failure_schedule'], policy=arg['policy'],
        record=arg['record'].lower() == 'true', bag_path=arg['bag_path'], storage=arg['storage'],
        real_time_factor=float(arg['real_time_factor']), lease_s=float(arg['lease_s']),
        missing_uavs=parse_missing(arg['missing_uavs']))


def _nodes(context):
    g = _graph(context)
    num_uavs = resolved_num_uavs(g)
    g.validate(num_uavs)
    extra = LaunchConfiguration('params_file').perform(context)
    actions = []
    for spec in node_specs(g, num_uavs):
        params = dict(spec.params)
        if spec.module == 'uav':
            params['own_process'] = True
        actions.append(Node(package='uav_mec_nodes', executable=spec.module, name=spec.name, output='screen',
                            parameters=[params] + ([extra] if extra else [])))
    return actions


def generate_launch_description():
    return LaunchDescription([DeclareLaunchArgument(name, default_value=value) for name, value in ARGUMENTS.items()]
                             + [OpaqueFunction(function=_nodes)])
