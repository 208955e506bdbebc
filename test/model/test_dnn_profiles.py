"""DNN profiles against torch: the shipped layer table and torch's own FLOP counter."""
import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from uav_mec_nodes.model import dnn_networks, dnn_profiles
from uav_mec_nodes.model.dnn_profiles import DNN_NAMES


@pytest.mark.parametrize('name', DNN_NAMES)
def test_shipped_layer_table_matches_torch_definitions(name):
    assert dnn_profiles.layer_table()[name] == dnn_profiles.trace_layers(name)


@pytest.mark.parametrize('name', DNN_NAMES)
def test_flops_match_torch_flop_counter(name):
    net = dnn_networks.build(name)
    prof = dnn_profiles.profile(name)
    usual = dnn_profiles.profile(name, fc_flops='usual')
    x = torch.zeros(dnn_networks.input_shape())
    layer = 0
    with torch.no_grad():
        for module in net:
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                counter = FlopCounterMode(display=False)
                with counter:
                    y = module(x)
                torch_flops = counter.get_total_flops()
                if isinstance(module, nn.Conv2d):
                    # torch counts 2 * MACs on the output grid: the 'output' convention exactly
                    assert prof.flops[layer] == torch_flops
                else:
                    # torch counts 2 U_in U_out for an FC layer (bias ignored); the paper's
                    # 2 (U_in - 1) U_out is 2 U_out less, the usual (2 U_in - 1) U_out is U_out less
                    assert prof.flops[layer] == torch_flops - 2 * module.out_features
                    assert usual.flops[layer] == torch_flops - module.out_features
                assert prof.input_bits[layer] == x.numel() * 32
                layer += 1
                x = y
            else:
                x = module(x)
    assert layer == prof.num_layers


def test_layer_blocks_reproduce_the_network():
    torch.manual_seed(0)
    net = dnn_networks.build('alexnet')
    blocks = dnn_networks.layer_blocks(net)
    assert len(blocks) == 8
    x = torch.randn(dnn_networks.input_shape())
    with torch.no_grad():
        full = net(x)
        head = blocks[0](x)
        for block in blocks[1:3]:
            head = block(head)
        assert head.numel() * 32 == dnn_profiles.profile('alexnet').input_bits[3]  # D_phi sent at phi = 4
        tail = head
        for block in blocks[3:]:
            tail = block(tail)
    assert torch.allclose(full, tail)


def test_the_networks_and_the_profiles_list_the_same_dnns_in_dnn_type_order():
    assert list(dnn_networks.NETWORKS) == list(dnn_profiles.layer_table()) == list(DNN_NAMES)


def test_a_dnn_more_is_its_definition_and_its_profile_nothing_else(tmp_path):
    """The package with a fourth DNN in its profiles (here AlexNet's table under a new name, as
    `python -m uav_mec_nodes.model.dnn_profiles` would write it for a fourth entry of NETWORKS): the env,
    the set policy's layout, a baseline and the planner's checks take K = 4 without another change."""
    import json
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    import uav_mec_nodes
    from uav_mec_nodes.env import UavMecEnv
    from uav_mec_nodes.learners.set_layout import SetLayout
    package = Path(uav_mec_nodes.__file__).parent
    copy = tmp_path / 'uav_mec_nodes'
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns('__pycache__', '*.pt'))
    table = json.loads((copy / 'model' / 'dnn_layers.json').read_text())
    table['alexnet-twin'] = table['alexnet']
    (copy / 'model' / 'dnn_layers.json').write_text(json.dumps(table))
    script = '''
import numpy as np
import uav_mec_nodes
from uav_mec_nodes.env import UavMecEnv
from uav_mec_nodes.learners.set_layout import SetLayout
from uav_mec_nodes.model.dnn_profiles import DNN_NAMES
from uav_mec_nodes.policies import make_policy
assert uav_mec_nodes.__file__.startswith(%r), uav_mec_nodes.__file__
env = UavMecEnv(num_users=8)
obs, _ = env.reset(seed=1)
policy = make_policy('greedy')
policy.reset(1)
done = False
while not done:
    _, _, done, _, info = env.step_decisions(*policy.act(env))
print(len(DNN_NAMES), env.num_types, obs.size, SetLayout().obs_dim, sorted(set(env.dnn_type.tolist())))
''' % str(tmp_path)
    out = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, cwd=tmp_path,
                         env={'PYTHONPATH': str(tmp_path), 'PATH': '/usr/bin:/bin'}, timeout=120)
    assert out.returncode == 0, out.stderr
    k, num_types, obs_size, set_obs, types = out.stdout.split(maxsplit=4)
    base = UavMecEnv(num_users=8)
    assert (int(k), int(num_types)) == (4, 4)
    assert int(obs_size) == base.observation_space.shape[0] + 8       # one more one-hot entry per user
    assert int(set_obs) == SetLayout().obs_dim + SetLayout().max_users
    assert types.strip() == '[0, 1, 2, 3]'                              # round robin over the four
