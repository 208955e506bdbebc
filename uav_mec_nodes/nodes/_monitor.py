"""The launcher's view of a multi-process run: how many slots are done (not a node of the graph).

It lives in the launcher's process, in an rclpy context of its own on the run's
domain, and believes /slot_metrics only from the run's channel simulator, like
any node of the graph.
"""
from __future__ import annotations

import rclpy
import rclpy.signals
from rclpy.executors import SingleThreadedExecutor

from uav_mec_nodes.graph.layout import GraphConfig, graph_scenario
from uav_mec_nodes.msg import RecorderProgress, SlotMetrics
from uav_mec_nodes.nodes import _common as c


class RunMonitor:
    def __init__(self, g: GraphConfig, domain_id: int):
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id,
                   signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
        self.node = rclpy.create_node('launcher_monitor', context=self.context)
        cfg = graph_scenario(g)
        self.inputs = c.GuardedInput(self.node, g.run_id, cfg)
        self.inputs.subscribe(SlotMetrics, c.TOPIC_SLOT_METRICS, self.on_metrics)
        self.inputs.subscribe(RecorderProgress, c.TOPIC_RECORDER_PROGRESS, self.on_progress)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.slots_done = 0
        self.slots_recorded = 0

    def on_metrics(self, msg: SlotMetrics) -> None:
        self.slots_done = max(self.slots_done, msg.slot + 1)

    def on_progress(self, msg: RecorderProgress) -> None:
        self.slots_recorded = max(self.slots_recorded, msg.slots_recorded)

    def spin(self, timeout_s: float) -> None:
        self.executor.spin_once(timeout_sec=timeout_s)

    def close(self) -> None:
        self.executor.remove_node(self.node)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
