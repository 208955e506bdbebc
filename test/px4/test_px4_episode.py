"""Episodes on PX4 stand-ins (--plant px4): take-off, a flight termination through PX4 detected and its tasks
migrated, every task once, the offboard stream, separation and area, the vehicles landed at the end, their PX4
topics in the bag; and a take-off PX4 refuses, which fails naming the vehicle and PX4's answer."""
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict

import numpy as np
import rclpy
import yaml
from helpers import BELOW_START_M, assert_every_task_once, px4_homes

from uav_mec_nodes.graph import contract
from uav_mec_nodes.bags.io import read_bag, topic_counts
from uav_mec_nodes.config import load_scenario
from uav_mec_nodes.graph.layout import GraphConfig
from uav_mec_nodes.graph.launcher import MultiProcessRun
from uav_mec_nodes.nodes._common import qos
from uav_mec_nodes.px4 import frames

FAIL_UAV, FAIL_SLOT, SEED = 1, 20, 0


class Probe:
    """What the vehicles see and do, from the run's domain: the offboard stream and the local positions."""

    def __init__(self, domain_id: int, num_uavs: int):
        from px4_msgs.msg import OffboardControlMode, VehicleLocalPosition
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node('test_probe', context=self.context)
        self.stream = defaultdict(list)      # uav -> arrival times of OffboardControlMode
        self.track = defaultdict(list)       # uav -> (time, NED position)
        for j in range(num_uavs):
            ns = contract.px4_namespace(j)
            self.node.create_subscription(OffboardControlMode, f'/{ns}/{contract.PX4_TO}offboard_control_mode',
                                          lambda m, j=j: self.stream[j].append(time.monotonic()),
                                          qos(contract.PX4_IN_QOS))
            self.node.create_subscription(VehicleLocalPosition, f'/{ns}/{contract.PX4_FROM}vehicle_local_position',
                                          lambda m, j=j: self.track[j].append((time.monotonic(), (m.x, m.y, m.z))),
                                          qos(contract.PX4_OUT_QOS))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self):
        executor = rclpy.executors.SingleThreadedExecutor(context=self.context)
        executor.add_node(self.node)
        while not self.stop.is_set():
            executor.spin_once(timeout_sec=0.02)

    def close(self):
        self.stop.set()
        self.thread.join()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def test_a_full_episode_on_px4_stand_ins(tmp_path):
    homes, homes_text = px4_homes(SEED)
    g = GraphConfig(plant='px4', real_time_factor=1.0, seed=SEED, policy='offload-all',
                    failure_mode='px4_termination', failure_schedule=f'{FAIL_UAV}:{FAIL_SLOT}',
                    bag_path=str(tmp_path / 'bag'), px4_homes=homes_text)
    with MultiProcessRun(g, log_dir=tmp_path / 'logs') as run:
        probe = Probe(run.iso.lease.domain_id, 3)
        try:
            result = run.wait(timeout_s=300)
        finally:
            probe.close()
    assert not result.stopped, result.stopped + result.detail
    bag = read_bag(tmp_path / 'bag')
    assert_every_task_once(bag, 60)
    # flight termination, sent through VehicleCommand at slot 20, is reported by PX4 at once, and counted once
    (event,) = bag['/failures']
    assert event.uav_id == FAIL_UAV and event.mode == 4 and event.slot in (FAIL_SLOT, FAIL_SLOT + 1)
    assert 'nav_state 13 (termination)' in event.reason
    reports = [r for r in bag['/task_reports'] if r.slot == event.slot and r.serving_uav == FAIL_UAV]
    assert reports and all(r.migrated and r.computing_uav != FAIL_UAV for r in reports)   # its tasks migrate
    assert all(not p.uav_alive[FAIL_UAV] for p in bag['/plan'] if p.slot > event.slot)
    assert all(p.uav_alive[j] for p in bag['/plan'] for j in (0, 2))    # no false failure of the others
    logs = (tmp_path / 'logs')
    assert 'PX4 accepted flight termination' in (logs / 'failure_injector.log').read_text()
    bridge = (logs / 'px4_bridge.log').read_text()
    assert bridge.count('landed and disarmed') == 2 and 'not flying: nothing to do' in bridge   # the end
    # the bag holds every vehicle's PX4 topics, as PX4 and the bridge sent them
    counts = topic_counts(tmp_path / 'bag')
    for j in range(3):
        for name in contract.PX4_IN_TOPICS.keys() | contract.PX4_OUT_TOPICS.keys():
            topic = contract.px4_topic(contract.px4_namespace(j), name, {'vehicle_status': 1})
            assert counts.get(topic, 0) > 0, topic
        local = f'/{contract.px4_namespace(j)}/fmu/out/vehicle_local_position'
        assert counts[local] > 60 * 50                                  # a flight, not a sample
    statuses = bag[f'/{contract.px4_namespace(FAIL_UAV)}/fmu/out/vehicle_status_v1']
    assert any(s.nav_state == 13 for s in statuses)                     # the termination, from the bag alone
    # the offboard stream ran at 10 Hz or more while each vehicle flew, and never dropped to PX4's 2 Hz
    # proof-of-life limit (a loaded CI machine may delay a message; only 0.5 s would lose offboard)
    episode = [m for m in bag['/plant/command'] if m.kind == 1]
    assert len(episode) == 60
    fail_time = None
    for j, times in probe.stream.items():
        times = np.array(times)
        flew = times[times < (times[0] + 60.0 if j != FAIL_UAV else times[0] + FAIL_SLOT)]
        gaps = np.diff(flew)
        assert len(flew) > 10 * (FAIL_SLOT if j == FAIL_UAV else 60) and np.median(gaps) <= 0.1 + 0.02 and \
            np.max(gaps) < 0.5, (j, np.median(gaps), np.max(gaps))
    # never closer than d_safe, never out of the area (in the world frame, from the vehicles' own positions)
    cfg = load_scenario()
    tracks = {j: [(t, frames.local_ned_to_world(p, homes[j])) for t, p in probe.track[j]] for j in range(3)}
    for t, q in tracks[FAIL_UAV]:
        if fail_time is None and q[2] < homes[FAIL_UAV][2] + BELOW_START_M - 1.0 and t > tracks[FAIL_UAV][0][0] + 20:
            fail_time = t   # falling: leave it out from here
    for j in range(3):
        xy = np.array([q[:2] for t, q in tracks[j]])
        assert np.all(xy >= -1e-6) and np.all(xy <= cfg.scenario.area_m + 1e-6)
    for a in range(3):
        for b in range(a + 1, 3):
            times_b = np.array([t for t, q in tracks[b]])
            for t, q in tracks[a][::10]:
                if FAIL_UAV in (a, b) and fail_time is not None and t >= fail_time:
                    continue
                k = int(np.argmin(np.abs(times_b - t)))
                assert np.linalg.norm(q - tracks[b][k][1]) >= cfg.uavs.d_safe_m, (a, b, t)


