"""Stand-in for ROS 2 `launch_ros` (tests only)."""
