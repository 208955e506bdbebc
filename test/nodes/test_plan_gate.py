"""The planner's gate without ROS: which UAVs are up at slot t never depends on when a message arrived,
and a UAV's lease is held only by heartbeats its node's guard believed."""
from types import SimpleNamespace as Msg

import numpy as np
import pytest

from uav_mec_nodes.graph.failure_book import LeaseWatch
from uav_mec_nodes.graph.planning import PlanGate

J, LEASE = 3, 0.5


def _feed(gate: PlanGate, slot: int, down=(), uav_states=range(J), failing=()) -> None:
    """Slot `slot`'s users, channel, the plant's states (UAVs in `down` reported down), the injector's
    report (UAVs in `failing` fail during the slot) and the UAVs' own states."""
    gate.reports[slot] = {j: (slot, 0) for j in failing}   # mode 0: announced
    gate.users[slot] = Msg(slot=slot)
    gate.channels[slot] = Msg(slot=slot)
    gate.world[slot] = {j: Msg(slot=slot, uav_id=j, alive=j not in down) for j in range(J)}
    for j in uav_states:
        gate.uav_states[j][slot] = Msg(slot=slot, uav_id=j)


def _beat(gate: PlanGate, now: float) -> None:
    for j in range(J):
        gate.leases.heard(j, now)


def test_a_failure_event_before_or_after_the_slots_inputs_gives_the_same_uavs_alive():
    """UAV 1 fails during slot 4: slots 0-4 see it up, 5 on down, whether /failures comes early, late or
    never (the plant's report-gated states of slot 5 say it)."""
    runs = {}
    for when in ('early', 'late', 'never'):
        gate, alive = PlanGate(J, LEASE, startup_wait_s=5.0), []
        for t in range(8):
            _feed(gate, t, down=(1,) if t >= 5 else (), uav_states=(0, 2) if t >= 5 else range(J))
            _beat(gate, float(t))
            if when == 'early' and t == 0:
                gate.book.fail_during(1, 4)      # a flood delivered it long before slot 4 was planned
            ready, lost = gate.ready(float(t))
            assert ready and lost == [], (when, t)
            alive.append(gate.take()[3].tolist())
            if when == 'late' and t == 7:
                gate.book.fail_during(1, 4)
        runs[when] = alive
    expected = [[True, t <= 4, True] for t in range(8)]
    assert runs == {'early': expected, 'late': expected, 'never': expected}


def test_slot_t_is_decided_on_its_own_inputs_only():
    gate = PlanGate(J, LEASE, startup_wait_s=5.0)
    _beat(gate, 0.0)
    _feed(gate, 1)                               # slot 1's inputs before slot 0's
    assert gate.ready(0.0) == (False, [])
    gate.users[0], gate.channels[0] = Msg(slot=0), Msg(slot=0)
    assert gate.ready(0.0) == (False, [])       # the plant's states of slot 0 are missing
    _feed(gate, 0)
    report = gate.reports.pop(0)
    assert gate.ready(0.0) == (False, [])       # the injector's report of slot 0 is missing
    gate.reports[0] = report
    assert gate.ready(0.0) == (True, [])
    assert gate.take()[0].slot == 0 and gate.slot == 1


def test_a_uav_without_heartbeats_is_down_after_one_lease_and_one_with_them_is_waited_for():
    gate = PlanGate(J, LEASE, startup_wait_s=5.0)
    _beat(gate, 0.0)
    _feed(gate, 0)
    gate.take()
    _feed(gate, 1, uav_states=(0, 2))            # UAV 1's own state of slot 1 is missing
    gate.leases.heard(0, 1.0)
    gate.leases.heard(2, 1.0)
    gate.leases.heard(1, 1.0)                    # still beating: late, not down
    assert gate.ready(1.0) == (False, [])
    assert gate.ready(1.0 + LEASE) == (False, [])       # its last beat is a lease old: still held
    ready, lost = gate.ready(1.0 + LEASE + 0.01)         # lapsed, and the slot has waited a lease for it
    assert ready and [j for j, _ in lost] == [1] and 'no heartbeat' in lost[0][1]
    assert gate.take()[3].tolist() == [True, False, True]


def test_a_lease_is_held_for_lease_s_after_the_latest_heartbeat():
    leases = LeaseWatch(2, lease_s=0.5, startup_wait_s=4.0)
    assert not leases.held(0, 0.0)
    assert leases.patience_s(0, slot=0, now=0.0) == 4.0          # never heard of, at the start
    assert leases.patience_s(0, slot=3, now=0.0) == 0.5
    leases.heard(0, 10.0)
    leases.heard(0, 9.0)                                          # an older one, delivered late
    assert leases.held(0, 10.5) and not leases.held(0, 10.51)
    assert leases.patience_s(0, slot=3, now=10.2) == leases.hung_s
    assert not leases.held(1, 10.2)


