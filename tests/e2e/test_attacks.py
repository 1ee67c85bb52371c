"""The attack suite: an agent inside a real bottle tries to get out, and fails.

Each test is named after the attack. The agent runs the attacker's tools
(`images/attacker/attack`) through the fake claude, against targets the tests
make on this machine: HTTP servers on the egress side (by IP, by a private
name, over IPv6), listeners on every host address, a second bottle. Where an
attack could only fail, the test also shows it succeeding without the
bottle's hardening (a container with Docker's defaults), so the test can
fail. Every bottle is attacked under each runtime the engine has.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from bot_bottle.backend.docker import DockerBottle, DockerBottleBackend
from bot_bottle.backend.docker.bottle_plan import DockerBottlePlan
from bot_bottle.backend.docker.hardening import engine_version

from .attack_support import (
    Capture,
    HostListener,
    attack,
    claude_json,
    container_address,
    ensure_attacker_image,
    host_addresses,
    network_gateway,
    new_token,
    start_server,
    subnets,
    target_network,
    wait_listening,
)
from .conftest import TEST_LABEL, ResourceTracker
from .docker_support import (
    HTTP_PORT,
    Project,
    Targets,
    egress_targets,
    make_spec,
    module_project,
    new_stage_dir,
    unique_agent,
    use_test_images,
)

pytestmark = pytest.mark.engine

#: An allowlisted name that resolves, on the egress side, to a private address.
PRIVATE_NAME = "private.bottle.test"
#: Public resolvers: the tests only ever assert that they cannot be reached.
PUBLIC_RESOLVERS = ("1.1.1.1", "8.8.8.8")
METADATA = "169.254.169.254"
PROXY_PORT = 8888


@dataclass(frozen=True)
class World:
    """What the tests put on the egress side and the host."""

    targets: Targets
    private_ip: str
    v6_network: str
    v6_ip: str
    listener: HostListener


@dataclass(frozen=True)
class Seen:
    """A bottle's addresses, as an attacker would want to know them."""

    bottle: DockerBottle
    plan: DockerBottlePlan
    agent_ip: str
    sidecar_internal_ip: str
    sidecar_egress_ip: str
    internal_subnet: str
    internal_gateway: str
    egress_gateway: str


def seen(client: docker.DockerClient, bottle: DockerBottle) -> Seen:
    names = bottle.plan.names
    internal = client.api.inspect_network(names.internal_network)
    return Seen(
        bottle=bottle,
        plan=bottle.plan,
        agent_ip=container_address(client, names.container, names.internal_network)[0],
        sidecar_internal_ip=container_address(
            client, names.sidecar, names.internal_network
        )[0],
        sidecar_egress_ip=container_address(
            client, names.sidecar, names.egress_network
        )[0],
        internal_subnet=internal["IPAM"]["Config"][0]["Subnet"],
        internal_gateway=network_gateway(client, names.internal_network),
        egress_gateway=network_gateway(client, names.egress_network),
    )


# -- fixtures -----------------------------------------------------------------


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient
) -> Iterator[Project]:
    yield from module_project(docker_client, tmp_path_factory.mktemp("attacks"))


@pytest.fixture(scope="module")
def attacker_image(docker_client: docker.DockerClient, agent_image: str) -> str:
    return ensure_attacker_image(docker_client, agent_image)


@pytest.fixture(scope="module")
def world(docker_client: docker.DockerClient, attacker_image: str) -> Iterator[World]:
    tracker = ResourceTracker(docker_client)
    listener = HostListener()
    try:
        with egress_targets(docker_client, tracker, attacker_image) as targets:
            network = docker_client.networks.get(targets.network)
            private_ip = str(subnets(network)[0][12])
            start_server(
                docker_client,
                tracker,
                attacker_image,
                network,
                body="private-ok",
                ipv4=private_ip,
                aliases=[PRIVATE_NAME],
            )
            v6_network = target_network(docker_client, tracker, ipv6=True)
            v6_ip = str(subnets(v6_network)[1][10])
            start_server(
                docker_client,
                tracker,
                attacker_image,
                v6_network,
                body="v6-ok",
                ipv6=v6_ip,
            )
            for container in tracker.containers:
                wait_listening(docker_client, container)
            yield World(targets, private_ip, v6_network.name, v6_ip, listener)
    finally:
        listener.close()
        tracker.remove_all()