def test_a_take_off_px4_refuses_fails_naming_the_vehicle_and_pxs_answer(tmp_path):
    """Stand-ins whose offboard signal never counts as recent (COM_OF_LOSS_T 0): PX4 rejects every arming."""
    homes, homes_text = px4_homes(SEED, 2)
    g = GraphConfig(plant='px4', real_time_factor=1.0, num_uavs=2, num_users=4, policy='greedy', px4_external=True,
                    px4_homes=homes_text, px4_takeoff_timeout_s=8.0, bag_path=str(tmp_path / 'bag'))
    with MultiProcessRun(g, log_dir=tmp_path / 'logs') as run:
        params = tmp_path / 'standin.yaml'
        params.write_text(yaml.safe_dump({'/**': {'ros__parameters': {'com_of_loss_t': 0.0}}}))
        vehicles = []
        for j in range(2):
            cmd = [sys.executable, '-m', 'uav_mec_nodes.nodes.px4_standin', '--ros-args', '-r',
                   f'__ns:=/{contract.px4_namespace(j)}', '-p', f'mav_sys_id:={contract.px4_sys_id(j)}',
                   '--params-file', str(params)]
            vehicles.append(subprocess.Popen(cmd, env=dict(os.environ, **run.iso.env), cwd=tempfile.gettempdir(),
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        try:
            result = run.wait(timeout_s=120)
        finally:
            for v in vehicles:
                v.terminate()
                v.wait()
    assert result.exit_code == 1
    assert 'px4_bridge exited with code 1' in result.stopped
    assert 'take-off timed out after 8 s waiting for PX4 to accept arming (ARM_DISARM): answered ' \
           'TEMPORARILY_REJECTED' in result.stopped
    bridge = (tmp_path / 'logs' / 'px4_bridge.log').read_text()
    assert 'arming: PX4 answered TEMPORARILY_REJECTED; asking again every 1 s' in bridge
    assert bridge.count('arming: PX4 answered TEMPORARILY_REJECTED') == 2   # once per vehicle, not every second
