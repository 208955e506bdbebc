"""Running one node in its own process (the entry point of each node module).

The process ends when its node's episode is over (`node.done`), or on SIGINT or
SIGTERM: the signal only sets a flag, the loop then closes what the node holds
(the recorder's bag) and exits with 128 + the signal's number, without tearing
down its DDS entities (see the end of run_single). A second signal
during that close is ignored, so it cannot cut the bag short. Started by the
package's launcher, the process also ends when the launcher dies (Linux's
parent-death signal), so no node outlives its run.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from typing import Optional

import rclpy
import rclpy.signals
from rclpy.executors import ExternalShutdownException

from uav_mec_nodes.errors import PlantError, UserInputError

PARENT_ENV = 'UAV_MEC_LAUNCHER_PID'   # the process to die with (set by the launcher, or the node's entry script)
EARLY_SIGNALS: list = []              # stop signals that came before StopSignals was set up (entry script)


class StopSignals:
    """SIGINT, SIGTERM and SIGHUP set `received` instead of raising (main thread only).

    restore=False leaves them ignored on exit (a node process about to end: a late signal
    must not turn its exit code into a KeyboardInterrupt's).
    """
    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self, restore: bool = True):
        self.received: Optional[int] = EARLY_SIGNALS[0] if EARLY_SIGNALS else None
        self.restore = restore
        self._old = {}

    def _handler(self, signum, frame) -> None:
        if self.received is None:
            self.received = signum

    def __enter__(self) -> 'StopSignals':
        import threading
        if threading.current_thread() is threading.main_thread():
            for s in self.SIGNALS:
                self._old[s] = signal.signal(s, self._handler)
        return self

    def ignore_more(self) -> None:
        """From now on (closing), further signals change nothing."""
        for s in self._old:
            signal.signal(s, signal.SIG_IGN)

    def __exit__(self, *exc) -> None:
        for s, old in self._old.items():
            signal.signal(s, old if self.restore else signal.SIG_IGN)
        self._old = {}

    @property
    def name(self) -> str:
        return signal.Signals(self.received).name if self.received else ''


def die_with_launcher() -> None:
    """Ask the kernel for SIGTERM when the launcher dies; exit at once if it is already gone.

    The launcher is the process in UAV_MEC_LAUNCHER_PID: `uav-mec run` sets it, and a node's
    entry script sets it to its parent (ros2 launch, ros2 run) before anything else.
    """
    parent = os.environ.get(PARENT_ENV)
    if not parent or not sys.platform.startswith('linux'):
        return
    import ctypes
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != int(parent):   # it died before the request took effect
        sys.exit(128 + signal.SIGTERM)


def flush_publishers(node, timeout_s: float = 5.0) -> bool:
    """Wait until every matched reader has acknowledged what this node published.

    A process that ends right after its last message takes its DDS writer along; a
    reliable sample not yet delivered (a loaded machine) is then lost for good, and a
    node waiting on it (the world on the last metrics) waits forever.
    """
    from rclpy.duration import Duration
    deadline = time.monotonic() + timeout_s
    acked = True
    for pub in list(node.publishers):
        left = max(deadline - time.monotonic(), 0.0)
        acked = pub.wait_for_all_acked(Duration(nanoseconds=int(left * 1e9))) and acked
    if not acked:
        node.get_logger().warning(f'exiting with unacknowledged messages after {timeout_s} s '
                                  '(a reader is gone or stalled)')
    return acked


# A node whose episode is over stays this long before it exits: its DDS readers acknowledge the last samples
# they took (the world and the UAV nodes end on the last /slot_metrics, the recorder on the final /clock), so
# their writers' flush_publishers returns at once instead of waiting out its limit (5 s) for readers that left.
# A reader acknowledges when its writer asks (a heartbeat): at least twice in this time with the 0.1 s period of
# dds/fastdds_localhost.xml; under Fast DDS's default period (3 s, another profile) a writer may still wait.
LINGER_S = 0.2


def linger(node, seconds: float = LINGER_S) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and rclpy.ok():
        rclpy.spin_once(node, timeout_sec=max(end - time.monotonic(), 0.0))


def run_single(node_class, args=None) -> None:
    die_with_launcher()
    code = 0
    with StopSignals(restore=False) as stop:
        rclpy.init(args=args if args is not None else sys.argv,
                   signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
        node = None
        try:
            node = node_class()
            while rclpy.ok() and not node.done and not stop.received:
                rclpy.spin_once(node, timeout_sec=0.05)
            if stop.received and getattr(node, 'runs_until_stopped', False):
                code = 0   # a vehicle stand-in: being stopped is its normal end
            elif stop.received:
                node.get_logger().warning(f'stopped by {stop.name} before the episode ended')
                code = 128 + stop.received
                if hasattr(node, 'drain'):   # the recorder: what is in flight still goes into the bag
                    node.drain(lambda: rclpy.spin_once(node, timeout_sec=0.02))
            elif rclpy.ok():
                linger(node)
                flush_publishers(node)
        except UserInputError as exc:
            print(f'error: {exc}', file=sys.stderr)
            code = 2
        except PlantError as exc:
            print(f'error: {exc}', file=sys.stderr)
            code = 1
        except ExternalShutdownException:
            code = 1
        finally:
            stop.ignore_more()
            if node is not None and hasattr(node, 'close'):
                node.close()
    # No DDS teardown: destroying a node's entities while its peers leave too can deadlock inside
    # Fast DDS 3.2 (github.com/eprosima/Fast-DDS/issues/6502, seen here at the end of a run), and
    # the process would hang with nothing left to do. What it owes is delivered (flush_publishers)
    # or written and closed (the recorder's bag); its peers drop it when its lease lapses; the
    # kernel frees the rest.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
