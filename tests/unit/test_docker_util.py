"""Naming, runtime detection, the exec command, passwd."""

from __future__ import annotations

import os
import signal
from pathlib import Path, PurePosixPath
from types import SimpleNamespace

import pytest
import requests
from docker.errors import APIError, NotFound

from bot_bottle.backend.docker.backend import (
    DockerBottleBackend,
    _passwd_entry,
    _start_agent,
    proxy_environment,
)
from bot_bottle.backend.docker.bottle import DETACH_KEYS, AgentUser, exec_command
from bot_bottle.backend.docker.engine import describe, is_gone, translated
from bot_bottle.backend.docker.util import (
    SessionNames,
    deferred_signals,
    new_session_id,
    runsc_registered,
    runtime_line,
    slugify,
)
from bot_bottle.errors import BackendError, EngineUnavailableError


def test_names_are_readable_and_carry_the_session() -> None:
    names = SessionNames.for_session("Dev.Agent_1", "a1b2c3")
    assert names.container == "bot-bottle-dev.agent_1-a1b2c3"
    assert names.sidecar == "bot-bottle-dev.agent_1-a1b2c3-proxy"
    assert names.internal_network == "bot-bottle-dev.agent_1-a1b2c3-internal"
    assert names.egress_network == "bot-bottle-dev.agent_1-a1b2c3-egress"


def test_slugify_keeps_only_what_a_docker_name_may_hold() -> None:
    assert slugify("My Agent!") == "my-agent"
    assert slugify("--") == "agent"


def test_session_ids_are_short_and_differ() -> None:
    ids = {new_session_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(each) == 6 and int(each, 16) >= 0 for each in ids)


def test_runsc_is_detected_from_docker_info() -> None:
    assert runsc_registered({"Runtimes": {"runc": {}, "runsc": {"path": "runsc"}}})
    assert not runsc_registered({"Runtimes": {"runc": {}}})
    assert not runsc_registered({})


def test_the_runtime_line_is_the_one_the_preflight_shows() -> None:
    assert runtime_line("runsc") == "docker runtime: runsc (gVisor)"
    assert runtime_line(None) == "docker runtime: runc (default)"


def test_the_exec_command_names_env_vars_but_holds_no_value() -> None:
    command = exec_command(
        "/usr/bin/docker",
        container="bot-bottle-dev-abc123",
        user="agent",
        workdir="/src/project",
        env_names=["API_TOKEN", "MODE"],
        argv=["--model", "opus"],
        interactive=True,
        terminal=True,
    )
    assert command == [
        "/usr/bin/docker", "exec", "--detach-keys", DETACH_KEYS,
        "--interactive", "--tty", "--user", "agent", "--workdir", "/src/project",
        "--env", "API_TOKEN", "--env", "MODE",
        "bot-bottle-dev-abc123", "claude", "--model", "opus",
    ]  # fmt: skip
    assert not any("=" in part for part in command)


def test_detach_keys_avoid_ctrl_p() -> None:
    assert "ctrl-p" not in DETACH_KEYS


def test_the_proxy_variables_reach_only_the_sidecar_and_loopback_bypasses() -> None:
    found = proxy_environment("http://172.20.0.2:8888")
    assert found["HTTPS_PROXY"] == found["http_proxy"] == "http://172.20.0.2:8888"
    assert found["NO_PROXY"] == found["no_proxy"] == "localhost,127.0.0.1"


def test_the_agent_user_is_read_from_passwd() -> None:
    text = "root:x:0:0:root:/root:/bin/bash\nagent:x:1000:1001::/home/agent:/bin/bash\n"
    assert _passwd_entry(text, "agent") == AgentUser(
        "agent", 1000, 1001, PurePosixPath("/home/agent")
    )
    assert _passwd_entry(text, "nobody") is None


def test_engine_errors_become_ours_with_what_was_being_done() -> None:
    with (
        pytest.raises(BackendError, match="creating network x: pool overlaps"),
        translated("creating network x"),
    ):
        raise APIError("500 Server Error", explanation="pool overlaps")
    with (
        pytest.raises(EngineUnavailableError, match="does not answer"),
        translated("listing bottles"),
    ):
        raise requests.exceptions.ConnectionError("refused")
    with (
        pytest.raises(EngineUnavailableError, match="no answer within"),
        translated("listing bottles"),
    ):
        raise requests.exceptions.ReadTimeout("slow")


def test_gone_and_going_resources_are_tolerated() -> None:
    assert is_gone(NotFound("no such container"))
    conflict = APIError("409", response=_Response(409))
    assert is_gone(conflict)
    assert not is_gone(APIError("500", response=_Response(500)))
    assert describe(APIError("x", explanation="why")) == "why"


class _Response:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        self.reason = ""
        self.url = ""


def test_signals_during_teardown_are_held_back_then_delivered() -> None:
    delivered: list[int] = []
    previous = signal.signal(
        signal.SIGUSR1, lambda signum, frame: delivered.append(signum)
    )
    try:
        with deferred_signals(signal.SIGUSR1):
            os.kill(os.getpid(), signal.SIGUSR1)
            assert delivered == []
        assert delivered == [signal.SIGUSR1]
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_an_engine_that_does_not_answer_says_how_to_fix_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    backend = DockerBottleBackend()
    with pytest.raises(EngineUnavailableError, match="DOCKER_HOST") as caught:
        backend.list_active()
    assert "does not answer" in str(caught.value)


class _BrokenStart:
    def start(self) -> None:
        raise APIError("500", explanation="OCI runtime create failed: runsc: boom")


def test_a_registered_runsc_that_cannot_start_is_named_in_the_error() -> None:
    plan = SimpleNamespace(runtime="runsc")
    with pytest.raises(BackendError, match=r"gVisor runtime \(runsc\) is registered"):
        _start_agent(_BrokenStart(), plan)  # type: ignore[arg-type]
    with pytest.raises(BackendError, match="starting the agent container: OCI"):
        _start_agent(_BrokenStart(), SimpleNamespace(runtime=None))  # type: ignore[arg-type]
