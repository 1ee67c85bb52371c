"""The Docker plan as the preflight shows it: every section, and no secret."""

from __future__ import annotations

import io
from pathlib import Path

from bot_bottle.backend import BottleSpec
from bot_bottle.backend.docker import DockerBottlePlan
from bot_bottle.backend.docker.util import SessionNames
from bot_bottle.env import ResolvedEnv
from bot_bottle.manifest import Limits, Manifest

SECRET = "s3cret-value-never-shown"


def plan(runtime: str | None = "runsc") -> DockerBottlePlan:
    manifest = Manifest.model_validate(
        {"bottles": {"web": {}}, "agents": {"dev": {"bottle": "web"}}}
    )
    spec = BottleSpec(
        agent="dev",
        manifest=manifest,
        manifest_path=Path("/p/bot-bottle.json"),
        workdir=Path("/p"),
    )
    return DockerBottlePlan(
        spec=spec,
        bottle="web",
        stage_dir=Path("/tmp/stage"),
        claude_argv=("--dangerously-skip-permissions", "--model", "opus"),
        allowlist=("api.anthropic.com", "*.github.com"),
        env_names=("API_TOKEN", "MODE"),
        ssh_hosts=("github.com",),
        skills=("/p/skills/review",),
        prompt=Path("/p/prompt.md"),
        warnings=("Docker engine 20.10 forwards DNS.",),
        session="abc123",
        names=SessionNames.for_session("dev", "abc123"),
        image="bot-bottle-work-p:1234",
        base_image="bot-bottle-base:5678",
        sidecar_image="ghcr.io/luckypipewrench/pipelock:2.3.0",
        runtime=runtime,
        engine_version="20.10.24",
        workdir="/p",
        limits=Limits(memory="2g", cpus=1.5, pids=512),
        env=ResolvedEnv(forwarded=("API_TOKEN",), literals={"MODE": SECRET}),
    )


def printed(subject: DockerBottlePlan) -> str:
    out = io.StringIO()
    subject.print(out)
    return out.getvalue()


def test_the_plan_shows_every_section_in_order() -> None:
    titles = [section.title for section in plan().sections()]
    assert titles == [
        "agent", "bottle", "images", "runtime", "limits", "networks",
        "isolation", "egress allowlist", "env (names only)", "ssh hosts",
        "skills", "prompt", "claude command", "warnings",
    ]  # fmt: skip


def test_the_plan_names_containers_networks_images_and_runtime() -> None:
    text = printed(plan())
    for expected in (
        "dev (bottle web)",
        "agent container: bot-bottle-dev-abc123",
        "egress proxy container: bot-bottle-dev-abc123-proxy",
        "agent: bot-bottle-work-p:1234 (from bot-bottle-base:5678)",
        "egress proxy: ghcr.io/luckypipewrench/pipelock:2.3.0",
        "docker runtime: runsc (gVisor)",
        "memory 2g, 1.5 CPUs, 512 processes",
        "internal: bot-bottle-dev-abc123-internal",
        "egress: bot-bottle-dev-abc123-egress",
        "*.github.com",
        "API_TOKEN",
        "github.com",
        "/p/skills/review",
        "/p/prompt.md",
        "claude --dangerously-skip-permissions --model opus (in /p)",
        "forwards DNS",
    ):
        assert expected in text


def test_the_default_runtime_is_named_plainly() -> None:
    assert "docker runtime: runc (default)" in printed(plan(runtime=None))
    assert plan(runtime=None).runtime_label == "runc"


def test_no_env_value_appears_in_the_plan_or_its_repr() -> None:
    subject = plan()
    assert SECRET not in printed(subject)
    assert SECRET not in repr(subject)
