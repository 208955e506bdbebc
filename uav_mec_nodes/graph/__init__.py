"""The ROS graph of a run, without ROS: its contract (topics, QoS, owners, failure modes), its run arguments,
its node list, how runs stay apart on a host, the package's own launcher, and the slot planner nodes and
replay share."""
