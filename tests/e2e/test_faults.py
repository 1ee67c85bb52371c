"""The fault suite: secrets stay hidden and nothing is stranded when things fail.

Each test is named after the fault it brings about. SIGKILL of bot-bottle
mid-session is tested in test_docker_cleanup.py (cleanup finds and removes
exactly what the killed run left); the engine restart here is marked
`engine_restart`, since it stops the engine every other test on this machine
is using.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from bot_bottle.backend.docker import (
    DockerBottle,
    DockerBottleBackend,
    DockerBottleCleanupPlan,
    DockerBottlePlan,
    labels,
)
from bot_bottle.stage import remove_stage_dir

from .conftest import ResourceTracker
from .docker_support import (
    HTTP_PORT,
    Project,
    agent_resources,
    connect_sidecar,
    egress_targets,
    make_spec,
    module_project,
    new_stage_dir,
    session_resources,
    unique_agent,
    use_test_images,
)
from .fault_support import ArgvSampler, cli, read_until, start_engine, stop_engine
from .test_docker_cleanup import launch_and_kill, only_session

pytestmark = pytest.mark.engine

SECRET_NAME = "BOT_BOTTLE_FAULT_SECRET"
LITERAL_NAME = "BOT_BOTTLE_FAULT_LITERAL"
#: Unique per run, so a match can only come from this run.
SECRET = f"canary-secret-{uuid.uuid4().hex[:10]}"
LITERAL = f"canary-literal-{uuid.uuid4().hex[:10]}"
CANARIES = (SECRET, LITERAL)
CLI_SECONDS = 300
#: Stands for the agent test image's tag in a parametrized environment.
AGENT_IMAGE = "<agent image>"


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient
) -> Iterator[Project]:
    yield from module_project(docker_client, tmp_path_factory.mktemp("faults"))


@pytest.fixture
def images(
    monkeypatch: pytest.MonkeyPatch, agent_image: str, proxy_image: str
) -> tuple[str, str]:
    use_test_images(monkeypatch, agent_image, proxy_image)
    monkeypatch.setenv(SECRET_NAME, SECRET)
    return agent_image, proxy_image


def secret_spec(project: Project, agent: str, **options: Any) -> Any:
    """A spec whose bottle forwards SECRET and sets LITERAL."""
    return make_spec(
        project,
        agent,
        forward=[SECRET_NAME],
        literals={LITERAL_NAME: LITERAL},
        **options,
    )


def assert_no_canary(text: str, where: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"a secret value showed in {where}"


def finish(child: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = child.communicate(timeout=CLI_SECONDS)
    return child.returncode, out, err


def sidecar_of(client: docker.DockerClient, agent: str) -> str:
    """The name of `agent`'s running sidecar, once it runs."""
    where = {
        "label": [f"{labels.AGENT}={agent}", f"{labels.ROLE}=sidecar"],
        "status": "running",
    }
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = client.containers.list(filters=where)
        if found:
            return str(found[0].name)
        time.sleep(0.1)
    raise AssertionError(f"no sidecar of {agent} ever ran")


# -- secrets ------------------------------------------------------------------


def test_a_secret_never_shows_in_any_host_process_argv_during_a_launch(
    project: Project, images: tuple[str, str], docker_client: docker.DockerClient
) -> None:
    agent = unique_agent("argv")
    secret_spec(project, agent)
    control = f"argv-control-{uuid.uuid4().hex[:8]}"
    script = f"claude getenv {SECRET_NAME} && claude getenv {LITERAL_NAME}"
    sampler = ArgvSampler([*CANARIES, control])
    with sampler.sampling():
        # Control: a command line that carries a watched string is caught.
        subprocess.run(["sh", "-c", "sleep 0.5", control], check=True)
        child = cli(
            project,
            agent,
            ["-vv", "start", agent, "--no-tui", "--yes", "--", "sh", script],
            images,
        )
        status, out, err = finish(child)

    assert status == 0, err
    assert out.splitlines()[-2:] == [SECRET, LITERAL], "the secrets never arrived"
    assert any(control in each for each in sampler.found), "the sampler saw nothing"
    assert sampler.sweeps > 20
    assert [each for each in sampler.found if control not in each] == []
    assert_no_canary(err, "the log")
    assert agent_resources(docker_client, agent) == []


