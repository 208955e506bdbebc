"""The safety layer: any command in, a safe command out (property tests); off, the paper's dynamics."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uav_mec_nodes.config import load_scenario
from uav_mec_nodes.env import UavMecEnv
from uav_mec_nodes.experiments.episode import run_episode
from uav_mec_nodes.model import safety
from uav_mec_nodes.model.mobility import step_uavs
from uav_mec_nodes.policies import make_policy
from uav_mec_nodes.policies.baselines import OffloadAll

CFG = load_scenario().replace(safety__enabled=True, scenario__num_uavs=4)
S, U = CFG.scenario, CFG.uavs
LO = np.array([CFG.safety.margin_m, CFG.safety.margin_m, S.altitude_min_m])
HI = np.array([S.area_m - CFG.safety.margin_m, S.area_m - CFG.safety.margin_m, S.altitude_max_m])

finite = st.floats(-1e4, 1e4, allow_nan=False)
vectors = st.lists(st.tuples(finite, finite, finite), min_size=4, max_size=4).map(np.array)
positions = st.lists(st.tuples(st.floats(0, S.area_m), st.floats(0, S.area_m),
                               st.floats(S.altitude_min_m, S.altitude_max_m)), min_size=4, max_size=4).map(np.array)
# the model never has a UAV faster than v_max (7)
velocities = st.lists(st.tuples(st.floats(-14, 14), st.floats(-14, 14), st.floats(-5, 5)),
                      min_size=4, max_size=4).map(lambda v: np.clip(np.array(v), -11.5, 11.5))


BRAKE = U.a_max_mps2 / np.sqrt(3.0)   # the layer's braking envelope: a_max shared by the three axes


def _unstoppable(q, v, tol=1e-6):
    """(N, 3) per axis, towards the upper and the lower bound: braking at BRAKE cannot stop it before the bound."""
    up = np.maximum(v, 0) ** 2 > 2 * BRAKE * np.maximum(HI - q, 0) + tol
    down = np.maximum(-v, 0) ** 2 > 2 * BRAKE * np.maximum(q - LO, 0) + tol
    return up, down


def _viable(q, v, tol=1e-6):
    """Inside the box, and able to stop inside it braking at BRAKE on every axis at once."""
    up, down = _unstoppable(q, v, tol)
    return np.all((q >= LO - tol) & (q <= HI + tol), axis=-1) & ~np.any(up | down, axis=-1)


def _assert_kept_inside(q, v, accel, nxt, live):
    """At any speed up to v_max: a live UAV that can stop inside the box still can after the slot (so it
    never leaves it), and on an axis where it cannot stop before a bound it never accelerates towards it."""
    v_next = v + accel * S.slot_s
    assert np.all((~_viable(q, v) | _viable(nxt, v_next))[live])
    up, down = _unstoppable(q, v)
    assert not np.any(((up & (accel > 1e-9)) | (down & (accel < -1e-9)))[live])


@settings(max_examples=400, deadline=None)
@given(q=positions, v=velocities, a=vectors, live=st.lists(st.booleans(), min_size=4, max_size=4).map(np.array))
def test_any_command_in_a_safe_command_out(q, v, a, live):
    out = safety.safe_accelerations(q, v, a, live, CFG)
    delta = S.slot_s
    assert np.all(np.isfinite(out.accel))
    assert np.all(np.linalg.norm(out.accel, axis=1) <= U.a_max_mps2 * (1 + 1e-9))
    assert np.all(np.linalg.norm(v + out.accel * delta, axis=1)[live] <= U.v_max_mps * (1 + 1e-9))
    nxt = safety.next_position(q, v, out.accel, delta)
    _assert_kept_inside(q, v, out.accel, nxt, live)
    # an unchanged command is reported as such, and a changed one says so
    same = np.all(np.isclose(out.accel, np.asarray(a, float)), axis=1)
    assert np.all((out.interventions == 0) <= same | ~live)
    # two live UAVs closing in below d_safe: the later one was held
    for j in np.flatnonzero(live):
        for k in np.flatnonzero(live[:j]):
            gap, gap_next = np.linalg.norm(q[j] - q[k]), np.linalg.norm(nxt[j] - nxt[k])
            if gap_next < U.d_safe_m and gap_next < gap - 1e-9:
                assert out.interventions[j] & safety.SEPARATION or out.interventions[k] & safety.SEPARATION


def test_the_layer_keeps_fast_uavs_inside_at_every_speed_it_draws():
    """Many states at 0 to v_max (20 m/s), seeded: thousands of them able to stop inside at more than
    2.5 m/s, every one kept so; among them one whose box corrections alone exceeded a_max (braking down at
    1.7 m above the floor while the area held its northward acceleration): the braking is kept."""
    rng = np.random.default_rng(7)
    n = 4 * 5000
    q = np.column_stack([rng.uniform(-20, S.area_m + 20, (n, 2)), rng.uniform(S.altitude_min_m - 20,
                                                                                S.altitude_max_m + 20, n)])
    d = rng.normal(size=(n, 3))
    v = d / np.linalg.norm(d, axis=1, keepdims=True) * rng.uniform(0, U.v_max_mps, (n, 1))
    a = rng.normal(size=(n, 3)) * rng.choice([1.0, 10.0, 1000.0], size=(n, 1))
    accel = np.concatenate([safety.safe_accelerations(q[k:k + 4], v[k:k + 4], a[k:k + 4], np.ones(4, bool),
                                                      CFG).accel for k in range(0, n, 4)])
    fast = np.linalg.norm(v, axis=1) > 2.5
    assert np.count_nonzero(_viable(q, v) & fast) > 4000
    _assert_kept_inside(q, v, accel, safety.next_position(q, v, accel, S.slot_s), np.ones(n, bool))
    q1 = np.array([[230.06647251268848, 415.6764373765051, 101.72921676816902]])
    v1 = np.array([[-5.140592218854144, 13.505126623435796, -2.7335895990751085]])
    a1 = np.array([[122.04938824816156, 1318.1085754248788, 128.420722777045]])
    out = safety.safe_accelerations(q1, v1, a1, np.ones(1, bool), CFG)
    assert _viable(q1, v1).all() and out.interventions[0] & safety.ALTITUDE
    _assert_kept_inside(q1, v1, out.accel, safety.next_position(q1, v1, out.accel, S.slot_s), np.ones(1, bool))


def test_hovering_uavs_are_never_touched_even_at_the_border():
    q = np.array([[1.0, 1.0, 150.0], [499.0, 250.0, 100.0], [250.0, 499.5, 200.0], [100.0, 100.0, 150.0]])
    out = safety.safe_accelerations(q, np.zeros((4, 3)), np.zeros((4, 3)), np.ones(4, bool), CFG)
    assert not out.interventions.any() and not out.accel.any()


def test_a_uav_flying_into_another_is_held():
    q = np.array([[200.0, 200.0, 150.0], [210.0, 200.0, 150.0], [400, 400, 150], [50, 50, 150]])
    a = np.zeros((4, 3))
    a[1, 0] = -5.0                      # UAV 1 towards UAV 0: 10 m -> 7.5 m, d_safe 5 m: still fine
    out = safety.safe_accelerations(q, np.array([[0, 0, 0], [-8.0, 0, 0], [0, 0, 0], [0, 0, 0]]), a,
                                    np.ones(4, bool), CFG)
    assert out.interventions[1] & safety.SEPARATION   # 10 m - 8 m - 2.5 m = -0.5 m: held
    assert out.interventions[0] == 0


class _ToTheCorner(OffloadAll):
    """Offload-all decisions; every UAV accelerating flat out towards the area's far corner and upwards."""
    def act(self, env):
        decisions, _ = super().act(env)
        return decisions, np.tile([env.cfg.uavs.a_max_mps2] * 3, (env.num_uavs, 1))


