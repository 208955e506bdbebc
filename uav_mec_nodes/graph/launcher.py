"""The package's own launcher: the graph of uav_mec_nodes.graph.layout in one process or one per node.

Single process (default of the main job): every node in one rclpy executor;
the failure mode `kill` then silences the UAV node (there is no process of its
own to end). Multi-process: one Python process per node, started with
`python -m uav_mec_nodes.nodes.<module> --ros-args -r __node:=NAME --params-file FILE`;
a UAV process can be killed (by the injector's `kill` mode, or from outside)
and the rest goes on.

Either way a run is isolated (its own DDS domain, host-only discovery, a run
identity every node checks: see isolation.py) and ends in one of two ways: the
episode is over (the sequencer, the channel simulator and the recorder are done),
or it is stopped, by SIGINT/SIGTERM/SIGHUP, a crashed node, a stall or the time
limit. A stopped run still closes its bag readable and returns what it did, with
`stopped` saying why and `exit_code` non-zero; no node process outlives it.
"""
from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np
import yaml

from uav_mec_nodes.graph.layout import (CORE, STALL_S, GraphConfig, NodeSpec, finishers_of, graph_scenario,
                                        node_specs, params_yaml, resolved_num_uavs, timeout_for)
from uav_mec_nodes.graph.isolation import (DomainLease, acquire_domain, content_filters_for, new_run_id,
                                           remove_dead_shared_memory, ros_environment)
from uav_mec_nodes.graph.progress import PROGRESS_ENV, SLOTS_DONE, SLOTS_RECORDED, SLOTS_SEEN, ProgressFiles
from uav_mec_nodes.nodes._run import PARENT_ENV, StopSignals

NODE_MODULES = tuple(sorted(p.stem for p in (Path(__file__).parents[1] / 'nodes').glob('[a-z]*.py')))


def node_class(module: str) -> type:
    """The node class of nodes/<module>.py, by the naming rule (channel_sim: ChannelSimNode), so a new node
    (a plant of your own) is its module alone."""
    name = ''.join(part.capitalize() for part in module.split('_')) + 'Node'
    return getattr(importlib.import_module(f'uav_mec_nodes.nodes.{module}'), name)


VEHICLES = ('px4_standin',)   # not graph nodes: they run until the run ends, then are stopped
EXIT_TIMEOUT = 124       # like coreutils' timeout: the time limit or a stall ended the run
EXIT_CRASH = 1
DRAIN_S = 3.0            # a stopped run's slot in progress gets this long to be accounted and recorded
Say = Callable[[str], None]


@dataclass
class RunResult:
    slots: List[dict] = field(default_factory=list)       # channel_sim's last per-slot records (single process)
    decision_times_s: List[float] = field(default_factory=list)
    bag_path: Optional[Path] = None
    wall_s: float = 0.0
    returncodes: Dict[str, int] = field(default_factory=dict)
    slots_done: int = 0
    num_slots: int = 0
    run_id: str = ''
    domain_id: int = -1
    stopped: str = ''        # why the run ended before its episode did; '' if it did not
    exit_code: int = 0
    detail: str = ''         # a crashed node's traceback or the nodes' log tails
    tail_layers_run: int = 0   # torch layers the UAV nodes ran (run_torch_layers; single process)


def _say_nothing(text: str) -> None:
    pass


class Isolation:
    """The run's identity and DDS domain, held for the run's life (isolation.py)."""

    def __init__(self, g: GraphConfig, say: Say):
        g.run_id = g.run_id or new_run_id()
        g.bag_path = g.bag_path or f'runs/{g.run_id}/bag'   # the recorder names it so too
        self.lease: DomainLease = acquire_domain(g.domain_id, g.run_id)
        self.env = ros_environment(self.lease.domain_id, g.discovery)
        g.content_filters = content_filters_for(g.content_filters, g.domain_id is None, self.lease.exclusive,
                                                g.discovery)
        how = 'chosen with --domain-id' if g.domain_id is not None else 'picked for this run; --domain-id N to choose'
        say(f'run {g.run_id} on ROS 2 domain {self.lease.domain_id} ({how}), discovery {g.discovery}')
        if not self.lease.exclusive:
            say(f'note: domain {self.lease.domain_id} is also used by another uav-mec run ({self.lease.holder}); '
                'each ignores the other\'s messages by run id')

    @contextmanager
    def environment(self):
        """os.environ with the run's domain and discovery range while in this block."""
        saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def close(self) -> None:
        remove_dead_shared_memory()   # this run's node processes' segments, and any other dead owner's
        self.lease.close()