@pytest.mark.parametrize(
    ("fault", "args", "env", "status", "said"),
    [
        (
            "the engine does not answer",
            ["start"],
            {"DOCKER_HOST": "unix:///nonexistent/docker.sock"},
            1,
            "does not answer",
        ),
        (
            "the base image is missing",
            ["start"],
            {"BOT_BOTTLE_BASE_IMAGE": "bot-bottle-test-missing:nope"},
            2,
            "BOT_BOTTLE_BASE_IMAGE",
        ),
        (
            "the egress proxy cannot start",
            ["start"],
            # The agent image has no proxy program: the sidecar cannot start.
            {"BOT_BOTTLE_PIPELOCK_IMAGE": AGENT_IMAGE},
            1,
            "starting the egress proxy",
        ),
        ("claude fails", ["start", "--", "exit", "9"], {}, 9, "status 9"),
    ],
)
def test_a_secret_never_shows_in_our_output_or_logs_on_an_error_path(
    fault: str,
    args: list[str],
    env: dict[str, str],
    status: int,
    said: str,
    project: Project,
    images: tuple[str, str],
    docker_client: docker.DockerClient,
) -> None:
    agent = unique_agent("err")
    secret_spec(project, agent)
    env = {
        key: images[0] if value == AGENT_IMAGE else value for key, value in env.items()
    }
    command, *rest = args
    words = ["-vv", command, agent, "--no-tui", "--yes", *rest]
    found, out, err = finish(cli(project, agent, words, images, env))

    assert found == status, (fault, err)
    assert said in err, (fault, err)
    assert_no_canary(out + err, f"the output when {fault}")
    assert agent_resources(docker_client, agent) == []


def test_a_secret_never_shows_in_our_output_when_the_manifest_is_invalid(
    project: Project, images: tuple[str, str]
) -> None:
    agent = unique_agent("bad")
    spec = secret_spec(project, agent)
    manifest = json.loads(spec.manifest_path.read_text())
    bottle = manifest["bottles"]["box"]
    bottle["env"]["set"]["NOT A NAME"] = LITERAL
    bottle["limits"] = {"memory": "plenty"}
    spec.manifest_path.write_text(json.dumps(manifest))

    found, out, err = finish(
        cli(project, agent, ["-vv", "start", agent, "--no-tui"], images)
    )
    assert found == 2, err
    assert "NOT A NAME" in err and "memory" in err
    assert_no_canary(out + err, "the manifest's error")


def test_a_secret_never_shows_in_our_output_when_a_session_is_terminated(
    project: Project, images: tuple[str, str], docker_client: docker.DockerClient
) -> None:
    agent = unique_agent("term")
    secret_spec(project, agent)
    words = ["-vv", "start", agent, "--no-tui", "--yes", "--", "sh"]
    child = cli(project, agent, [*words, "echo up-$((1+1)); sleep 120"], images)
    seen = read_until(child, "up-2", CLI_SECONDS)
    child.terminate()
    found, out, err = finish(child)
    assert found != 0
    assert "terminated" in err
    assert_no_canary(seen + out + err, "the output of a terminated session")
    assert agent_resources(docker_client, agent) == []


def test_a_secret_never_shows_in_the_plan(
    project: Project, images: tuple[str, str]
) -> None:
    backend = DockerBottleBackend()
    plan = backend.prepare(
        secret_spec(project, unique_agent("plan")), stage_dir=new_stage_dir()
    )
    try:
        printed = io.StringIO()
        plan.print(printed)
        shown = [printed.getvalue(), repr(plan), repr(plan.sections())]
        shown += [path.read_text() for path in plan.stage_dir.iterdir()]
        assert_no_canary("\n".join(shown), "the plan")
        assert SECRET_NAME in printed.getvalue() and LITERAL_NAME in printed.getvalue()
    finally:
        remove_stage_dir(plan.stage_dir)


