"""The subcommands of `uav-mec`, registered by the modules of this folder (no import of them here)."""
from typing import Callable, Dict, Optional, Tuple

# name -> (help, run, add_arguments)
SUBCOMMANDS: Dict[str, Tuple[str, Callable, Optional[Callable]]] = {}


def subcommand(name: str, help_text: str, arguments: Optional[Callable] = None):
    """Register `run(args) -> int` as a subcommand; `arguments(parser)` adds its flags."""
    def wrap(run: Callable):
        SUBCOMMANDS[name] = (help_text, run, arguments)
        return run
    return wrap
