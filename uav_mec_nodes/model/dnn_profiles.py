"""Per-layer workload and transfer size of the DNNs, eqs. (8) and (9).

Layers are the Conv and FC layers of the real architectures (AlexNet 8,
VGG16 16, VGG13 13). Their shapes come from the torch definitions in
dnn_networks.NETWORKS (traced once and shipped as dnn_layers.json, so the model
needs no torch at run time; a test re-traces and compares). The DNN types are
the profiles': dnn_type k is the k-th of DNN_NAMES, the table's order, and K, their
number, sizes the env's observation and the set networks. Adding a DNN is its
definition in NETWORKS and `python -m uav_mec_nodes.model.dnn_profiles` (docs/modelling.md).

FLOPs (8), with the labels of the paper's erratum swapped back (SPEC.md):
  conv, 'output' (default): 2 * H_out * W_out * C_in * ker^2 * C_out
  conv, 'paper_input':      2 * H_in  * W_in  * C_in * ker^2 * C_out
  FC,   'paper' (default):  2 * (U_in - 1) * U_out
  FC,   'usual':            (2 * U_in - 1) * U_out
Input size (9): D_l = H_in * W_in * C_in * sigma (conv), U_in * sigma (FC).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

LAYER_TABLE = Path(__file__).with_name('dnn_layers.json')


@dataclass(frozen=True)
class DnnProfile:
    """Workload of one network, layer by layer (index 0 = layer 1 of the paper)."""
    name: str
    kinds: Tuple[str, ...]          # 'conv' or 'fc'
    flops: np.ndarray               # B_l [FLOPs]
    input_bits: np.ndarray          # D_l [bit]

    @property
    def num_layers(self) -> int:
        return len(self.kinds)

    def local_flops(self, partition_layer):
        """FLOPs of layers 1..phi-1 (run on the user), vectorised over phi."""
        return self.cum_flops[np.asarray(partition_layer) - 1]

    @property
    def cum_flops(self) -> np.ndarray:
        """cum_flops[m] = sum of B_1..B_m (m layers), m = 0..L."""
        return np.concatenate([[0.0], np.cumsum(self.flops)])


def trace_layers(name: str) -> List[Dict]:
    """Shapes of every Conv/FC layer of `name`, by running the torch model on a meta tensor."""
    import torch
    from torch import nn

    from uav_mec_nodes.model import dnn_networks
    net = dnn_networks.build(name)
    rows: List[Dict] = []
    x = torch.empty(dnn_networks.input_shape(), device='meta')
    net = net.to('meta')
    with torch.no_grad():
        for module in net:
            y = module(x)
            if isinstance(module, nn.Conv2d):
                rows.append(dict(kind='conv', h_in=x.shape[2], w_in=x.shape[3], c_in=module.in_channels,
                                 c_out=module.out_channels, ker=module.kernel_size[0],
                                 h_out=y.shape[2], w_out=y.shape[3]))
            elif isinstance(module, nn.Linear):
                rows.append(dict(kind='fc', u_in=module.in_features, u_out=module.out_features))
            x = y
    return rows


@lru_cache(maxsize=None)
def layer_table() -> Dict[str, List[Dict]]:
    return json.loads(LAYER_TABLE.read_text())


DNN_NAMES: Tuple[str, ...] = tuple(layer_table())   # index = dnn_type k: the profiles, in the table's order


def layer_flops(row: Dict, conv_flops: str = 'output', fc_flops: str = 'paper') -> float:
    if row['kind'] == 'conv':
        h, w = (row['h_out'], row['w_out']) if conv_flops == 'output' else (row['h_in'], row['w_in'])
        return 2.0 * h * w * row['c_in'] * row['ker'] ** 2 * row['c_out']
    if fc_flops == 'paper':
        return 2.0 * (row['u_in'] - 1) * row['u_out']
    return (2.0 * row['u_in'] - 1) * row['u_out']


def layer_input_bits(row: Dict, bits_per_value: int = 32) -> float:
    if row['kind'] == 'conv':
        return float(row['h_in'] * row['w_in'] * row['c_in'] * bits_per_value)
    return float(row['u_in'] * bits_per_value)


@lru_cache(maxsize=None)
def profile(name: str, conv_flops: str = 'output', fc_flops: str = 'paper',
            bits_per_value: int = 32) -> DnnProfile:
    rows = layer_table()[name]
    return DnnProfile(
        name=name, kinds=tuple(r['kind'] for r in rows),
        flops=np.array([layer_flops(r, conv_flops, fc_flops) for r in rows]),
        input_bits=np.array([layer_input_bits(r, bits_per_value) for r in rows]))


def profiles_for(compute_cfg) -> Tuple[DnnProfile, ...]:
    """The profiles indexed by dnn_type (DNN_NAMES order) under a ComputeSection."""
    return tuple(profile(n, compute_cfg.conv_flops, compute_cfg.fc_flops, compute_cfg.bits_per_value)
                 for n in DNN_NAMES)


@dataclass(frozen=True)
class ProfileArrays:
    """All profiles padded to L_max for vectorised lookups by (dnn_type, layer)."""
    num_layers: np.ndarray      # (K,)
    cum_flops: np.ndarray       # (K, L_max + 1): FLOPs of the first m layers
    input_bits: np.ndarray      # (K, L_max + 1): D_phi at index phi (1-based), 0 elsewhere

    @property
    def num_types(self) -> int:
        """K, the DNN types: as many as the profiles (DNN_NAMES)."""
        return len(self.num_layers)

    @classmethod
    def build(cls, profiles) -> 'ProfileArrays':
        lmax = max(p.num_layers for p in profiles)
        cum = np.zeros((len(profiles), lmax + 1))
        bits = np.zeros((len(profiles), lmax + 1))
        for k, p in enumerate(profiles):
            cum[k, :p.num_layers + 1] = p.cum_flops
            cum[k, p.num_layers + 1:] = p.cum_flops[-1]
            bits[k, 1:p.num_layers + 1] = p.input_bits
        return cls(np.array([p.num_layers for p in profiles]), cum, bits)


def write_layer_table(path: Path = LAYER_TABLE) -> None:
    """Regenerate dnn_layers.json from the torch definitions (needs torch)."""
    from uav_mec_nodes.model.dnn_networks import NETWORKS
    path.write_text(json.dumps({n: trace_layers(n) for n in NETWORKS}, indent=1) + '\n')


if __name__ == '__main__':
    write_layer_table()
    print(f'wrote {LAYER_TABLE}')