def test_the_sidecar_holds_none_of_the_agents_secrets(
    project: Project, images: tuple[str, str], docker_client: docker.DockerClient
) -> None:
    backend = DockerBottleBackend()
    plan = backend.prepare(
        secret_spec(project, unique_agent("env")), stage_dir=new_stage_dir()
    )
    assert isinstance(plan, DockerBottlePlan)
    with backend.launch(plan) as bottle:
        # The agent has them, at exec time.
        assert bottle.exec_claude(["getenv", LITERAL_NAME], tty=False) == 0
        sidecar = docker_client.api.inspect_container(plan.names.sidecar)
        agent = docker_client.api.inspect_container(plan.names.container)
        image_env = docker_client.api.inspect_image(images[1])["Config"]["Env"]

    assert sidecar["Config"]["Env"] == image_env
    assert_no_canary(json.dumps(sidecar), "the sidecar's configuration")
    for name in (SECRET_NAME, LITERAL_NAME):
        assert name not in json.dumps(sidecar)
    assert_no_canary(json.dumps(agent), "the agent container's configuration")


# -- the sidecar dies ---------------------------------------------------------


def test_the_sidecar_dying_mid_session_leaves_the_agent_no_egress_at_all(
    project: Project,
    images: tuple[str, str],
    docker_client: docker.DockerClient,
    tracker: ResourceTracker,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def claude(bottle: DockerBottle, *argv: str) -> dict[str, Any]:
        capsys.readouterr()
        assert bottle.exec_claude(list(argv), tty=False) == 0
        result: dict[str, Any] = json.loads(capsys.readouterr().out.splitlines()[-1])
        return result

    # Captured on the product's logger itself: the CLI, when run in this
    # process by other tests, stops it propagating.
    product_log = logging.getLogger("bot_bottle")
    monkeypatch.setattr(product_log, "handlers", [caplog.handler])
    monkeypatch.setattr(product_log, "propagate", False)
    backend = DockerBottleBackend()
    with egress_targets(docker_client, tracker, images[0]) as targets:
        spec = make_spec(project, unique_agent("dies"), allowlist=[targets.allowed_ip])
        plan = backend.prepare(spec, stage_dir=new_stage_dir())
        assert isinstance(plan, DockerBottlePlan)
        with backend.launch(plan) as bottle:
            assert isinstance(bottle, DockerBottle)
            connect_sidecar(docker_client, plan.names.sidecar, targets)
            url = f"http://{targets.allowed_ip}:{HTTP_PORT}/"
            deadline = time.monotonic() + 10
            while claude(bottle, "fetch", url)["status"] != 200:
                assert time.monotonic() < deadline, "the allowed target never answered"
                time.sleep(0.2)
            assert bottle.egress_problem() is None

            docker_client.containers.get(plan.names.sidecar).kill()
            with caplog.at_level(logging.WARNING, logger="bot_bottle"):
                after = claude(bottle, "fetch", url)
            for host, port in (
                (targets.allowed_ip, HTTP_PORT),
                (bottle.proxy_host, 8888),
                ("1.1.1.1", 443),
            ):
                assert claude(bottle, "connect", host, str(port))["ok"] is False
            assert docker_client.containers.get(plan.names.container).status == (
                "running"
            )

    assert after["status"] is None, after
    told = [each.getMessage() for each in caplog.records]
    assert any("stopped during the session" in each for each in told), told
    assert any("no network at all" in each for each in told), told
    assert session_resources(docker_client, plan.session) == []


def test_the_sidecar_dying_mid_session_is_reported_to_the_user(
    project: Project, images: tuple[str, str], docker_client: docker.DockerClient
) -> None:
    agent = unique_agent("told")
    secret_spec(project, agent)
    script = (
        "echo up-$((1+1)); while [ ! -e /tmp/proxy-gone ]; do sleep 0.1; done; "
        "claude fetch http://example.com/"
    )
    words = ["start", agent, "--no-tui", "--yes", "--", "sh", script]
    child = cli(project, agent, words, images)
    seen = read_until(child, "up-2", CLI_SECONDS)
    sidecar = sidecar_of(docker_client, agent)
    docker_client.containers.get(sidecar).kill()
    container = sidecar.removesuffix("-proxy")
    docker_client.containers.get(container).exec_run(["touch", "/tmp/proxy-gone"])
    status, out, err = finish(child)

    assert status == 0, err
    assert json.loads(out.splitlines()[-1])["status"] is None
    assert f"the egress proxy {sidecar} stopped during the session" in err
    assert "no network at all" in err
    assert_no_canary(seen + out + err, "the report of a dead sidecar")
    assert agent_resources(docker_client, agent) == []


# -- cleanup against live launches and against itself --------------------------


def test_cleanup_during_another_launch_leaves_that_launch_alone(
    project: Project, images: tuple[str, str], docker_client: docker.DockerClient
) -> None:
    backend = DockerBottleBackend()
    orphan = launch_and_kill(project, unique_agent("orphan"), new_stage_dir())
    live = unique_agent("live")
    make_spec(project, live)
    words = ["start", live, "--no-tui", "--yes", "--", "sh", "sleep 3; claude report"]
    child = cli(project, live, words, images)

    rounds, overlapped, cleaned = 0, 0, False
    while child.poll() is None:
        plan = backend.prepare_cleanup()
        assert live not in {item.agent for item in plan.items}
        overlapped += bool(agent_resources(docker_client, live))
        mine = only_session(docker_client, plan, orphan)
        if mine.items:
            backend.cleanup(mine)
            cleaned = True
        rounds += 1
    status, out, err = finish(child)

    assert status == 0, err
    assert json.loads(out.splitlines()[-1])["user"] == "agent"
    assert cleaned and session_resources(docker_client, orphan) == []
    assert overlapped >= 3, f"only {overlapped} of {rounds} cleanups met the launch"
    assert agent_resources(docker_client, live) == []


def test_two_cleanups_at_once_do_not_fail_each_other(
    project: Project, images: tuple[str, str], docker_client: docker.DockerClient
) -> None:
    stage_dirs = [new_stage_dir() for _ in range(2)]
    orphans = [
        launch_and_kill(project, unique_agent("twin-orphan"), stage_dir)
        for stage_dir in stage_dirs
    ]
    found = DockerBottleBackend().prepare_cleanup()
    parts = [only_session(docker_client, found, orphan) for orphan in orphans]
    plan = DockerBottleCleanupPlan(
        items=[item for part in parts for item in part.items],
        container_ids=[each for part in parts for each in part.container_ids],
        network_ids=[each for part in parts for each in part.network_ids],
        stage_dirs=[each for part in parts for each in part.stage_dirs],
    )
    assert len(plan.items) == 8 and sorted(plan.stage_dirs) == sorted(stage_dirs)

    start = threading.Barrier(2, timeout=60)
    errors: list[BaseException] = []

    def clean() -> None:
        backend = DockerBottleBackend()
        try:
            backend.engine.client.ping()
            start.wait()
            backend.cleanup(dataclasses.replace(plan))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=clean) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    for orphan in orphans:
        assert session_resources(docker_client, orphan) == []
    assert not any(path.exists() for path in stage_dirs)


