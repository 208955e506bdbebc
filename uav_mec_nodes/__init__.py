"""uav_mec_nodes: robust DNN partitioning and task offloading in multi-UAV MEC.

The pure-Python core (``config``, ``model``, ``env``, ``policies``, ``learners``)
needs no ROS; ``nodes`` and the generated ``msg`` package need rclpy and the
messages built by CMake (see README).
"""

__version__ = '0.1.0'


def _register_env() -> None:
    """Register the Gymnasium id 'UavMec-v0' (import stays light: the env loads on make())."""
    try:
        from gymnasium.envs.registration import register, registry
    except ImportError:  # the core works without gymnasium installed
        return
    if 'UavMec-v0' not in registry:
        register(id='UavMec-v0', entry_point='uav_mec_nodes.env.uav_mec_env:UavMecEnv')


_register_env()
