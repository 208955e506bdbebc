"""`ros2 launch PACKAGE FILE [name:=value ...] [--show-args]` over the launch stand-in (ros2launch/api/api.py:
the file from the package's share/<package>/launch folder, arguments as name:=value)."""
import importlib.util
import sys
from pathlib import Path

from launch import LaunchService


def main(argv) -> int:
    from ament_index_python.packages import get_package_share_directory
    package, name, rest = argv[0], argv[1], argv[2:]
    path = Path(get_package_share_directory(package)) / 'launch' / name
    spec = importlib.util.spec_from_file_location('launch_file', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    if '--show-args' in rest:
        from launch.actions import DeclareLaunchArgument
        print('Arguments (pass arguments as \'<name>:=<value>\'):\n')
        for arg in (e for e in description.entities if isinstance(e, DeclareLaunchArgument)):
            print(f"    '{arg.name}':\n        {arg.description}\n        (default: '{arg.default_value}')\n")
        return 0
    arguments = dict(a.split(':=', 1) for a in rest if ':=' in a)
    return LaunchService(arguments, noninteractive='--noninteractive' in rest).run(description)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
