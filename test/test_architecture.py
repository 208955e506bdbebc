"""The house: rooms that show the architecture, imports one way between them and no circle anywhere.

Every import of the package counts, also those inside functions (a lazy import is still an arrow).
The rooms, lowest first; a module may import its own room and the rooms below it, never one above:
"""
import ast
from pathlib import Path

from helpers import REPO_ROOT

PACKAGE = REPO_ROOT / 'uav_mec_nodes'
LAYERS = (
    ('errors', 'config', 'graph.contract', 'msg'),   # read by all: the scenario, the graph's contract, messages
    ('model',),                                      # numpy: the equations, the world of one slot
    ('env',),                                        # the Gymnasium env over the model
    ('learners', 'policies'),                        # who decides (policy files link the two)
    ('px4',),                                        # PX4 frames, the stand-in vehicle, the bridge's logic
    ('graph',),                                      # arguments, node list, isolation, the slot planner
    ('bags',),                                       # writing, reading, reports, replay
    ('nodes',),                                      # rclpy glue
    ('graph.launcher',),                             # starts nodes
    ('experiments',),                                # episodes, evaluation, plans, sweeps, figures
    ('cli',),                                        # `uav-mec`
)


def _modules():
    """{dotted module name: path} of every module of the package (the generated msg/ aside)."""
    found = {}
    for path in PACKAGE.rglob('*.py'):
        rel = path.relative_to(PACKAGE.parent).with_suffix('')
        parts = list(rel.parts)
        if 'msg' in parts[1:2]:
            continue
        if parts[-1] == '__init__':
            parts = parts[:-1]
        found['.'.join(parts)] = path
    return found


def _imports(path: Path, modules) -> set:
    """The package's modules this file imports, anywhere in it."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f'{node.module}.{a.name}' for a in node.names] + [node.module]
            # `from pkg import mod` is an arrow to pkg.mod; `from pkg.mod import name` to pkg.mod
            names = [n for n in names if n in modules][:1] or [node.module]
        else:
            continue
        for name in names:
            if name.startswith('uav_mec_nodes') and (name in modules or name.startswith('uav_mec_nodes.msg')):
                out.add(name)
    return out


def _layer(module: str) -> int:
    rel = module[len('uav_mec_nodes.'):] if module != 'uav_mec_nodes' else ''
    best, level = -1, 0
    for k, room in enumerate(LAYERS):
        for prefix in room:
            if (rel == prefix or rel.startswith(prefix + '.')) and len(prefix) > best:
                best, level = len(prefix), k
    return level


def _graph():
    modules = _modules()
    return {m: _imports(p, modules) - {m} for m, p in modules.items()}


def test_imports_go_down_the_rooms_never_up():
    up = [(m, d) for m, deps in _graph().items() for d in deps if _layer(d) > _layer(m)]
    assert not up, 'imports up the rooms (module -> what it imports):\n' + '\n'.join(f'{m} -> {d}' for m, d in up)


def test_no_import_circle():
    graph = _graph()
    state, stack, circles = {}, [], []

    def visit(m):
        state[m] = 'open'
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 'open':
                circles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 'done'
    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not circles, 'import circles:\n' + '\n'.join(' -> '.join(c) for c in circles)


def test_the_rules_can_fail():
    """The checks see a made-up arrow up and a made-up circle (a test that cannot fail proves nothing)."""
    assert _layer('uav_mec_nodes.model.slot') < _layer('uav_mec_nodes.nodes.planner') < _layer(
        'uav_mec_nodes.graph.launcher')
    assert _layer('uav_mec_nodes.graph.contract') == 0 and _layer('uav_mec_nodes.graph.layout') == 5
    modules = _modules()
    assert 'uav_mec_nodes.graph.contract' in _imports(PACKAGE / 'px4' / 'bridge.py', modules)


def test_the_package_root_stays_nearly_empty():
    root = sorted(p.name for p in PACKAGE.glob('*.py'))
    assert len(root) <= 4, root


def test_no_node_module_outgrows_a_thin_glue():
    """A node is a small class that wires topics and hands its logic to plain objects."""
    sizes = {p.name: len(p.read_text().splitlines()) for p in (PACKAGE / 'nodes').glob('*.py')
             if not p.name.startswith('_')}
    assert all(n <= 150 for n in sizes.values()), {k: v for k, v in sizes.items() if v > 150}
