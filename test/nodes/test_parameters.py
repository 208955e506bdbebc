"""Every node's parameters: all in config/params.yaml, all declared read-only with their range."""

import pytest
import yaml
from helpers import REPO_ROOT
from rclpy.parameter import Parameter

from uav_mec_nodes.graph.arguments import parameters_of
from uav_mec_nodes.graph.launcher import NODE_MODULES, node_class


@pytest.mark.parametrize('module', NODE_MODULES)
def test_declared_parameters_are_the_contracts_read_only_and_in_params_yaml(context, module, tmp_path):
    cls = node_class(module)
    overrides = [Parameter('bag_path', value=str(tmp_path / 'bag'))] if module == 'recorder' else []
    node = cls(context=context, parameter_overrides=overrides)
    try:
        rclpy_own = {'use_sim_time', 'start_type_description_service'}   # declared by every rclpy node
        declared = set(node._parameters) - rclpy_own
        assert declared == {p.name for p in parameters_of(module)}
        shipped = yaml.safe_load((REPO_ROOT / 'config' / 'params.yaml').read_text())
        name = {'uav': 'uav_0', 'px4_standin': '/px4_1/px4_standin'}.get(module, module)
        assert set(shipped[name]['ros__parameters']) == declared   # params.yaml lacks none of them
        for p in parameters_of(module):
            descriptor = node.describe_parameter(p.name)
            assert descriptor.read_only and descriptor.description
            if p.lo is not None:
                ranges = descriptor.integer_range or descriptor.floating_point_range
                assert (ranges[0].from_value, ranges[0].to_value) == (p.lo, p.hi)
        # changing one at run time would change nothing, so it is refused
        first = parameters_of(module)[0]
        result = node.set_parameters([Parameter(first.name, value=first.default)])[0]
        assert not result.successful and 'read-only' in result.reason
    finally:
        if hasattr(node, 'close'):
            node.close()
        node.destroy_node()