@pytest.mark.parametrize('lease_s', [0.05, 0.5, 5.0])
def test_heartbeats_come_often_enough_that_one_lost_sample_keeps_the_lease(lease_s):
    from uav_mec_nodes.graph.contract import HEARTBEAT_QOS, HEARTBEATS_PER_LEASE, graph_topics
    assert HEARTBEATS_PER_LEASE >= 3
    leases = LeaseWatch(1, lease_s, startup_wait_s=1.0)
    beats = np.arange(0.0, 3 * lease_s, lease_s / HEARTBEATS_PER_LEASE)
    for k, t in enumerate(beats):
        if k % 2 == 0:                                            # every other one lost
            leases.heard(0, t)
        assert leases.held(0, t + 1e-9)
    spec = graph_topics(10, 3)['/uav_1/heartbeat']
    assert spec.publishers == ('uav_1',) and spec.qos == HEARTBEAT_QOS and spec.carries_run_id


def test_a_live_uav_whose_command_never_comes_holds_and_the_move_says_so():
    """The sequencer waits for a live UAV's command while it beats; once its lease lapses the slot goes on
    with that UAV held in place, and the MOVE names it and why (the bag keeps it)."""
    from uav_mec_nodes.config import load_scenario
    from uav_mec_nodes.graph.sequencing import SlotSequence
    cfg = load_scenario().replace(scenario__num_uavs=J, scenario__num_slots=4)
    seq = SlotSequence(cfg, real_time_factor=0.0, lease_s=LEASE, startup_wait_s=1.0, wait_for_recorder=False,
                       now=0.0)
    for j in range(J):
        seq.leases.heard(j, 0.0)
    assert seq.step(0.0, True, True) == ('start', 0)
    for j in range(J):
        seq.on_state(0, j, (100.0 * (j + 1), 100.0, 150.0), (0.0, 0.0, 0.0))
    seq.on_report(0)
    seq.on_plan(0, [True] * J, now=0.0)
    seq.on_command(0, 0, 'acceleration', (1.0, 0.0, 0.0))
    seq.on_command(2, 0, 'acceleration', (0.0, 1.0, 0.0))
    seq.leases.heard(1, 0.4)                                       # UAV 1 beats, but its command is late
    assert seq.step(0.8, True, True)[0] == 'wait'
    action, move = seq.step(0.4 + LEASE + 0.01, True, True)       # its lease lapsed: the slot goes on
    assert action == 'move'
    assert move.held.tolist() == [False, True, False] and move.moving.tolist() == [True, False, True]
    assert 'UAV(s) [1]' in move.reason and 'no heartbeat' in move.reason
    np.testing.assert_array_equal(move.target[1], [200.0, 100.0, 150.0])   # it holds where it is


def test_a_uav_the_report_fails_during_the_slot_owes_no_state_of_it():
    """Silenced or killed as slot 4 starts, UAV 1 may never send its state of slot 4: the injector's report
    says it fails during slot 4, so it is up at the start of 4 (as in the Gym env) and nobody waits for it."""
    gate = PlanGate(J, LEASE, startup_wait_s=5.0)
    alive = []
    for t in range(6):
        _beat(gate, float(t))
        _feed(gate, t, down=(1,) if t >= 5 else (), uav_states=(0, 2) if t >= 4 else range(J),
              failing=(1,) if t == 4 else ())
        assert gate.ready(float(t)) == (True, []), t
        alive.append(gate.take()[3].tolist())
    assert alive == [[True, t <= 4, True] for t in range(6)]


def test_samples_of_a_writer_still_unnamed_when_the_node_closes_are_counted_not_lost():
    """The guard holds samples of writers the ROS graph cannot name yet; when the node closes (the recorder
    does, at the end of a run) each is delivered or given a reason, never dropped without a count."""
    from uav_mec_nodes.graph.contract import TOPIC_PLAN, graph_topics
    from uav_mec_nodes.nodes._guard import UNKNOWN, InputGuard
    names = {}
    guard = InputGuard('run-a', graph_topics(10, 3), lambda topic: names.get(topic, []))
    own, stranger = b'\x01' * 16, b'\x02' * 16
    for gid in (own, stranger):
        assert guard.writer_verdict(TOPIC_PLAN, gid) is UNKNOWN
        guard.hold(gid, (TOPIC_PLAN, gid))
    assert guard.release(lambda item: item[0]) == []             # nobody named yet, not waited 10 s
    names[TOPIC_PLAN] = [(own, '/', 'planner')]                    # the planner is named at last
    out = guard.release(lambda item: item[0], final=True)
    assert out == [((TOPIC_PLAN, own), None),
                   ((TOPIC_PLAN, stranger), 'writer still not known as one of this run when the node closed')]
    assert not guard.pending
