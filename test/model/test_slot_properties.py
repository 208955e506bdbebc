"""Property tests of one slot and of whole episodes over random scenarios."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uav_mec_nodes.config import ScenarioConfig
from uav_mec_nodes.env import UavMecEnv
from uav_mec_nodes.errors import ActionError
from uav_mec_nodes.model import channel
from uav_mec_nodes.model.dnn_profiles import ProfileArrays, profiles_for
from uav_mec_nodes.model.slot import COMPLETED, DROPPED, LATE, SlotDecisions, SlotState, evaluate_slot

CFG = ScenarioConfig()
ARRAYS = ProfileArrays.build(profiles_for(CFG.compute))


@st.composite
def slots(draw):
    i = draw(st.integers(1, 12))
    j = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    dnn = rng.integers(0, 3, i)
    users = np.column_stack([rng.uniform(0, 500, (i, 2)), np.zeros(i)])
    uavs = np.column_stack([rng.uniform(0, 500, (j, 2)), rng.uniform(100, 200, j)])
    gain = channel.mu_uav_gain(users, uavs, CFG, channel.rician_power(10.0, rng, (i, j)))
    alive_start = rng.random(j) < 0.85
    alive_end = alive_start & (rng.random(j) < 0.7)
    phi = 1 + (rng.random(i) * ARRAYS.num_layers[dnn]).astype(int)
    serving = rng.integers(0, j, i)
    target = rng.integers(-1, j, i)
    share = rng.uniform(0.05, 1.0, i)
    frac = rng.uniform(0.05, 1.0, i)
    state = SlotState(dnn, gain, channel.uav_uav_rate_bps(uavs, CFG), alive_start, alive_end)
    return SlotDecisions(phi, serving, target, share, frac), state


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(slots(), st.sampled_from(['paper', 'improved']))
def test_slot_invariants(slot, mode):
    decisions, state = slot
    cfg = CFG.replace(modes__resource_allocation=mode)
    r = evaluate_slot(cfg, ARRAYS, decisions, state)
    for part in (r.local_energy_j, r.tx_energy_j, r.uav_energy_j, r.migration_energy_j):
        assert np.all(part >= 0) and np.all(np.isfinite(part))
    assert r.e_tot >= 0
    # exactly one terminal state per task
    assert np.all(np.isin(r.state, [COMPLETED, LATE, DROPPED]))
    assert sum(r.counts.values()) == len(decisions.partition_layer)
    # no UAV computes more than its capacity (28i); nothing computes on a dead UAV
    assert np.all(r.uav_load_hz <= cfg.uavs.cpu_hz * (1 + 1e-9))
    computing = r.computing_uav[r.state != DROPPED]
    assert np.all(state.alive_start[computing])
    assert np.all(state.alive_end[r.computing_uav[r.migrated]])
    # tasks served by a UAV down at the slot start are dropped, not computed
    assert np.all(r.state[~state.alive_start[decisions.serving_uav]] == DROPPED)
    # completed tasks meet the deadline
    assert np.all(r.latency_s[r.state == COMPLETED] <= cfg.scenario.slot_s * (1 + 1e-9))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(slots())
def test_improved_never_worse_than_paper(slot):
    decisions, state = slot
    paper = evaluate_slot(CFG.replace(modes__resource_allocation='paper'), ARRAYS, decisions, state)
    improved = evaluate_slot(CFG.replace(modes__resource_allocation='improved'), ARRAYS, decisions, state)
    if paper.counts['late'] == 0:
        assert improved.counts['late'] == 0
        assert improved.e_tot <= paper.e_tot * (1 + 1e-6) + 1e-15


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.integers(1, 6), st.integers(2, 5), st.integers(0, 5))
def test_episode_failures_and_association(seed, users, uavs, max_failures):
    max_failures = min(max_failures, uavs)
    cfg = ScenarioConfig().replace(**{'scenario.num_slots': 12, 'scenario.num_uavs': uavs,
                                      'scenario.num_users': users, 'failures.model': 'hazard',
                                      'failures.hazard_per_slot': 0.3, 'failures.max_failures': max_failures})
    env = UavMecEnv(cfg)
    env.action_space.seed(seed)
    env.reset(seed=seed)
    prev_alive = np.ones(uavs, bool)
    done = False
    while not done:
        alive_start = env.alive_start.copy()
        decisions, _ = env.decode_action(env.action_space.sample())
        assert np.all(alive_start[decisions.serving_uav]) or not alive_start.any()
        _, _, done, _, info = env.step(env.action_space.sample())
        assert np.all(info['alive'] <= prev_alive), 'a failed UAV revived'
        prev_alive = info['alive']
        assert (~info['alive']).sum() <= max_failures
        assert len(info['task_state']) == users


def test_nan_and_out_of_range_decisions_are_rejected():
    state = SlotState(np.array([0]), np.full((1, 2), 1e-7), np.zeros((2, 2)), np.ones(2, bool), np.ones(2, bool))
    base = dict(partition_layer=np.array([1]), serving_uav=np.array([0]), migration_target=np.array([-1]))
    with pytest.raises(ActionError, match=r'partition_layer\[0\]: must be in \[1, 8\]'):
        evaluate_slot(CFG, ARRAYS, SlotDecisions(**{**base, 'partition_layer': np.array([9])}), state)
    with pytest.raises(ActionError, match='serving_uav'):
        evaluate_slot(CFG, ARRAYS, SlotDecisions(**{**base, 'serving_uav': np.array([2])}), state)
    with pytest.raises(ActionError, match='tx_power_w'):
        evaluate_slot(CFG, ARRAYS, SlotDecisions(**base, tx_power_w=np.array([0.9])), state)
    with pytest.raises(ActionError, match='cpu_share: NaN'):
        evaluate_slot(CFG, ARRAYS, SlotDecisions(**base, cpu_share=np.array([np.nan])), state)


def test_a_state_whose_sizes_disagree_is_refused_before_the_compiled_steps_read_it():
    """The compiled per-task steps index the state without numpy's checks: a gain matrix for fewer UAVs than
    the slot has (or a UAV-UAV matrix of another size) is refused by name, and the kernels themselves check
    their indices (an IndexError, never a read past an array)."""
    from uav_mec_nodes.model import slot_kernels
    rng = np.random.default_rng(0)
    users = np.column_stack([rng.uniform(0, 500, (4, 2)), np.zeros(4)])
    uavs = np.column_stack([rng.uniform(0, 500, (3, 2)), np.full(3, 150.0)])
    gain = channel.mu_uav_gain(users, uavs, CFG, np.ones((4, 3)))
    rate = channel.uav_uav_rate_bps(uavs, CFG)
    alive = np.ones(3, bool)
    decisions = SlotDecisions(np.ones(4, np.int64), np.array([0, 1, 2, 2]), np.full(4, -1))
    evaluate_slot(CFG, ARRAYS, decisions, SlotState(np.zeros(4, np.int64), gain, rate, alive, alive))   # agrees
    for state, field in ((SlotState(np.zeros(4, np.int64), gain[:, :2], rate, alive, alive), 'mu_uav_gain'),
                         (SlotState(np.zeros(4, np.int64), gain, rate[:2, :2], alive, alive), 'uav_uav_rate_bps'),
                         (SlotState(np.zeros(4, np.int64), gain, rate, alive, alive[:2]), 'alive_end')):
        with pytest.raises(ValueError, match=f'SlotState.{field}: expected shape'):
            evaluate_slot(CFG, ARRAYS, decisions, state)
    with pytest.raises(IndexError):
        slot_kernels.tasks_of_slot(np.zeros(4, np.int64), np.ones(4, np.int64), np.array([0, 1, 2, 2]),
                                   np.full(4, -1), alive, alive, np.ascontiguousarray(ARRAYS.cum_flops, float),
                                   ARRAYS.num_layers.astype(np.int64), np.ascontiguousarray(ARRAYS.input_bits, float),
                                   np.ascontiguousarray(gain[:, :2]), rate, 4.0, 1.0)


def test_a_link_too_weak_to_carry_a_bit_makes_the_task_late_not_an_error():
    """A gain so small that log2(1 + p_max |h|^2 / sigma^2) rounds to 0 (a fuzzed slot file put a UAV 6.7e12 m
    up), or a UAV-UAV rate of 0 for a migration, gives an infinite time, as numpy's division does: the task is
    late. The compiled steps divide as numpy does, not as Python (a ZeroDivisionError escaped them once)."""
    gain = np.array([[1e-30, 1e-9], [1e-9, 1e-9]])
    rate = np.array([[0.0, 0.0], [0.0, 0.0]])   # no UAV-UAV link at all
    state = SlotState(np.zeros(2, np.int64), gain, rate, np.ones(2, bool), np.ones(2, bool))
    decisions = SlotDecisions(np.ones(2, np.int64), np.array([0, 1]), np.array([-1, -1]))
    r = evaluate_slot(CFG, ARRAYS, decisions, state)
    assert r.state[0] == LATE and r.tx_time_s[0] == np.inf   # the upload never ends
    assert r.state[1] == COMPLETED
    migrating = SlotDecisions(np.ones(2, np.int64), np.array([1, 0]), np.array([-1, 1]))
    r = evaluate_slot(CFG, ARRAYS, migrating, SlotState(np.zeros(2, np.int64), np.full((2, 2), 1e-9), rate,
                                                          np.ones(2, bool), np.array([False, True])))
    assert r.migrated[1] and r.migration_time_s[1] == np.inf and r.state[1] == LATE


def test_read_only_inputs_run_the_compiled_steps_already_loaded():
    """numba compiles a read-only array (a bag's buffer, a broadcast view: the optimum passed one as the UAVs'
    CPUs) as another type, about 14 s in the middle of a run, where load_kernels had loaded one signature.
    The wrappers hand the kernels writable contiguous arrays: read-only inputs add no compiled signature, and
    give the same numbers."""
    from uav_mec_nodes.model import allocation, allocation_kernels, slot, slot_kernels
    slot.load_kernels()
    kernels = (allocation_kernels.allocate, slot_kernels.tasks_of_slot, slot_kernels.outcomes_of_slot)
    loaded = [set(k.signatures) for k in kernels]
    rng = np.random.default_rng(3)
    users = np.column_stack([rng.uniform(0, 500, (5, 2)), np.zeros(5)])
    uavs = np.column_stack([rng.uniform(0, 500, (3, 2)), np.full(3, 150.0)])

    def read_only(x):
        x = np.array(x)
        x.setflags(write=False)
        return x
    gain = channel.mu_uav_gain(users, uavs, CFG, np.ones((5, 3)))
    args = (rng.integers(0, 3, 5), gain, channel.uav_uav_rate_bps(uavs, CFG), np.ones(3, bool),
            np.array([True, False, True]))
    decisions = (np.full(5, 2), np.array([0, 1, 1, 2, 0]), np.array([-1, 0, 2, -1, -1]))
    expected = evaluate_slot(CFG, ARRAYS, SlotDecisions(*decisions), SlotState(*args))
    got = evaluate_slot(CFG, ARRAYS, SlotDecisions(*map(read_only, decisions)), SlotState(*map(read_only, args)))
    assert got.e_tot == expected.e_tot and np.array_equal(got.state, expected.state)
    n = 4
    allocation.improved_allocation(*(read_only(np.full(n, v)) for v in (1e8, 3e9, 1e5, 1e-10, 0.5)),
                                   read_only(np.array([0, 0, 1, 1])), 2, np.broadcast_to(1e10, (2,)), 1e9, 0.5,
                                   1e6, 1e-28, 1e-3, cpu_price_start=read_only(np.full(2, 1e-20)))
    assert [set(k.signatures) for k in kernels] == loaded