# -- the engine restarts ------------------------------------------------------


@pytest.mark.engine_restart
def test_an_engine_restart_mid_session_leaves_what_cleanup_then_removes(
    project: Project, images: tuple[str, str], docker_client: docker.DockerClient
) -> None:
    agent = unique_agent("restart")
    secret_spec(project, agent)
    words = ["start", agent, "--no-tui", "--yes", "--", "sh"]
    child = cli(project, agent, [*words, "echo up-$((1+1)); sleep 600"], images)
    read_until(child, "up-2", CLI_SECONDS)
    session = docker_client.containers.get(sidecar_of(docker_client, agent)).labels[
        labels.SESSION
    ]
    argv = stop_engine()
    try:
        # With the engine gone, the session ends and teardown cannot finish.
        status, out, err = finish(child)
    finally:
        start_engine(docker_client, argv)
    assert status != 0
    assert "bot-bottle cleanup" in err, err
    assert_no_canary(out + err, "the output after an engine restart")

    left = docker_client.api.containers(
        all=True, filters=labels.session_filter(session)
    )
    assert left and not any(each["State"] == "running" for each in left)
    backend = DockerBottleBackend()
    plan = only_session(docker_client, backend.prepare_cleanup(), session)
    assert len(plan.items) == len(session_resources(docker_client, session)) > 0
    backend.cleanup(plan)
    assert session_resources(docker_client, session) == []
