"""Hardening: what the containers are created with, the engine assessment, and
failing closed (a dead egress proxy reported, a removal under way waited for).

The engine is assessed from its version alone; these tests give versions on
either side of each threshold. The container options are checked as the
backend hands them to the SDK, through a client that records the call.
"""

from __future__ import annotations

import io
from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from docker.errors import NotFound

from bot_bottle.backend.docker import removal
from bot_bottle.backend.docker.backend import DockerBottleBackend
from bot_bottle.backend.docker.bottle import AgentUser, DockerBottle
from bot_bottle.backend.docker.engine import Engine
from bot_bottle.backend.docker.hardening import (
    GATEWAY_MODE_IPV4,
    INHIBIT_IPV4,
    NO_RESOLVER,
    agent_security,
    assess_engine,
    engine_version,
    sidecar_security,
)
from bot_bottle.backend.docker.pipelock import DockerPipelockProxy, Sidecar
from bot_bottle.errors import BackendError
from bot_bottle.manifest import Limits

from .test_docker_plan import SECRET
from .test_docker_plan import plan as sample_plan


class _Recorder:
    """Stands in for `client.containers`: records what `create` was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def create(self, *args: Any, **kwargs: Any) -> SimpleNamespace:
        self.calls.append((args, kwargs))
        return SimpleNamespace(id="c0ffee", name=kwargs.get("name"))


def _client() -> SimpleNamespace:
    return SimpleNamespace(containers=_Recorder())


def test_engine_versions_are_read_without_their_distribution_suffix() -> None:
    assert engine_version("20.10.24+dfsg1") == (20, 10, 24)
    assert engine_version("28.2.2") == (28, 2, 2)
    assert engine_version("25.0.5-ce") == (25, 0, 5)
    assert engine_version("dev") == ()


def test_engine_20_10_keeps_the_host_off_the_network_with_inhibit_ipv4() -> None:
    found = assess_engine("20.10.24+dfsg1")
    assert found.internal_network_options == {INHIBIT_IPV4: "true"}
    assert found.warnings == ()
    text = "\n".join(found.isolation)
    assert "no address on the internal network (inhibit_ipv4" in text
    assert "25.0.5" in text


def test_engine_28_uses_the_isolated_gateway_mode() -> None:
    found = assess_engine("28.2.2")
    assert found.internal_network_options == {GATEWAY_MODE_IPV4: "isolated"}
    assert found.warnings == ()
    assert "isolated gateway mode" in "\n".join(found.isolation)
    assert "25.0.5" not in "\n".join(found.isolation)


def test_engines_from_25_0_5_to_28_use_inhibit_ipv4_and_need_no_dns_note() -> None:
    found = assess_engine("27.3.1")
    assert found.internal_network_options == {INHIBIT_IPV4: "true"}
    assert found.warnings == ()
    assert "25.0.5" not in "\n".join(found.isolation)


def test_an_engine_before_20_10_is_warned_to_leave_the_host_reachable() -> None:
    found = assess_engine("19.03.15")
    assert found.internal_network_options == {}
    assert len(found.warnings) == 1
    assert "0.0.0.0" in found.warnings[0]
    assert "20.10" in found.warnings[0]
    assert "host: reachable at the internal network's gateway address" in (
        found.isolation
    )


def test_an_unrecognised_engine_is_asked_for_isolation_and_warned_about() -> None:
    found = assess_engine("dev")
    assert found.internal_network_options == {INHIBIT_IPV4: "true"}
    assert "not recognised" in found.warnings[0]
    assert "unconfirmed" in "\n".join(found.isolation)


def test_the_agent_drops_every_capability_and_gains_no_privilege() -> None:
    options = agent_security()
    assert options["cap_drop"] == ["ALL"]
    assert "cap_add" not in options
    assert options["security_opt"] == ["no-new-privileges"]
    assert not any("seccomp" in each for each in options["security_opt"])
    assert "privileged" not in options


def test_the_agent_resolves_through_nothing_and_has_no_ipv6() -> None:
    options = agent_security()
    assert options["dns"] == [NO_RESOLVER] == ["127.0.0.1"]
    assert options["sysctls"] == {"net.ipv6.conf.all.disable_ipv6": "1"}


def test_the_agent_container_is_created_hardened_and_without_the_bottles_env() -> None:
    client = _client()
    plan = sample_plan()
    plan.limits = Limits(memory="2g", cpus=1.5, pids=512)
    DockerBottleBackend()._create_agent(plan, client, "http://10.0.0.2:8888")

    [(_, options)] = client.containers.calls
    assert options["cap_drop"] == ["ALL"]
    assert options["security_opt"] == ["no-new-privileges"]
    assert options["dns"] == ["127.0.0.1"]
    assert options["user"] == "agent"
    assert options["pids_limit"] == 512
    assert options["mem_limit"] == "2g"
    assert options["nano_cpus"] == 1_500_000_000
    for absent in ("cap_add", "privileged", "ports", "publish_all_ports"):
        assert absent not in options
    environment = options["environment"]
    assert environment["HTTPS_PROXY"] == "http://10.0.0.2:8888"
    # The bottle's own variables reach claude at exec time, never here.
    assert not set(plan.env.names) & set(environment)
    assert SECRET not in repr(environment)


def test_the_sidecar_is_created_without_capabilities_ports_or_environment(
    tmp_path: Path,
) -> None:
    client = _client()
    proxy = DockerPipelockProxy(
        ["api.anthropic.com"],
        client=client,
        sidecar=Sidecar(
            name="s", image="pipelock", internal_network="i", egress_network="e"
        ),
    )
    proxy._create(proxy.sidecar, tmp_path / "pipelock.yaml")  # type: ignore[arg-type]

    [(_, options)] = client.containers.calls
    assert options["cap_drop"] == ["ALL"] == sidecar_security()["cap_drop"]
    assert options["security_opt"] == ["no-new-privileges"]
    for absent in ("ports", "publish_all_ports", "environment", "cap_add"):
        assert absent not in options


def test_the_plan_shows_how_the_agent_is_kept_in() -> None:
    found = assess_engine("20.10.24+dfsg1")
    plan = sample_plan()
    plan.isolation = found.isolation
    plan.warnings = found.warnings
    out = io.StringIO()
    plan.print(out)
    text = out.getvalue()
    assert "isolation:\n  agent: no capabilities" in text
    assert "DNS: no resolver beyond the internal network" in text
    assert "egress proxy: no capabilities, no published port" in text


@pytest.mark.parametrize("version", ["19.03.15", "20.10.24", "28.0.0", "dev"])
def test_every_assessment_says_something_about_the_host(version: str) -> None:
    lines = assess_engine(version).isolation
    assert any(line.startswith("host: ") for line in lines)
    assert any(line.startswith("DNS: ") for line in lines)


def test_the_plan_names_seccomp_under_runc_and_gvisor_under_runsc() -> None:
    [runc] = [
        line for line in assess_engine("28.0.0").isolation if line.startswith("agent:")
    ]
    [runsc] = [
        line
        for line in assess_engine("28.0.0", "runsc").isolation
        if line.startswith("agent:")
    ]
    assert "default seccomp profile" in runc
    assert "gVisor" in runsc and "seccomp" not in runsc


# -- failing closed, and saying so ----------------------------------------------


class _Api:
    """Stands in for `client.api`: answers inspect_container from a script."""

    def __init__(self, *answers: dict[str, Any] | Exception) -> None:
        self.answers = list(answers)
        self.asked = 0

    def inspect_container(self, ident: str) -> dict[str, Any]:
        self.asked += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def _bottle(api: _Api) -> DockerBottle:
    engine = Engine(SimpleNamespace(api=api))
    user = AgentUser("agent", 1000, 1000, PurePosixPath("/home/agent"))
    return DockerBottle(
        sample_plan(),
        engine,
        container=None,
        user=user,
        proxy_host="10.0.0.2",
        remove=lambda: None,
    )


def test_a_running_egress_proxy_is_no_problem() -> None:
    assert _bottle(_Api({"State": {"Running": True}})).egress_problem() is None


def test_a_dead_egress_proxy_is_reported_with_how_it_died() -> None:
    exited = _bottle(_Api({"State": {"Running": False, "ExitCode": 137}}))
    problem = exited.egress_problem() or ""
    assert "bot-bottle-dev-abc123-proxy stopped during the session" in problem
    assert "exit status 137" in problem and "no network at all" in problem

    oom = {"State": {"Running": False, "ExitCode": 137, "OOMKilled": True}}
    assert "lack of memory" in (_bottle(_Api(oom)).egress_problem() or "")
    gone = _bottle(_Api(NotFound("no such container")))
    assert "was removed during the session" in (gone.egress_problem() or "")


def test_an_engine_that_cannot_say_is_not_reported_as_a_dead_proxy() -> None:
    broken = _bottle(_Api(requests.exceptions.ConnectionError("refused")))
    assert broken.egress_problem() is None


def test_a_container_another_removal_holds_is_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(removal, "_POLL_SECONDS", 0.0)
    api = _Api({"State": {}}, {"State": {}}, NotFound("gone"))
    removal._wait_removed(SimpleNamespace(api=api), "c0ffee")
    assert api.asked == 3


def test_a_removal_that_never_ends_is_a_failure_not_a_hang(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(removal, "_POLL_SECONDS", 0.0)
    monkeypatch.setattr(removal, "_OTHER_REMOVAL_SECONDS", 0.0)
    with pytest.raises(BackendError, match="still being removed"):
        removal._wait_removed(SimpleNamespace(api=_Api({"State": {}})), "c0ffee")
