"""Errors raised on bad user input: a config, an action, a message, a CLI flag."""


class UserInputError(ValueError):
    """Bad input from outside; the message names the field and what is allowed."""


class ConfigError(UserInputError):
    """A scenario configuration field is missing, unknown, mistyped or out of range."""


class ActionError(UserInputError):
    """An action or decision is NaN, the wrong shape or out of range."""


class PlantError(RuntimeError):
    """The plant cannot fly the episode (a vehicle that never gets to its start point); names which and why."""
