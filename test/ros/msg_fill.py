"""Fill any generated ROS message with distinct, deterministic values.

Used by the cross-process message test: the publisher and the subscriber both
build the expected message from the same seed and compare field for field.
"""
import importlib
import random

import numpy as np

_INT_RANGES = {
    'int8': (-128, 127), 'uint8': (0, 255), 'byte': (0, 255), 'char': (0, 255),
    'int16': (-2**15, 2**15 - 1), 'uint16': (0, 2**16 - 1),
    'int32': (-2**31, 2**31 - 1), 'uint32': (0, 2**32 - 1),
    'int64': (-2**63, 2**63 - 1), 'uint64': (0, 2**64 - 1),
}


def _msg_class(type_name: str):
    pkg, name = type_name.split('/')
    return getattr(importlib.import_module(f'{pkg}.msg'), name)


def _value(type_name: str, rng: random.Random):
    if type_name in _INT_RANGES:
        lo, hi = _INT_RANGES[type_name]
        return rng.randint(lo, hi)
    if type_name in ('float', 'double'):
        return rng.uniform(-1e6, 1e6) if type_name == 'double' else float(np.float32(rng.uniform(-1e3, 1e3)))
    if type_name == 'boolean':
        return rng.random() < 0.5
    if type_name == 'octet':
        return bytes([rng.randint(0, 255)])
    if type_name == 'string':
        return ''.join(rng.choice('abcdefghij_/0123456789') for _ in range(rng.randint(0, 12)))
    return fill(_msg_class(type_name)(), rng)


def fill(msg, rng: random.Random):
    """Set every field of `msg` (recursively) from `rng`; sequences get 0..4 items."""
    for field, type_name in msg.get_fields_and_field_types().items():
        if type_name.startswith('sequence<'):
            inner = type_name[len('sequence<'):-1].split(',')[0]
            setattr(msg, field, [_value(inner, rng) for _ in range(rng.randint(0, 4))])
        elif '[' in type_name:
            inner, size = type_name[:-1].split('[')
            setattr(msg, field, [_value(inner, rng) for _ in range(int(size))])
        else:
            setattr(msg, field, _value(type_name, rng))
    return msg


def as_dict(msg):
    """A plain, comparable view of a message (arrays become lists)."""
    if hasattr(msg, 'get_fields_and_field_types'):
        return {f: as_dict(getattr(msg, f)) for f in msg.get_fields_and_field_types()}
    if isinstance(msg, (list, tuple, np.ndarray)) or type(msg).__name__ == 'array':
        return [as_dict(v) for v in msg]
    if isinstance(msg, np.generic):
        return msg.item()
    return msg


def all_message_types():
    """Every message of uav_mec_nodes.msg, by name."""
    module = importlib.import_module('uav_mec_nodes.msg')
    return sorted(n for n in dir(module)
                  if not n.startswith('_') and hasattr(getattr(module, n), 'get_fields_and_field_types'))


def expected(name: str, seed: int):
    module = importlib.import_module('uav_mec_nodes.msg')
    return fill(getattr(module, name)(), random.Random(f'{name}:{seed}'))