def launch(
    project: Project,
    images: tuple[str, str],
    allowlist: list[str],
    runtime: str = "",
) -> Iterator[DockerBottle]:
    """A bottle of the attacker image; `runtime` overrides the engine's choice."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        use_test_images(monkeypatch, *images)
        backend = DockerBottleBackend()
        spec = make_spec(project, unique_agent("attack"), allowlist=allowlist)
        plan = backend.prepare(spec, stage_dir=new_stage_dir())
        assert isinstance(plan, DockerBottlePlan)
        if runtime:
            chosen = None if runtime == "runc" else runtime
            plan = dataclasses.replace(plan, runtime=chosen)
        with backend.launch(plan) as bottle:
            assert isinstance(bottle, DockerBottle)
            yield bottle


@pytest.fixture(scope="module")
def neighbour(
    docker_client: docker.DockerClient,
    project: Project,
    attacker_image: str,
    proxy_image: str,
    world: World,
) -> Iterator[Seen]:
    """A second bottle, running a server in its agent container."""
    images = (attacker_image, proxy_image)
    for bottle in launch(project, images, [world.targets.allowed_ip]):
        server = docker_client.api.exec_create(
            bottle.name,
            ["python3", "-m", "http.server", str(HTTP_PORT)],
            user=bottle.user.name,
            workdir="/tmp",
        )
        docker_client.api.exec_start(server["Id"], detach=True)
        wait_listening(docker_client, bottle.name)
        yield seen(docker_client, bottle)


@pytest.fixture(scope="module", params=["runsc", "runc"])
def attacked(
    request: pytest.FixtureRequest,
    docker_client: docker.DockerClient,
    project: Project,
    attacker_image: str,
    proxy_image: str,
    world: World,
) -> Iterator[Seen]:
    """The bottle under attack, under each runtime the engine has."""
    runtime: str = request.param
    if runtime == "runsc" and "runsc" not in (docker_client.info()["Runtimes"] or {}):
        reason = "runsc (gVisor) is not registered with this engine"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI registers runsc (.ci/run): {reason}")
        pytest.skip(reason)
    allowlist = [world.targets.allowed_ip, world.private_ip, PRIVATE_NAME]
    images = (attacker_image, proxy_image)
    for bottle in launch(project, images, allowlist, runtime):
        for network in (world.targets.network, world.v6_network):
            docker_client.api.connect_container_to_network(
                bottle.plan.names.sidecar, network
            )
        yield seen(docker_client, bottle)


def unhardened(
    client: docker.DockerClient,
    tracker: ResourceTracker,
    image: str,
    network: str,
    argv: list[str],
) -> str:
    """Run `argv` in a container with Docker's defaults; its output.

    The control for an attack that the bottle stops: the same attempt from a
    container without the bottle's hardening must succeed, or the test proves
    nothing.
    """
    container = client.containers.create(
        image,
        argv,
        network=network,
        runtime="runc",
        labels={TEST_LABEL: "unhardened"},
    )
    tracker.container(container.id)
    container.start()
    container.wait(timeout=60)
    return str(container.logs().decode("utf-8", "replace"))


def plain_internal_network(
    client: docker.DockerClient, tracker: ResourceTracker
) -> str:
    """An internal network as Docker makes it by default."""
    return str(target_network(client, tracker, internal=True).name)


def in_agent_scope(address: str) -> str:
    """A host link-local address as the agent would name it (its eth0)."""
    host, _, _ = address.partition("%")
    return f"{host}%eth0" if "%" in address else host


def target(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def refused(result: dict[str, Any]) -> bool:
    return all(outcome != "open" for outcome in result.values())


# -- the attacks --------------------------------------------------------------


def test_a_direct_connection_to_the_egress_side_fails_with_no_proxy_widened(
    attacked: Seen, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    targets = world.targets
    allowed = f"http://{targets.allowed_ip}:{HTTP_PORT}/"
    # Control: through the proxy, the same server answers.
    assert claude_json(attacked.bottle, capsys, "fetch", allowed)["status"] == 200

    for address in (targets.allowed_ip, targets.refused_ip, world.private_ip):
        url = f"http://{address}:{HTTP_PORT}/"
        bypass = f"NO_PROXY='*' no_proxy='*' claude fetch {url}"
        result = claude_json(attacked.bottle, capsys, "sh", bypass)
        assert result["status"] is None, (url, result)

    result = attack(
        attacked.bottle,
        capsys,
        "connect",
        target(targets.allowed_ip, HTTP_PORT),
        target(targets.refused_ip, HTTP_PORT),
        target(attacked.sidecar_egress_ip, PROXY_PORT),
        *(target(address, 443) for address in PUBLIC_RESOLVERS),
    )
    assert refused(result), result


def test_a_dns_query_carrying_a_unique_token_never_leaves_the_bottle(
    attacked: Seen,
    capsys: pytest.CaptureFixture[str],
    docker_client: docker.DockerClient,
    tracker: ResourceTracker,
    attacker_image: str,
) -> None:
    system, through_get, through_connect = (new_token(kind) for kind in "sgc")
    control, marker = new_token("control"), new_token("marker")
    old_engine = engine_version(attacked.plan.engine_version) < (25, 0, 5)
    plain = plain_internal_network(docker_client, tracker)

    with Capture(attacked.internal_subnet).running() as capture:
        result = attack(
            attacked.bottle, capsys, "dns", f"{system}.bottle-leak.test", "system"
        )
        assert result["system"]["lookup"].startswith("no answer"), result
        got = attack(
            attacked.bottle, capsys, "proxy-get", f"http://{through_get}.leak.test/"
        )
        assert got["status"] == 403, got
        tunnel = attack(
            attacked.bottle, capsys, "proxy-connect", f"{through_connect}.leak.test:443"
        )
        assert tunnel["status"] == 403, tunnel
        if old_engine:
            # The same lookup from a container with Docker's defaults: this
            # engine forwards it, and the capture must see that.
            unhardened(
                docker_client,
                tracker,
                attacker_image,
                plain,
                ["attack", "dns", f"{control}.bottle-leak.test", "system"],
            )
        capture.mark(marker)

        assert capture.seen(marker), "the capture saw nothing; it proves nothing"
        if old_engine:
            assert capture.seen(control), "this engine's forwarding went unseen"
        for token in (system, through_get, through_connect):
            assert not capture.seen(token), f"{token} left the bottle"


def test_direct_dns_to_any_address_gets_no_answer_and_leaves_no_trace(
    attacked: Seen,
    world: World,
    capsys: pytest.CaptureFixture[str],
) -> None:
    host_resolvers = [
        line.split()[1]
        for line in Path("/etc/resolv.conf").read_text().splitlines()
        if line.startswith("nameserver") and len(line.split()) > 1
    ]
    servers = [
        *host_resolvers,
        *PUBLIC_RESOLVERS,
        attacked.internal_gateway,
        attacked.egress_gateway,
        attacked.sidecar_egress_ip,
        attacked.sidecar_internal_ip,
        world.targets.refused_ip,
        *(address for address in host_addresses() if ":" not in address),
    ]
    token, marker = new_token("direct"), new_token("marker")
    with Capture(attacked.internal_subnet).running() as capture:
        result = attack(
            attacked.bottle,
            capsys,
            "dns",
            f"{token}.bottle-leak.test",
            *dict.fromkeys(servers),
        )
        capture.mark(marker)
        assert capture.seen(marker), "the capture saw nothing; it proves nothing"
        assert not capture.seen(token), f"{token} left the bottle"
    for server, answers in result.items():
        for transport, outcome in answers.items():
            assert outcome.startswith("no answer"), (server, transport, outcome)


def test_ipv6_reaches_nothing_outside_the_bottle(
    attacked: Seen,
    world: World,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Control: the IPv6 server answers the host.
    with socket.create_connection((world.v6_ip, HTTP_PORT), timeout=5):
        pass

    status = attack(attacked.bottle, capsys, "status")
    outside = [
        address
        for address in status["ipv6_addresses"]
        if not ipaddress.ip_address(address.partition("%")[0]).is_loopback
    ]
    assert outside == [], status

    host_v6 = [address for address in host_addresses() if ":" in address]
    result = attack(
        attacked.bottle,
        capsys,
        "connect",
        target(world.v6_ip, HTTP_PORT),
        *(target(in_agent_scope(each), world.listener.port) for each in host_v6),
    )
    assert refused(result), result
    through = attack(
        attacked.bottle, capsys, "proxy-get", f"http://[{world.v6_ip}]:{HTTP_PORT}/"
    )
    assert through["status"] == 403 and "v6-ok" not in through.get("body_head", "")


def test_the_internal_gateway_and_the_hosts_addresses_are_out_of_reach(
    attacked: Seen,
    world: World,
    capsys: pytest.CaptureFixture[str],
    docker_client: docker.DockerClient,
    tracker: ResourceTracker,
    attacker_image: str,
) -> None:
    port = world.listener.port
    plan = attacked.plan
    # Control: a container with Docker's defaults on an internal network
    # reaches the same listener through its gateway.
    plain = plain_internal_network(docker_client, tracker)
    gateway = network_gateway(docker_client, plain)
    output = unhardened(
        docker_client,
        tracker,
        attacker_image,
        plain,
        ["attack", "connect", target(gateway, port)],
    )
    assert json.loads(output.strip().splitlines()[-1]) == {
        target(gateway, port): "open"
    }, "the host's listener is not reachable even without the hardening"

    addresses = {
        attacked.internal_gateway,
        attacked.egress_gateway,
        *(in_agent_scope(each) for each in host_addresses()),
    }
    before = len(world.listener.peers)
    result = attack(
        attacked.bottle,
        capsys,
        "connect",
        *(target(address, port) for address in sorted(addresses)),
    )
    promised = any(line.startswith("host: no address") for line in plan.isolation)
    if promised:
        assert refused(result), result
        assert world.listener.peers[before:] == []
    else:
        assert any("reach services on the host" in each for each in plan.warnings)


def test_the_metadata_address_is_refused_directly_and_through_the_proxy(
    attacked: Seen, capsys: pytest.CaptureFixture[str]
) -> None:
    direct = attack(attacked.bottle, capsys, "connect", target(METADATA, 80))
    assert refused(direct), direct
    url = f"http://{METADATA}/latest/meta-data/"
    assert attack(attacked.bottle, capsys, "proxy-get", url)["status"] == 403
    tunnel = attack(attacked.bottle, capsys, "proxy-connect", f"{METADATA}:80")
    assert tunnel["status"] == 403


def test_a_raw_socket_cannot_be_opened_even_by_a_setuid_root_program(
    attacked: Seen,
    capsys: pytest.CaptureFixture[str],
    docker_client: docker.DockerClient,
    tracker: ResourceTracker,
    attacker_image: str,
) -> None:
    # Control: with Docker's defaults, the setuid interpreter gets root and
    # NET_RAW.
    plain = plain_internal_network(docker_client, tracker)
    output = unhardened(
        docker_client,
        tracker,
        attacker_image,
        plain,
        ["rootpython", "/usr/local/bin/attack", "raw"],
    )
    control = json.loads(output.strip().splitlines()[-1])
    assert control["euid"] == 0 and control["raw_icmp"] == "opened", control

    uid = attacked.bottle.user.uid
    for command in (["attack", "raw"], ["rootpython", "/usr/local/bin/attack", "raw"]):
        result = claude_json(attacked.bottle, capsys, "sh", " ".join(command))
        assert result["euid"] == uid, result
        for kind in ("raw_icmp", "raw_udp", "packet"):
            assert result[kind] != "opened", (command, kind, result)


def test_a_host_off_the_allowlist_is_refused_through_the_proxy(
    attacked: Seen, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    targets = world.targets
    allowed = attack(
        attacked.bottle, capsys, "proxy-connect", f"{targets.allowed_ip}:{HTTP_PORT}"
    )
    assert allowed["status"] == 200
    assert "allowed-ok" in allowed["tunnelled"]["body_head"]

    for url in (
        f"http://{targets.refused_ip}:{HTTP_PORT}/",
        f"http://not-allowed.bottle.test:{HTTP_PORT}/",
    ):
        result = attack(attacked.bottle, capsys, "proxy-get", url)
        assert result["status"] == 403, (url, result)
        assert "refused-ok" not in result.get("body_head", "")
    tunnel = attack(
        attacked.bottle, capsys, "proxy-connect", f"{targets.refused_ip}:{HTTP_PORT}"
    )
    assert tunnel["status"] == 403 and "tunnelled" not in tunnel


def test_an_allowlisted_name_at_a_private_address_is_refused_as_not_trusted(
    attacked: Seen,
    world: World,
    capsys: pytest.CaptureFixture[str],
    docker_client: docker.DockerClient,
) -> None:
    # Control: the same server, by its allowlisted address, answers.
    by_address = f"http://{world.private_ip}:{HTTP_PORT}/"
    control = attack(attacked.bottle, capsys, "proxy-get", by_address)
    assert control["status"] == 200 and "private-ok" in control["body_head"]

    by_name = f"http://{PRIVATE_NAME}:{HTTP_PORT}/"
    result = attack(attacked.bottle, capsys, "proxy-get", by_name)
    assert result["status"] == 403 and "private-ok" not in result["body_head"]
    proxy_log = docker_client.containers.get(attacked.plan.names.sidecar).logs()
    assert f"internal address {world.private_ip}".encode() in proxy_log


def test_a_second_bottles_networks_and_sidecar_are_out_of_reach(
    attacked: Seen,
    neighbour: Seen,
    world: World,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Control: inside its own bottle, the neighbour's server and proxy answer.
    control = attack(
        neighbour.bottle,
        capsys,
        "connect",
        target(neighbour.agent_ip, HTTP_PORT),
        target(neighbour.sidecar_internal_ip, PROXY_PORT),
    )
    assert set(control.values()) == {"open"}, control

    result = attack(
        attacked.bottle,
        capsys,
        "connect",
        target(neighbour.agent_ip, HTTP_PORT),
        target(neighbour.sidecar_internal_ip, PROXY_PORT),
        target(neighbour.sidecar_egress_ip, PROXY_PORT),
        target(neighbour.internal_gateway, world.listener.port),
        target(neighbour.egress_gateway, world.listener.port),
    )
    assert refused(result), result
    for url in (
        f"http://{neighbour.sidecar_egress_ip}:{PROXY_PORT}/",
        f"http://{neighbour.agent_ip}:{HTTP_PORT}/",
    ):
        assert attack(attacked.bottle, capsys, "proxy-get", url)["status"] == 403
    tunnel = attack(
        attacked.bottle,
        capsys,
        "proxy-connect",
        target(neighbour.sidecar_internal_ip, PROXY_PORT),
    )
    assert tunnel["status"] == 403


def test_the_sidecar_answers_on_its_proxy_port_only_and_publishes_none(
    attacked: Seen,
    capsys: pytest.CaptureFixture[str],
    docker_client: docker.DockerClient,
) -> None:
    started = time.monotonic()
    result = attack(
        attacked.bottle, capsys, "scan", attacked.sidecar_internal_ip, "1", "65535"
    )
    assert result["open"] == [PROXY_PORT], result
    assert result["checked"] == 65535
    assert time.monotonic() - started < 300

    sidecar = docker_client.api.inspect_container(attacked.plan.names.sidecar)
    host_config = sidecar["HostConfig"]
    assert not host_config.get("PortBindings")
    assert host_config.get("PublishAllPorts") is False
    assert all(not bound for bound in sidecar["NetworkSettings"]["Ports"].values())
    assert host_config["CapDrop"] == ["ALL"] and not host_config.get("CapAdd")
    assert host_config["SecurityOpt"] == ["no-new-privileges"]


def test_the_agent_holds_no_capability_and_cannot_gain_one(
    attacked: Seen,
    capsys: pytest.CaptureFixture[str],
    docker_client: docker.DockerClient,
) -> None:
    agent = docker_client.api.inspect_container(attacked.plan.names.container)
    host_config = agent["HostConfig"]
    assert host_config["CapDrop"] == ["ALL"] and not host_config.get("CapAdd")
    assert host_config["SecurityOpt"] == ["no-new-privileges"]
    assert host_config["Privileged"] is False
    assert host_config["Dns"] == ["127.0.0.1"]
    assert agent["Config"]["User"] == "agent"
    assert host_config["PidsLimit"] == attacked.plan.limits.pids
    assert host_config["NanoCpus"] > 0 and host_config["Memory"] > 0

    status = attack(attacked.bottle, capsys, "status")
    assert status["uid"] == status["euid"] == attacked.bottle.user.uid
    for name in ("CapInh", "CapPrm", "CapEff", "CapBnd"):
        assert int(status["caps"][name], 16) == 0, status
    if attacked.plan.runtime is None:
        # runc applies both in the kernel; gVisor enforces its own.
        assert status["no_new_privs"] == "1"
        assert status["seccomp"] == "2"
