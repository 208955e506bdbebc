"""Flying the graph on PX4 (ROS-free parts): frames, the stand-in vehicle, the bridge's logic.

The nodes `px4_bridge` and `px4_standin` are thin ROS glue over these; the wire facts
(topics, QoS, command numbers) are in `uav_mec_nodes.graph.contract`.
"""
