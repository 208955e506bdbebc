"""Jobs on the model alone: `config`, `profiles`, `slot`."""
from __future__ import annotations

import json

from uav_mec_nodes.cli.registry import subcommand
from uav_mec_nodes.cli.shared import finite_json


@subcommand('config', 'print the scenario configuration as commented YAML (defaults, or --config)',
                      arguments=lambda p: p.add_argument('--config', help='scenario YAML to validate and print'))
def config_cmd(args) -> int:
    from uav_mec_nodes.config import load_scenario, render_yaml
    print(render_yaml(load_scenario(args.config)), end='')
    return 0


def _profiles_args(parser):
    parser.add_argument('--conv-flops', choices=('output', 'paper_input'), default='output',
                        help='conv FLOPs from the output size (default, SPEC) or the paper input-size form')
    parser.add_argument('--fc-flops', choices=('paper', 'usual'), default='paper',
                        help='FC FLOPs 2(U_in-1)U_out (paper, default) or (2U_in-1)U_out')
    parser.add_argument('--json', action='store_true', help='print JSON')


@subcommand('profiles', 'print the per-layer FLOPs (8) and input sizes (9) of AlexNet, VGG16, VGG13',
                        arguments=_profiles_args)
def profiles_cmd(args) -> int:
    from uav_mec_nodes.model.dnn_profiles import DNN_NAMES
    from uav_mec_nodes.model import dnn_profiles
    table = dnn_profiles.layer_table()
    rows = []
    for name in DNN_NAMES:
        prof = dnn_profiles.profile(name, args.conv_flops, args.fc_flops)
        for layer, row in enumerate(table[name]):
            shape = (f"{row['h_in']}x{row['w_in']}x{row['c_in']} -> {row['h_out']}x{row['w_out']}x{row['c_out']}"
                     f" k{row['ker']}") if row['kind'] == 'conv' else f"{row['u_in']} -> {row['u_out']}"
            rows.append(dict(dnn=name, layer=layer + 1, kind=row['kind'], shape=shape,
                             flops=prof.flops[layer], input_bits=prof.input_bits[layer]))
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'dnn':8} {'layer':>5} {'kind':4} {'shape':34} {'GFLOPs':>9} {'D_l [Mbit]':>11}")
    for r in rows:
        print(f"{r['dnn']:8} {r['layer']:>5} {r['kind']:4} {r['shape']:34} {r['flops'] / 1e9:9.4f} "
              f"{r['input_bits'] / 1e6:11.4f}")
    return 0


@subcommand('slot', 'evaluate one slot from a JSON file; prints each task and the totals as JSON',
                    arguments=lambda p: p.add_argument('file', help='slot description (format: README)'))
def slot_cmd(args) -> int:
    from uav_mec_nodes.experiments.slot_file import evaluate_slot_file
    print(json.dumps(finite_json(evaluate_slot_file(args.file)), indent=1, allow_nan=False))
    return 0
