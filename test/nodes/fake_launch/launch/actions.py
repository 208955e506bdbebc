"""Stand-ins of the launch actions sim.launch.py uses: they record their arguments."""


class DeclareLaunchArgument:
    def __init__(self, name, default_value=''):
        self.name, self.default_value = name, default_value


class OpaqueFunction:
    def __init__(self, function):
        self.function = function


class LogInfo:
    def __init__(self, msg):
        self.msg = msg


class EmitEvent:
    def __init__(self, event):
        self.event = event


class RegisterEventHandler:
    def __init__(self, event_handler):
        self.event_handler = event_handler