class Watchdog:
    """Progress, stall and time limit of a run, and the reason it stops (if it does)."""

    def __init__(self, g: GraphConfig, num_slots: int, slot_s: float, timeout_s: Optional[float],
                 on_progress: Optional[Callable[[int, int], None]] = None):
        self.start = time.monotonic()
        self.on_progress = on_progress
        self.limit_s = timeout_s if timeout_s is not None else timeout_for(g, num_slots, slot_s)
        self.num_slots = num_slots
        self.slots_done = 0
        self.last_progress = self.start

    def progress(self, slots_done: int) -> None:
        if slots_done > self.slots_done:
            self.slots_done = slots_done
            self.last_progress = time.monotonic()
            if self.on_progress is not None:
                self.on_progress(slots_done, self.num_slots)

    def verdict(self, stop: StopSignals):
        """(reason, exit code) if the run must stop now, else None."""
        now = time.monotonic()
        if stop.received:
            return f'interrupted by {stop.name}', 128 + stop.received
        if now - self.start > self.limit_s:
            return f'time limit of {self.limit_s:.0f} s reached (--timeout)', EXIT_TIMEOUT
        if now - self.last_progress > STALL_S:
            return f'stalled: no slot finished for {STALL_S:.0f} s', EXIT_TIMEOUT
        return None


def _overrides(params: dict):
    from rclpy.parameter import Parameter
    return [Parameter(k, value=v) for k, v in params.items()]


Progress = Optional[Callable[[int, int], None]]    # (slots done, slots of the episode)


def run_single_process(g: GraphConfig, timeout_s: Optional[float] = None, say: Say = _say_nothing,
                       on_progress: Progress = None) -> RunResult:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    scenario = graph_scenario(g).scenario
    g.validate(scenario.num_uavs)
    iso = Isolation(g, say)
    specs = node_specs(g, scenario.num_uavs, single_process=True)
    num_slots = scenario.num_slots
    watch = Watchdog(g, num_slots, scenario.slot_s, timeout_s, on_progress)
    result = RunResult(bag_path=Path(g.bag_path) if g.record else None, num_slots=num_slots, run_id=g.run_id,
                       domain_id=iso.lease.domain_id)
    context = rclpy.Context()
    nodes = {}
    vehicles = Vehicles([s for s in specs if s.module in VEHICLES], iso)   # PX4 stand-ins: a process each
    try:   # the domain and shared memory go once the vehicles' processes too have ended
        with StopSignals() as stop, iso.environment(), vehicles:
            rclpy.init(context=context, domain_id=iso.lease.domain_id)
            executor = SingleThreadedExecutor(context=context)
            try:
                for spec in specs:
                    if spec.module in VEHICLES:
                        continue
                    cls = node_class(spec.module)
                    kwargs = dict(context=context, parameter_overrides=_overrides(spec.params))
                    if spec.module == 'uav':
                        kwargs['uav_id'] = spec.params['uav_id']
                    if spec.namespace:
                        kwargs['namespace'] = spec.namespace
                    nodes[spec.key] = cls(**kwargs)
                    executor.add_node(nodes[spec.key])
                finishers = [nodes[n] for n in finishers_of(specs) if n in nodes]
                while not all(node.done for node in finishers):
                    try:
                        executor.spin_once(timeout_sec=0.05)
                    except Exception as exc:   # a node's callback raised: the run cannot go on
                        result.stopped = f'a node crashed: {type(exc).__name__}: {exc}'.splitlines()[0]
                        result.exit_code, result.detail = EXIT_CRASH, traceback.format_exc()
                        break
                    watch.progress(nodes['channel_sim'].slots_done if 'channel_sim' in nodes else
                                   max((n.slots_seen for n in finishers), default=0))
                    verdict = watch.verdict(stop)
                    if verdict:
                        result.stopped, result.exit_code = verdict
                        _drain(executor, nodes)
                        break
            finally:
                stop.ignore_more()
                if 'recorder' in nodes:
                    nodes['recorder'].close()
                if 'channel_sim' in nodes:
                    result.slots = list(nodes['channel_sim'].records)
                    result.slots_done = nodes['channel_sim'].slots_done
                if 'planner' in nodes:
                    times = nodes['planner'].decision_times
                    result.decision_times_s = times[np.isfinite(times)].tolist()   # the slots it decided
                result.tail_layers_run = sum(getattr(node, 'layers_run', 0) for node in nodes.values())
                if g.nodes == 'uavs':   # how each UAV node of this host ended (no process of its own to exit)
                    result.returncodes = {k: 0 if n.done else 1 for k, n in nodes.items()}
                for node in nodes.values():
                    executor.remove_node(node)
                    node.destroy_node()
                rclpy.try_shutdown(context=context)
    finally:
        iso.close()
    result.wall_s = time.monotonic() - watch.start
    return result


