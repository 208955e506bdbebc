"""DNN profiles against torch: the shipped layer table and torch's own FLOP counter."""
import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from uav_mec_nodes.config import DNN_NAMES
from uav_mec_nodes.model import dnn_networks, dnn_profiles


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
