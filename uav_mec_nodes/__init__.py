"""uav_mec_nodes: robust DNN partitioning and task offloading in multi-UAV MEC.

The pure-Python core (``config``, ``model``, ``env``, ``policies``, ``learners``)
needs no ROS; ``nodes`` and the generated ``msg`` package need rclpy and the
messages built by CMake (see README).
"""
import sys

__version__ = '0.1.0'

ENV_ID = 'UavMec-v0'
_GYM_REGISTRY = 'gymnasium.envs.registration'


def _register(registration) -> None:
    if ENV_ID not in registration.registry:
        registration.register(id=ENV_ID, entry_point='uav_mec_nodes.env.uav_mec_env:UavMecEnv')


class _RegisterWithGymnasium:
    """An import hook: registers ENV_ID right after Gymnasium's registry module is loaded.

    Importing the package registers the Gymnasium id without importing Gymnasium, which costs
    every process about 50 ms (each node of a run, every CLI command) that most never use.
    """

    def find_spec(self, name, path=None, target=None):
        if name != _GYM_REGISTRY:
            return None
        from importlib.machinery import PathFinder
        sys.meta_path.remove(self)   # once: the module is loaded once
        spec = PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            exec_module = spec.loader.exec_module

            def exec_and_register(module):
                exec_module(module)
                _register(module)
            spec.loader.exec_module = exec_and_register
        return spec


def _register_env() -> None:
    """Register the Gymnasium id 'UavMec-v0' (the env itself loads on make())."""
    if _GYM_REGISTRY in sys.modules:
        _register(sys.modules[_GYM_REGISTRY])
    elif not any(isinstance(f, _RegisterWithGymnasium) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterWithGymnasium())


_register_env()
