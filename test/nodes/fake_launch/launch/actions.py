"""Stand-ins of the launch actions sim.launch.py uses, executing as launch's do (see launch/__init__.py)."""


class DeclareLaunchArgument:
    """actions/declare_launch_argument.py: the description, the default, and the choices check."""

    def __init__(self, name, default_value=None, description=None, choices=None):
        self.name, self.default_value, self.choices = name, default_value, choices
        if choices is not None and default_value is not None and default_value not in choices:
            raise RuntimeError(f'Provided default_value "{default_value}" is not in provided choices "{choices}".')
        if description is None:
            self.description = 'no description given' if choices is None else 'One of: ' + str(choices)
        else:
            self.description = description
            if choices is not None:
                self.description += ('' if self.description.endswith('.') else '.') + \
                    ' Valid choices are: ' + str(choices)

    def execute(self, service):
        configs = service.context.launch_configurations
        if self.name not in configs:
            if self.default_value is None:
                raise RuntimeError(f'Required launch argument "{self.name}" was not provided.')
            configs[self.name] = self.default_value
        if self.choices is not None and configs[self.name] not in self.choices:
            raise RuntimeError(f'Argument "{self.name}" provided value "{configs[self.name]}" is not valid. '
                               f'Valid options are: {self.choices}')


class OpaqueFunction:
    def __init__(self, function):
        self.function = function

    def execute(self, service):
        return self.function(service.context)


class LogInfo:
    def __init__(self, msg):
        self.msg = msg

    def execute(self, service):
        service.log('INFO', self.msg)


class EmitEvent:
    def __init__(self, event):
        self.event = event

    def execute(self, service):
        service.shutdown(self.event.reason)   # the only event sim.launch.py emits is Shutdown


class RegisterEventHandler:
    def __init__(self, event_handler):
        self.event_handler = event_handler

    def execute(self, service):
        service.handlers.append(self.event_handler)
