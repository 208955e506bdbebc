"""ROS 2 nodes (rclpy glue over the model, env and policies): world, uav, channel_sim, planner,
failure_injector, recorder. The node list and parameters of a run live in uav_mec_nodes.graph.layout."""
