"""launch_ros/actions/node.py: the executable from the package's lib/ folder (ament index), its dict parameters
written to a parameter file under the node's full name, then --ros-args -r __node:= -r __ns:= --params-file."""
import tempfile
from pathlib import Path

import yaml


class Node:
    def __init__(self, *, package, executable, name=None, namespace='', output='log', parameters=(),
                 additional_env=None, **kwargs):
        self.kwargs = dict(package=package, executable=executable, name=name, namespace=namespace, output=output,
                           parameters=list(parameters), additional_env=additional_env, **kwargs)

    def execute(self, service):
        from ament_index_python.packages import get_package_prefix
        k = self.kwargs
        exe = Path(get_package_prefix(k['package'])) / 'lib' / k['package'] / k['executable']
        ns = '/' + k['namespace'].strip('/') if k['namespace'] else ''
        cmd = [str(exe), '--ros-args', '-r', f'__node:={k["name"]}']
        if ns:
            cmd += ['-r', f'__ns:={ns}']
        for params in k['parameters']:
            if isinstance(params, dict):
                f = tempfile.NamedTemporaryFile('w', prefix='launch_params_', suffix='.yaml', delete=False)
                yaml.safe_dump({f'{ns}/{k["name"]}': {'ros__parameters': params}}, f)
                f.close()
                params = f.name
            cmd += ['--params-file', str(params)]
        service.start(self, cmd, k['additional_env'])
