"""`uav-mec slot` on mangled files: a result in strict JSON, or one UserInputError; nothing else escapes."""
import json

from helpers import REPO_ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uav_mec_nodes.cli.shared import finite_json as _finite_json
from uav_mec_nodes.errors import UserInputError
from uav_mec_nodes.experiments.slot_file import evaluate_slot_file

EXAMPLE = json.loads((REPO_ROOT / 'examples' / 'slot_failure.json').read_text())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


PATHS = [p for p in _paths(EXAMPLE) if p]


def _replace(spec, path, value):
    spec = json.loads(json.dumps(spec))
    target = spec
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return spec


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS), value=json_values)
def test_any_one_field_replaced_by_any_json_value(tmp_path, path, value):
    file = tmp_path / 'slot.json'
    file.write_text(json.dumps(_replace(EXAMPLE, path, value)))
    try:
        result = evaluate_slot_file(file)
    except UserInputError as exc:
        assert len(str(exc).splitlines()) == 1
        return
    json.dumps(_finite_json(result), allow_nan=False)   # strict JSON, or this raises
    assert all(t['state'] in ('completed', 'late', 'dropped') for t in result['tasks'])
