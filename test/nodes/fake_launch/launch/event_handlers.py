class OnProcessExit:
    """As launch's: on_exit(event, context) is called with the ProcessExited event of target_action."""

    def __init__(self, *, target_action=None, on_exit):
        self.target_action, self.on_exit = target_action, on_exit
