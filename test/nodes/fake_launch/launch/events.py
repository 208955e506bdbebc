class Shutdown:
    def __init__(self, *, reason='reason not given', due_to_sigint=False):
        self.reason, self.due_to_sigint = reason, due_to_sigint