def test_the_env_with_the_layer_off_is_the_papers_and_on_keeps_a_policy_off_the_border():
    off = run_episode(UavMecEnv(), _ToTheCorner(), 0)
    assert off.summary()['safety_interventions'] == 0
    assert any(s['out_of_bounds'] for s in off.slots)        # the paper's dynamics let it leave the area
    env = UavMecEnv(load_scenario().replace(safety__enabled=True))
    on = run_episode(env, _ToTheCorner(), 0)
    assert on.summary()['safety_interventions'] > 0
    assert not any(s['out_of_bounds'] for s in on.slots)
    margin, area = env.cfg.safety.margin_m, env.cfg.scenario.area_m
    start = on.uav_positions[0][:, :2]
    outside = np.maximum(margin - start, 0) + np.maximum(start - (area - margin), 0)
    for q in on.uav_positions[1:]:   # never further into the margin than it started
        now = np.maximum(margin - q[:, :2], 0) + np.maximum(q[:, :2] - (area - margin), 0)
        assert np.all(now <= outside + 1e-6)
    # hovering baselines never meet the layer: the same numbers with it on
    for name in ('offload-all', 'greedy'):
        a = run_episode(UavMecEnv(), make_policy(name), 3).summary()
        b = run_episode(UavMecEnv(load_scenario().replace(safety__enabled=True)), make_policy(name), 3).summary()
        assert b['safety_interventions'] == 0 and a['e_tot'] == pytest.approx(b['e_tot'], rel=1e-12)


def test_step_uavs_after_the_layer_changes_nothing_more():
    rng = np.random.default_rng(0)
    for _ in range(50):
        q = np.column_stack([rng.uniform(20, 480, 4), rng.uniform(20, 480, 4), rng.uniform(110, 190, 4)])
        v, a = np.clip(rng.normal(0, 8, (4, 3)), -11, 11), rng.normal(0, 8, (4, 3))
        out = safety.safe_accelerations(q, v, a, np.ones(4, bool), CFG)
        step = step_uavs(q, v, out.accel, np.ones(4, bool), CFG)
        np.testing.assert_allclose(step.acceleration, out.accel, atol=1e-9)
