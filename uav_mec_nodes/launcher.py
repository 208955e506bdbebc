"""The package's own launcher: the graph of uav_mec_nodes.graph in one process or one per node.

Single process (default of the main job): every node in one rclpy executor;
the failure mode `kill` then silences the UAV node (there is no process of its
own to end). Multi-process: one Python process per node, started with
`python -m uav_mec_nodes.nodes.<module> --ros-args -r __node:=NAME --params-file FILE`;
a UAV process can be killed (by the injector's `kill` mode, or from outside)
and the rest goes on. Either way the run ends when the world, the channel
simulator and the recorder have finished the episode.
"""
from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import yaml

from uav_mec_nodes.graph import GraphConfig, NodeSpec, node_specs, params_yaml, resolved_num_uavs

NODE_CLASSES = {'world': 'WorldNode', 'channel_sim': 'ChannelSimNode', 'planner': 'PlannerNode',
                'failure_injector': 'FailureInjectorNode', 'uav': 'UavNode', 'recorder': 'RecorderNode'}
FINISHERS = ('world', 'channel_sim', 'recorder')
CORE = FINISHERS + ('planner', 'failure_injector')   # the episode cannot go on without any of these


@dataclass
class RunResult:
    slots: List[dict] = field(default_factory=list)       # channel_sim's per-slot records (single process)
    decision_times_s: List[float] = field(default_factory=list)
    bag_path: Optional[Path] = None
    wall_s: float = 0.0
    returncodes: Dict[str, int] = field(default_factory=dict)


def _overrides(params: dict):
    from rclpy.parameter import Parameter
    return [Parameter(k, value=v) for k, v in params.items()]


def run_single_process(g: GraphConfig, timeout_s: float = 600.0) -> RunResult:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    num_uavs = resolved_num_uavs(g)
    g.validate(num_uavs)
    specs = node_specs(g, num_uavs, single_process=True)
    start = time.monotonic()
    context = rclpy.Context()
    rclpy.init(context=context)
    nodes = {}
    executor = SingleThreadedExecutor(context=context)
    try:
        for spec in specs:
            module = importlib.import_module(f'uav_mec_nodes.nodes.{spec.module}')
            cls = getattr(module, NODE_CLASSES[spec.module])
            kwargs = dict(context=context, parameter_overrides=_overrides(spec.params))
            if spec.module == 'uav':
                kwargs['uav_id'] = spec.params['uav_id']
            nodes[spec.name] = cls(**kwargs)
            executor.add_node(nodes[spec.name])
        recorder = nodes.get('recorder')
        while True:
            executor.spin_once(timeout_sec=0.05)
            core_done = nodes['world'].done and nodes['channel_sim'].done
            if recorder is not None:
                if (recorder.done_at is not None and time.monotonic() - recorder.done_at > 0.5) or \
                        recorder.idle_after_episode():
                    recorder.close()
                    if core_done:
                        break
            elif core_done:
                break
            if time.monotonic() - start > timeout_s:
                raise TimeoutError(f'the episode did not finish within {timeout_s} s')
        return RunResult(slots=nodes['channel_sim'].records, decision_times_s=nodes['planner'].decision_times,
                         bag_path=Path(g.bag_path) if recorder else None, wall_s=time.monotonic() - start)
    finally:
        if 'recorder' in nodes:
            nodes['recorder'].close()
        for node in nodes.values():
            executor.remove_node(node)
            node.destroy_node()
        rclpy.try_shutdown(context=context)


def spawn(spec: NodeSpec, params_file: Path, log_dir: Path) -> subprocess.Popen:
    cmd = [sys.executable, '-m', f'uav_mec_nodes.nodes.{spec.module}', '--ros-args', '-r',
           f'__node:={spec.name}', '--params-file', str(params_file)]
    log = (log_dir / f'{spec.name}.log').open('w')
    # cwd outside any source tree: `-m uav_mec_nodes...` must import the installed package (with its msg/)
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(), cwd=log_dir)


class MultiProcessRun:
    """Start every node in its own process; `processes` lets a caller (a test, a drill) kill one."""

    def __init__(self, g: GraphConfig, log_dir: Optional[Path] = None):
        g.bag_path = str(Path(g.bag_path).resolve())
        if g.scenario_file:
            g.scenario_file = str(Path(g.scenario_file).resolve())
        self.g = g
        num_uavs = resolved_num_uavs(g)
        g.validate(num_uavs)
        self.specs = node_specs(g, num_uavs)
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix='uav_mec_logs_')).resolve()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        params = params_yaml(self.specs)
        for spec in self.specs:
            if spec.module == 'uav':
                params[spec.name]['ros__parameters']['own_process'] = True
        self.params_file = self.log_dir / 'params.yaml'
        self.params_file.write_text(yaml.safe_dump(params))
        self.processes: Dict[str, subprocess.Popen] = {}
        self.start = time.monotonic()

    def __enter__(self) -> 'MultiProcessRun':
        # the UAVs, the injector and the recorder first, so the world finds them at start-up
        order = sorted(self.specs, key=lambda s: s.module in ('world', 'planner', 'channel_sim'))
        for spec in order:
            self.processes[spec.name] = spawn(spec, self.params_file, self.log_dir)
        return self

    def wait(self, timeout_s: float = 600.0) -> RunResult:
        """Block until the finishers have ended; a core node that dies or a timeout raises, with the logs' tails."""
        finishers = [n for n in FINISHERS if n in self.processes]
        core = [n for n in CORE if n in self.processes]
        deadline = self.start + timeout_s
        while any(self.processes[n].poll() is None for n in finishers):
            dead = [n for n in core if self.processes[n].poll() not in (None, 0)]
            if dead:
                raise RuntimeError(f'{", ".join(dead)} exited with an error; logs in {self.log_dir}\n'
                                   + self.log_tails())
            if time.monotonic() > deadline:
                running = [n for n in finishers if self.processes[n].poll() is None]
                raise TimeoutError(f'{", ".join(running)} did not finish within {timeout_s} s; logs in '
                                   f'{self.log_dir}\n' + self.log_tails())
            time.sleep(0.1)
        return RunResult(bag_path=Path(self.g.bag_path) if self.g.record else None,
                         wall_s=time.monotonic() - self.start,
                         returncodes={n: p.returncode for n, p in self.processes.items()})

    def log_tails(self, lines: int = 8) -> str:
        """The last lines of every node's log, for an error message that explains itself."""
        out = []
        for name, proc in self.processes.items():
            text = (self.log_dir / f'{name}.log').read_text(errors='replace').splitlines()
            state = 'running' if proc.poll() is None else f'exit {proc.returncode}'
            out.append(f'--- {name} ({state})')
            out.extend(text[-lines:])
        return '\n'.join(out)

    def __exit__(self, *exc) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.processes.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_multi_process(g: GraphConfig, timeout_s: float = 600.0) -> RunResult:
    with MultiProcessRun(g) as run:
        return run.wait(timeout_s)
