"""Running one node in its own process (the entry point of each node module)."""
from __future__ import annotations

import sys
import time

import rclpy
from rclpy.executors import ExternalShutdownException

from uav_mec_nodes.errors import UserInputError


def finished(node) -> bool:
    """Episode over for this node: done flag set (the recorder also drains 0.5 s and closes its bag)."""
    if hasattr(node, 'close'):
        if (node.done_at is not None and time.monotonic() - node.done_at > 0.5) or node.idle_after_episode():
            node.close()
            return True
        return False
    return bool(getattr(node, 'done', False))


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


def run_single(node_class, args=None) -> None:
    rclpy.init(args=args if args is not None else sys.argv)
    node = None
    try:
        node = node_class()
        while rclpy.ok() and not finished(node):
            rclpy.spin_once(node, timeout_sec=0.05)
        if rclpy.ok():
            flush_publishers(node)
    except UserInputError as exc:
        print(f'error: {exc}', file=sys.stderr)
        sys.exit(2)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            if hasattr(node, 'close'):
                node.close()
            node.destroy_node()
        if rclpy.ok():
            rclpy.try_shutdown()