class Vehicles:
    """Vehicle stand-ins of a single-process run, each in a process of its own, stopped with the run."""

    def __init__(self, specs: List[NodeSpec], iso: Isolation):
        self.specs, self.iso = specs, iso
        self.processes: Dict[str, subprocess.Popen] = {}

    def __enter__(self) -> 'Vehicles':
        if self.specs:
            log_dir = Path(tempfile.mkdtemp(prefix='uav_mec_vehicles_'))
            params_file = log_dir / 'params.yaml'
            params_file.write_text(yaml.safe_dump(params_yaml(self.specs)))
            env = dict(os.environ, **self.iso.env, **{PARENT_ENV: str(os.getpid())})
            for spec in self.specs:
                self.processes[spec.key] = spawn(spec, params_file, log_dir, env)
        return self

    def __exit__(self, *exc) -> None:
        stop_processes(self.processes.values())


def _signal(proc: subprocess.Popen, sig: int) -> None:
    """A signal to a node process's whole session (the process and anything it started)."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def stop_processes(processes, grace_s: float = 10.0) -> None:
    """SIGTERM to every process still running (each closes what it holds), SIGKILL after grace_s."""
    processes = list(processes)
    for proc in processes:
        if proc.poll() is None:
            _signal(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for proc in processes:
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            _signal(proc, signal.SIGKILL)
            proc.wait()


def _drain(executor, nodes: dict) -> None:
    """No new slot; the slot in progress is accounted and recorded, if it can be within DRAIN_S."""
    if 'sequencer' not in nodes:   # a host of UAV nodes alone: nothing of its own to account
        return
    nodes['sequencer'].halted = True
    recorder, sim = nodes.get('recorder'), nodes['channel_sim']
    deadline = time.monotonic() + DRAIN_S
    last, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.02)
        state = (sim.slots_done, recorder.slots_recorded if recorder else sim.slots_done)
        if state != last:
            last, quiet_since = state, time.monotonic()
        elif state[1] >= state[0] and time.monotonic() - quiet_since > 0.3:
            return


def spawn(spec: NodeSpec, params_file: Path, log_dir: Path, env: dict) -> subprocess.Popen:
    cmd = [sys.executable, '-m', f'uav_mec_nodes.nodes.{spec.module}', '--ros-args', '-r',
           f'__node:={spec.name}', '--params-file', str(params_file)]
    if spec.namespace:
        cmd[-2:-2] = ['-r', f'__ns:=/{spec.namespace}']
    log = (log_dir / f'{spec.key}.log').open('w')
    # a session of its own: a terminal's Ctrl-C reaches the launcher alone, which then stops every
    # node once, in order; cwd outside any source tree: `-m uav_mec_nodes...` must import the
    # installed package (with its msg/)
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=log_dir,
                            start_new_session=True)


class MultiProcessRun:
    """Start every node in its own process; `processes` lets a caller (a test, a drill) kill one."""

    STOP_GRACE_S = 10.0     # after SIGTERM, before SIGKILL
    END_GRACE_S = 15.0      # after the episode, for the nodes that end on their own

    def __init__(self, g: GraphConfig, log_dir: Optional[Path] = None, say: Say = _say_nothing):
        if g.scenario_file:
            g.scenario_file = str(Path(g.scenario_file).resolve())
        self.g = g
        num_uavs = resolved_num_uavs(g)
        g.validate(num_uavs)
        self.say = say
        self.iso = Isolation(g, say)
        g.bag_path = str(Path(g.bag_path).resolve())   # the nodes run elsewhere (cwd: their log folder)
        self.specs = node_specs(g, num_uavs)
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix='uav_mec_logs_')).resolve()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        params = params_yaml(self.specs)
        for spec in self.specs:
            if spec.module == 'uav':
                params[spec.name]['ros__parameters']['own_process'] = True
        self.vehicles = {spec.key for spec in self.specs if spec.module in VEHICLES}
        self.params_file = self.log_dir / 'params.yaml'
        self.params_file.write_text(yaml.safe_dump(params))
        self.processes: Dict[str, subprocess.Popen] = {}
        self.start = time.monotonic()
        self.progress = ProgressFiles(self.log_dir)   # no DDS participant here (graph/progress.py says why)
        self.progress.clear()

    def __enter__(self) -> 'MultiProcessRun':
        env = dict(os.environ, **self.iso.env, **{PARENT_ENV: str(os.getpid()), PROGRESS_ENV: str(self.log_dir)})
        # the UAVs, the injector and the recorder first, so the sequencer finds them at start-up
        order = sorted(self.specs, key=lambda s: s.module in ('sequencer', 'planner', 'channel_sim'))
        for spec in order:
            self.processes[spec.key] = spawn(spec, self.params_file, self.log_dir, env)
        return self

    def wait(self, timeout_s: Optional[float] = None, on_progress: Progress = None) -> RunResult:
        """Block until the episode is over or the run must stop; never raises for either."""
        scenario = graph_scenario(self.g).scenario
        num_slots = scenario.num_slots
        watch = Watchdog(self.g, num_slots, scenario.slot_s, timeout_s, on_progress)
        watch.start = self.start
        result = RunResult(bag_path=Path(self.g.bag_path) if self.g.record else None, num_slots=num_slots,
                           run_id=self.g.run_id, domain_id=self.iso.lease.domain_id, stopped='')
        finishers = [n for n in finishers_of(self.specs) if n in self.processes]
        core = [n for n in CORE if n in self.processes]
        with StopSignals() as stop:
            while any(self.processes[n].poll() is None for n in finishers):
                time.sleep(0.1)
                watch.progress(self.slots_done())
                dead = [n for n in core if self.processes[n].poll() not in (None, 0)]
                if dead:
                    name = dead[0]
                    result.stopped = (f'{name} exited with code {self.processes[name].returncode} '
                                      f'({self.last_log_line(name)})')
                    result.exit_code = EXIT_CRASH
                    break
                verdict = watch.verdict(stop)
                if verdict:
                    result.stopped, result.exit_code = verdict
                    break
            stop.ignore_more()
            if result.stopped:
                if result.exit_code in (EXIT_CRASH, EXIT_TIMEOUT):
                    result.detail = f'logs of every node in {self.log_dir}\n' + self.log_tails()
                self.drain()
                self.stop_all()
            else:
                self.end_stragglers()
            watch.progress(self.slots_done())
        result.slots_done = watch.slots_done
        result.wall_s = time.monotonic() - self.start
        result.returncodes = {n: p.returncode for n, p in self.processes.items()}
        return result

    def slots_done(self) -> int:
        """Slots accounted by channel_sim; on a host of UAV nodes alone, the most any of them has seen."""
        if 'channel_sim' in self.processes:
            return self.progress.read(SLOTS_DONE)
        return self.progress.read_most(SLOTS_SEEN)

    def end_stragglers(self) -> None:
        """After the episode every node ends on its own; one that does not is stopped and named."""
        deadline = time.monotonic() + self.END_GRACE_S
        nodes = {n: p for n, p in self.processes.items() if n not in self.vehicles}
        while any(p.poll() is None for p in nodes.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        late = [n for n, p in nodes.items() if p.poll() is None]
        if late:
            self.say(f'note: {", ".join(late)} did not end with the episode; stopped')
        self.stop_all()   # the vehicle stand-ins (and any late node)

    def drain(self) -> None:
        """The sequencer first (no new slot), then the slot in progress gets DRAIN_S to be recorded."""
        sequencer = self.processes.get('sequencer')
        if sequencer is None or sequencer.poll() is not None or 'recorder' not in self.processes:
            return
        _signal(sequencer, signal.SIGTERM)
        deadline = time.monotonic() + DRAIN_S
        last, quiet_since = None, time.monotonic()
        while time.monotonic() < deadline and self.processes['recorder'].poll() is None:
            time.sleep(0.05)
            state = (self.progress.read(SLOTS_DONE), self.progress.read(SLOTS_RECORDED))
            if state != last:
                last, quiet_since = state, time.monotonic()
            elif state[1] >= state[0] and time.monotonic() - quiet_since > 0.5:
                return

    def stop_all(self) -> None:
        """Every node still running: SIGTERM, then SIGKILL after STOP_GRACE_S."""
        stop_processes(self.processes.values(), self.STOP_GRACE_S)

    def last_log_line(self, name: str) -> str:
        lines = [ln for ln in (self.log_dir / f'{name}.log').read_text(errors='replace').splitlines() if ln.strip()]
        return lines[-1].strip() if lines else 'no output'

    def log_tails(self, lines: int = 8) -> str:
        """The last lines of every node's log, for an error report that explains itself."""
        out = []
        for name, proc in self.processes.items():
            text = (self.log_dir / f'{name}.log').read_text(errors='replace').splitlines()
            state = 'running' if proc.poll() is None else f'exit {proc.returncode}'
            out.append(f'--- {name} ({state})')
            out.extend(text[-lines:])
        return '\n'.join(out)

    def __exit__(self, *exc) -> None:
        if any(p.poll() is None for p in self.processes.values()):
            self.stop_all()
        self.iso.close()


def run_multi_process(g: GraphConfig, timeout_s: Optional[float] = None, say: Say = _say_nothing,
                      log_dir: Optional[Path] = None, on_progress: Progress = None) -> RunResult:
    with MultiProcessRun(g, log_dir=log_dir, say=say) as run:
        return run.wait(timeout_s, on_progress)
