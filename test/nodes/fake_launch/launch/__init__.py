"""Stand-in for ROS 2 `launch` (not on PyPI here): records what a launch file describes (tests only)."""


class LaunchDescription:
    def __init__(self, entities):
        self.entities = entities
