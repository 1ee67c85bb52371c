"""`DockerBottle`: a running bottle, and claude run in it.

The interactive session goes through the docker CLI (`docker exec -it`), the
route docker-compose settled on: the CLI puts the terminal in raw mode,
follows resizes and restores the terminal, where the SDK's socket would need
a private attribute to write to and inherits the client's read timeout.
Environment values reach the CLI through its own environment, named by
`-e NAME` alone, so no value is ever in an argument list.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from docker.errors import NotFound

from ...errors import BackendError
from ...homecoming import NOTHING_NEW, export_script
from .. import Bottle, BottleState
from .archive import Archive
from .bottle_plan import DockerBottlePlan
from .engine import Engine, translated

__all__ = [
    "DETACH_KEYS",
    "MOUSE_RESET",
    "AgentUser",
    "DockerBottle",
    "exec_command",
]

log = logging.getLogger(__name__)

#: Detach keys for `docker exec`: the CLI holds back the first key of the
#: sequence until it sees the next, and the default (Ctrl-P, Ctrl-Q) would
#: swallow Ctrl-P, which claude uses. Nobody types this sequence.
DETACH_KEYS = "ctrl-^,ctrl-_,ctrl-^,ctrl-_"

#: Turns off every mouse-tracking mode a program may leave on when it exits,
#: so the terminal (or the dashboard) gets plain input back.
MOUSE_RESET = "\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1005l\x1b[?1006l\x1b[?1015l"

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class AgentUser:
    """The unprivileged user claude runs as, as the image defines it."""

    name: str
    uid: int
    gid: int
    home: PurePosixPath


def exec_command(
    docker: str,
    *,
    container: str,
    user: str,
    workdir: str,
    env_names: Sequence[str],
    argv: Sequence[str],
    interactive: bool,
    terminal: bool,
) -> list[str]:
    """The docker CLI command that runs claude; names, never values, of env."""
    command = [docker, "exec", "--detach-keys", DETACH_KEYS]
    if interactive:
        command.append("--interactive")
    if terminal:
        command.append("--tty")
    command += ["--user", user, "--workdir", workdir]
    for name in env_names:
        command += ["--env", name]
    return [*command, container, "claude", *argv]


class DockerBottle(Bottle):
    """A bottle running as an agent container beside its egress proxy."""

    plan: DockerBottlePlan

    def __init__(
        self,
        plan: DockerBottlePlan,
        engine: Engine,
        *,
        container: Any,
        user: AgentUser,
        proxy_host: str,
        remove: Callable[[], object],
    ) -> None:
        super().__init__(plan)
        self.engine = engine
        self.container = container
        self.user = user
        #: The egress proxy's address on the internal network.
        self.proxy_host = proxy_host
        #: The host repository whose .git was copied in, and the commit it was
        #: at: where the session's work is brought home to.
        self.git_repo: Path | None = None
        self.git_base: str | None = None
        self._staged: Archive | None = None
        #: Whether claude was run; a bottle it never ran in has no work to
        #: bring home, and teardown skips asking.
        self.claude_ran = False
        self._remove = remove

    @property
    def name(self) -> str:
        return str(self.plan.names.container)

    def exec_claude(self, argv: Sequence[str] = (), *, tty: bool = True) -> int:
        self._require(BottleState.RUNNING, "claude cannot be run in it")
        self.claude_ran = True
        terminal = tty and sys.stdin.isatty()
        if tty and not terminal:
            log.debug("stdin is not a terminal; running claude without a tty")
        command = exec_command(
            _docker_cli(),
            container=self.name,
            user=self.user.name,
            workdir=self.plan.workdir,
            env_names=self.plan.env.names,
            argv=[*self.plan.claude_argv, *argv],
            interactive=tty,
            terminal=terminal,
        )
        log.debug("running claude in %s", self.name)
        if tty:
            status = self._run_attached(command, terminal=terminal)
        else:
            status = self._run_streamed(command)
        self._report_egress()
        return status

    def egress_problem(self) -> str | None:
        """Why the egress proxy is no longer serving; None while it runs.

        Without its proxy the agent has no way out at all (its network is
        internal), and the person who ran it should know the session was cut
        off rather than wonder why the network failed.
        """
        sidecar = self.plan.names.sidecar
        try:
            with translated(f"checking the egress proxy {sidecar}"):
                state = self.engine.client.api.inspect_container(sidecar)["State"]
        except BackendError as exc:
            if isinstance(exc.__cause__, NotFound):
                return f"the egress proxy {sidecar} was removed during the session"
            log.debug("%s", exc)
            return None
        if state.get("Running"):
            return None
        how = f"exit status {state.get('ExitCode')}"
        if state.get("OOMKilled"):
            how = "killed for lack of memory"
        return (
            f"the egress proxy {sidecar} stopped during the session ({how}); "
            "from then on the agent had no network at all"
        )

    def _report_egress(self) -> None:
        problem = self.egress_problem()
        if problem is not None:
            log.warning("%s", problem)

    def cp_in(self, host: Path, ctr: str) -> None:
        archive = self.archive()
        archive.add_path(host, PurePosixPath(ctr))
        self.put(archive, f"copying {host} into the bottle")

    def archive(self) -> Archive:
        """An archive of files for the bottle, owned by the agent.

        Before the start, every provisioning step adds to one staged archive,
        sent in one copy by `send_staged`: each copy costs an engine round
        trip, and a launch would otherwise make one per step.
        """
        if self.state is not BottleState.STARTING:
            return Archive(self.user.uid, self.user.gid)
        if self._staged is None:
            self._staged = Archive(self.user.uid, self.user.gid)
        return self._staged

    def put(self, archive: Archive, doing: str) -> None:
        """Extract `archive` at the container's root (the staged one: later)."""
        self._require_not_stopped(doing)
        if archive is self._staged:
            return
        with translated(doing):
            self.container.put_archive("/", archive.finish())

    def send_staged(self) -> None:
        """Copy in what the provisioning steps staged, in one copy."""
        staged, self._staged = self._staged, None
        if staged is not None:
            self.put(staged, "copying the prompt, skills, SSH set-up and .git in")

    def export_work(self, base: str, bundle: Path) -> bool:
        """Write the session's new commits to `bundle`; False when there are none.

        Uncommitted changes are committed first, inside the bottle, so they
        travel too. Runs as the agent user; nothing is run on the host.
        """
        self._require(BottleState.RUNNING, "its work cannot be exported")
        script = export_script(self.plan.workdir, base, self.plan.session)
        with translated(f"exporting the work from {self.name}"):
            status, errors = self._exec_to_file(["sh", "-c", script], bundle)
        if status == NOTHING_NEW:
            return False
        if status != 0:
            raise BackendError(
                f"the work in {self.name} could not be exported: "
                f"{errors.strip() or f'exit status {status}'}"
            )
        return True

    def _exec_to_file(self, argv: list[str], target: Path) -> tuple[int, str]:
        api = self.engine.client.api
        exec_id = api.exec_create(
            self.container.id, argv, user=self.user.name, workdir=self.plan.workdir
        )["Id"]
        errors = bytearray()
        with target.open("wb") as out:
            for stdout, stderr in api.exec_start(exec_id, stream=True, demux=True):
                if stdout:
                    out.write(stdout)
                if stderr:
                    errors += stderr
        status = api.exec_inspect(exec_id)["ExitCode"]
        return int(status), errors.decode("utf-8", "replace")[-2000:]

    def teardown(self) -> None:
        if self.state is BottleState.STOPPED:
            return
        self.state = BottleState.STOPPED
        self._remove()

    def _child_environment(self) -> dict[str, str]:
        # Forwarded values are already in os.environ (resolve_env checked);
        # literals are added here, so both reach the CLI without argv.
        child = dict(os.environ)
        child.update(self.plan.env.literals)
        child.update(self.engine.cli_environment())
        return child

    def _run_attached(self, command: list[str], *, terminal: bool) -> int:
        try:
            return subprocess.run(command, env=self._child_environment()).returncode
        finally:
            if terminal:
                _reset_mouse(sys.stdout)

    def _run_streamed(self, command: list[str]) -> int:
        with subprocess.Popen(
            command,
            env=self._child_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        ) as process:
            assert process.stdout is not None
            try:
                _copy(process.stdout, sys.stdout)
            except BaseException:
                # Leaving the block waits for the CLI; on Ctrl-C or SIGTERM it
                # must not outlive us while teardown waits.
                process.kill()
                raise
            return process.wait()

    def _require(self, state: BottleState, doing: str) -> None:
        if self.state is not state:
            raise BackendError(
                f"the bottle {self.name} is {self.state.value}, not "
                f"{state.value}; {doing}"
            )

    def _require_not_stopped(self, doing: str) -> None:
        if self.state is BottleState.STOPPED:
            raise BackendError(
                f"the bottle {self.name} is stopped; {doing} is not possible"
            )


def _docker_cli() -> str:
    path = shutil.which("docker")
    if path is None:
        raise BackendError(
            "the docker command-line client is not on PATH; it runs the "
            "session with claude: install it (Debian: apt install docker.io)"
        )
    return path


def _copy(source: IO[bytes], target: Any) -> None:
    binary = getattr(target, "buffer", None)
    while chunk := os.read(source.fileno(), _CHUNK):
        if binary is not None:
            binary.write(chunk)
            binary.flush()
        else:
            target.write(chunk.decode("utf-8", "replace"))
            target.flush()


def _reset_mouse(stream: Any) -> None:
    try:
        if stream.isatty():
            stream.write(MOUSE_RESET)
            stream.flush()
    except (OSError, ValueError):
        pass
