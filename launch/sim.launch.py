"""ros2 launch uav_mec_nodes sim.launch.py [num_uavs:=3] [num_users:=10] [seed:=0] ...

Describes the graph of uav_mec_nodes.graph.layout (the same node list and parameters
the package's own launcher `uav-mec run` uses) and isolates it as that one
does: a run identity of its own, a DDS domain no other uav-mec run on the host
holds (printed; `domain_id:=N` to choose), host-only discovery, and a new bag
folder per launch. Its arguments, with their descriptions, ranges and choices,
are uav_mec_nodes.graph.arguments' (`ros2 launch uav_mec_nodes sim.launch.py
--show-args`), plus params_file (extra ROS 2 parameters applied after the graph's).

How it ends, as `ros2 launch` (launch.LaunchService) runs it:
- the episode is over: once every node that finishes the run (sequencer,
  channel_sim, recorder; with plant px4 also the bridge, once its vehicles have
  landed) has exited with 0, the launch shuts down (the PX4 stand-ins with it)
  and `ros2 launch` exits 0;
- a node stopped by a signal (exit 129, 130, 143: a terminal's Ctrl-C reaches every node
  of the launch before launch itself sees it): the launch shuts down, no error;
- a core node fails (exits non-zero otherwise): the handler raises with the node, its code
  and why, which launch prints ("Caught exception in launch ...") and for which
  `ros2 launch` exits 1, after stopping the rest;
- a bad argument: one line naming it (`num_uavs:=abc: ...`), exit 1.
A UAV node that ends early is a failure of the episode, not of the launch.
Every node dies with the launch process, even a SIGKILLed one (the kernel's
parent-death signal: nodes/_run.py).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, LogInfo, OpaqueFunction, RegisterEventHandler
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from uav_mec_nodes.graph.arguments import RUN_ARGUMENTS
from uav_mec_nodes.graph.isolation import acquire_domain, content_filters_for, new_run_id, ros_environment
from uav_mec_nodes.graph.layout import CORE, GraphConfig, finishers_of, node_specs, resolved_num_uavs

DOMAIN_LEASES = []   # held by this launch process for as long as it runs
LAUNCHED = [a for a in RUN_ARGUMENTS if a.launch]
EXTRA = DeclareLaunchArgument('params_file', default_value='',
                              description='a ROS 2 parameter file applied after the graph\'s parameters')


STOPPED_CODES = (128 + 1, 128 + 2, 128 + 15)   # a node that stopped on SIGHUP, SIGINT or SIGTERM (nodes/_run.py)


class NodeFailed(RuntimeError):
    """A core node exited non-zero: launch prints this and `ros2 launch` exits 1."""


def _graph(context) -> GraphConfig:
    values = {a.name: a.parse(LaunchConfiguration(a.name).perform(context)) for a in LAUNCHED}
    if values['plant'] == 'px4':
        values['real_time_factor'] = 1.0   # PX4 flies in real time
    return GraphConfig(**values)


def _on_exit(name: str, finishing: set, required: bool = True):
    """A core node's exit: a failure ends the launch with an error; the last finisher, the launch.
    A UAV node (required=False, a host of UAV nodes alone) that fails is one UAV down, said and counted done."""
    def handle(event, context):
        if context.is_shutdown:   # stopping (Ctrl-C, another node's failure): an exit is expected
            return None
        if event.returncode in STOPPED_CODES:   # told to stop (a terminal's Ctrl-C reaches every node first)
            return [EmitEvent(event=Shutdown(reason=f'{name} was stopped by a signal'))]
        if event.returncode != 0 and required:
            raise NodeFailed(f'{name} exited with code {event.returncode}: the run cannot go on '
                             '(its own error is in its output above)')
        finishing.discard(name)
        if event.returncode != 0:
            return [LogInfo(msg=f'{name} exited with code {event.returncode}: that UAV is down for the run')] + (
                [] if finishing else [EmitEvent(event=Shutdown(reason='every UAV node of this host ended'))])
        if not finishing:
            return [LogInfo(msg='episode over: every node that finishes the run is done'),
                    EmitEvent(event=Shutdown(reason='episode over'))]
        return None
    return handle


def _nodes(context):
    g = _graph(context)
    num_uavs = resolved_num_uavs(g)
    g.validate(num_uavs, launch=True)   # before a run id is made up: a split graph's part must be given one
    g.run_id = g.run_id or new_run_id()
    g.bag_path = g.bag_path or f'runs/{g.run_id}/bag'   # a new one per launch
    lease = acquire_domain(g.domain_id, g.run_id)
    DOMAIN_LEASES.append(lease)
    env = ros_environment(lease.domain_id, g.discovery)
    g.content_filters = content_filters_for(g.content_filters, g.domain_id is None, lease.exclusive, g.discovery)
    actions = [LogInfo(msg=f'run {g.run_id} on ROS 2 domain {lease.domain_id} (discovery {g.discovery}); '
                           f'bag {g.bag_path}')]
    extra = LaunchConfiguration('params_file').perform(context)
    specs = node_specs(g, num_uavs)
    finishing = set(finishers_of(specs))   # on a host of UAV nodes alone (nodes:=uavs), the UAV nodes
    for spec in specs:
        params = dict(spec.params)
        if spec.module == 'uav':
            params['own_process'] = True
        node = Node(package='uav_mec_nodes', executable=spec.module, name=spec.name, namespace=spec.namespace,
                    output='screen', parameters=[params] + ([extra] if extra else []), additional_env=env)
        actions.append(node)
        if (spec.name in CORE or spec.name in finishing) and not spec.namespace:
            actions.append(RegisterEventHandler(OnProcessExit(target_action=node, on_exit=_on_exit(
                spec.name, finishing, required=spec.name in CORE))))
    return actions


def generate_launch_description():
    return LaunchDescription([DeclareLaunchArgument(a.name, default_value=a.launch_default, description=a.description,
                                                    choices=a.launch_choices) for a in LAUNCHED]
                             + [EXTRA, OpaqueFunction(function=_nodes)])
