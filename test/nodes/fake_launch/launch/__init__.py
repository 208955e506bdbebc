"""A stand-in for ROS 2 `launch` (not installable here) that runs a launch description as launch 3.x does.

Followed from ros2/launch (launch/launch/): launch_service.py (run: 0, or 1 when an
action or event handler raises, printed as "Caught exception in launch (see debug
for traceback): ..."; shut down when idle; on SIGINT a shutdown that signals no
process, since the terminal already did, then SIGTERM and SIGKILL after the
timeouts), actions/declare_launch_argument.py (defaults, choices and their error),
actions/execute_local.py (a Shutdown sends SIGINT to each process, SIGTERM after
sigterm_timeout 5 s, SIGKILL after sigkill_timeout 5 s more; an exit is a
ProcessExited event with its returncode), actions/opaque_function.py. Processes are
started in launch's process group, as asyncio's subprocesses are, so a terminal's
Ctrl-C reaches them too. What it leaves out: substitutions other than
LaunchConfiguration, includes, groups, and every other action.
"""
import os
import signal
import subprocess
import sys
import time

SIGTERM_TIMEOUT_S = 5.0
SIGKILL_TIMEOUT_S = 5.0


class LaunchDescription:
    def __init__(self, entities):
        self.entities = list(entities)


class LaunchContext:
    def __init__(self, arguments):
        self.launch_configurations = dict(arguments)
        self.is_shutdown = False   # launch_context.py: set once a Shutdown is under way


class LaunchService:
    """Runs one LaunchDescription to its end; run() is `ros2 launch`'s return code."""

    def __init__(self, arguments=(), noninteractive=False):
        self.context = LaunchContext(arguments)
        self.noninteractive = noninteractive
        self.running = []          # (action, Popen) not yet reported as exited
        self.handlers = []         # OnProcessExit
        self.shutdown_at = None    # when the shutdown began, and whether processes were sent SIGINT
        self.escalated = 0
        self.sigint = False
        self.rc = 0

    def log(self, level: str, text: str) -> None:
        print(f'[{level}] [launch]: {text}', file=sys.stderr if level == 'ERROR' else sys.stdout, flush=True)

    def visit(self, entities) -> None:
        for entity in entities or ():
            produced = entity.execute(self)
            self.visit(produced)

    def _guarded(self, call) -> None:
        try:
            call()
        except Exception as exc:   # launch_service.py: an exception in an action or handler
            self.log('ERROR', f'Caught exception in launch (see debug for traceback): {exc}')
            self.rc = 1
            self.shutdown('exception', send_sigint=True)

    def shutdown(self, reason: str, send_sigint: bool = True) -> None:
        if self.shutdown_at is not None:
            return
        self.shutdown_at = time.monotonic()
        self.context.is_shutdown = True
        for _, proc in self.running:
            if send_sigint and proc.poll() is None:
                proc.send_signal(signal.SIGINT)

    def run(self, description: LaunchDescription) -> int:
        signal.signal(signal.SIGINT, lambda *a: setattr(self, 'sigint', True))
        self._guarded(lambda: self.visit(description.entities))
        while True:
            if self.sigint and self.shutdown_at is None:
                self.log('WARNING', 'user interrupted with ctrl-c (SIGINT)')
                self.shutdown('ctrl-c (SIGINT)', send_sigint=self.noninteractive)
            for action, proc in list(self.running):
                if proc.poll() is not None:
                    self.running.remove((action, proc))
                    if proc.returncode != 0:
                        self.log('ERROR', f'process has died [pid {proc.pid}, exit code {proc.returncode}, '
                                          f'cmd \'{" ".join(proc.args)}\'].')
                    event = ProcessExited(action, proc.returncode)
                    for handler in [h for h in self.handlers if h.target_action is action]:
                        self._guarded(lambda h=handler: self.visit(h.on_exit(event, self.context)))
            if not self.running:
                if self.shutdown_at is None:
                    self.shutdown('idle')
                return self.rc
            if self.shutdown_at is not None:
                waited = time.monotonic() - self.shutdown_at
                if waited > SIGTERM_TIMEOUT_S + SIGKILL_TIMEOUT_S * self.escalated and self.escalated < 2:
                    self.escalated += 1
                    for _, proc in self.running:
                        if proc.poll() is None:
                            proc.send_signal(signal.SIGTERM if self.escalated == 1 else signal.SIGKILL)
            time.sleep(0.02)

    def start(self, action, cmd, env) -> None:
        if self.shutdown_at is not None:
            return
        proc = subprocess.Popen(cmd, env=dict(os.environ, **(env or {})))
        self.running.append((action, proc))


class ProcessExited:
    def __init__(self, action, returncode):
        self.action, self.returncode = action, returncode
