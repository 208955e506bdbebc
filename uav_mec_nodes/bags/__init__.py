"""Bags of a run (rosbags, no ROS): writing and reading, recovering, the summary report, replay."""
