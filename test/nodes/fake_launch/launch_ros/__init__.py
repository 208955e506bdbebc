"""Stand-in for ROS 2 `launch_ros` (tests only): the Node action, as launch_ros/actions/node.py runs it."""
