"""`DockerBottleBackend`: bottles as containers on a local Docker engine.

A launch makes, for one session: an internal network with no route out, an
egress network, the pipelock sidecar on both, and the agent container on the
internal network only, its proxy variables pointing at the sidecar by IP.
Every resource is labelled with the session and its owning process, which is
all teardown, cleanup and the active list go by.
"""

from __future__ import annotations

import io
import logging
import shutil
import socket
import tarfile
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from docker.errors import DockerException, ImageNotFound
from requests.exceptions import RequestException

from ... import settings
from ...claude_settings import (
    FILE_MODE,
    SKIP_PERMISSIONS,
    runs_unattended,
    unattended_files,
)
from ...env import resolve_env
from ...errors import BackendError, BadInputError, BotBottleError, LaunchError
from ...homecoming import bring_home, repository_head, work_branch_name
from ...manifest import resolve_path
from ...pipelock import PIPELOCK_PORT
from ...stage import PREFIX as STAGE_PREFIX
from ...stage import remove_stage_dir
from .. import (
    ActiveBottle,
    Bottle,
    BottleBackend,
    BottleCleanupPlan,
    BottlePlan,
    BottleSpec,
    BottleState,
    CleanupItem,
)
from . import labels as label
from .bottle import AgentUser, DockerBottle
from .bottle_cleanup_plan import DockerBottleCleanupPlan
from .bottle_plan import DockerBottlePlan
from .engine import Engine, describe, translated
from .hardening import agent_security, assess_engine
from .image import ImageBuilder
from .network import create_network
from .pipelock import DockerPipelockProxy, Sidecar
from .removal import SessionRemover, remove_containers, remove_networks
from .ssh import HELPER_DIR, SshIdentity, connect_helpers, known_hosts, ssh_config
from .util import (
    RUNSC,
    SessionNames,
    new_session_id,
    runsc_registered,
    runtime_line,
)

__all__ = ["AGENT_USER", "DockerBottleBackend", "proxy_environment"]

#: The user claude runs as; every bottle image defines it (docs/image.md).
AGENT_USER = "agent"

#: The start of a session whose label lost its time.
_EPOCH = datetime.fromtimestamp(0, UTC)

log = logging.getLogger(__name__)
#: The runtime choice is announced once per prepare on the product's logger.
announce = logging.getLogger("bot_bottle")


def proxy_environment(proxy_url: str) -> dict[str, str]:
    """The agent container's proxy variables; NO_PROXY covers loopback only."""
    return {
        "HTTP_PROXY": proxy_url,
        "HTTPS_PROXY": proxy_url,
        "http_proxy": proxy_url,
        "https_proxy": proxy_url,
        "NO_PROXY": "localhost,127.0.0.1",
        "no_proxy": "localhost,127.0.0.1",
    }


#: Git settings for every git run in the bottle. The .git copied in carries
#: the host's index, whose inode, device, ctime and owner never match the
#: files in the image, so git would re-read and re-hash the whole tree on its
#: first `status` or `add`. Modification times and sizes survive the copy;
#: comparing only those finds an unchanged tree unchanged at once.
GIT_STAT_SETTINGS = {
    "GIT_CONFIG_COUNT": "2",
    "GIT_CONFIG_KEY_0": "core.checkStat",
    "GIT_CONFIG_VALUE_0": "minimal",
    "GIT_CONFIG_KEY_1": "core.trustctime",
    "GIT_CONFIG_VALUE_1": "false",
}


class DockerBottleBackend(BottleBackend):
    """Runs bottles on the Docker engine the SDK finds (DOCKER_HOST, contexts)."""

    name = "docker"

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine or Engine()

    # -- prepare ------------------------------------------------------------

    def prepare(self, spec: BottleSpec, *, stage_dir: Path) -> DockerBottlePlan:
        agent, bottle = _agent_and_bottle(spec)
        env = resolve_env(spec.manifest, spec.agent)
        client = self.engine.client
        with translated("asking the Docker engine what it runs"):
            info = client.info()
        runtime = RUNSC if runsc_registered(info) else None
        announce.info("%s", runtime_line(runtime))
        engine = assess_engine(str(info.get("ServerVersion", "")), runtime)

        builder = ImageBuilder(client)
        base = builder.base_image(ca_certs=spec.ca_certs)
        image = builder.workdir_image(base, spec.workdir)
        sidecar_image = settings.pipelock_image()
        _ensure_image(client, sidecar_image)

        session = new_session_id()
        DockerPipelockProxy(bottle.egress.allowlist).prepare(stage_dir)
        return DockerBottlePlan(
            spec=spec,
            bottle=agent.bottle,
            stage_dir=stage_dir,
            claude_argv=_claude_argv(spec),
            allowlist=tuple(bottle.egress.allowlist),
            env_names=tuple(env.names),
            ssh_hosts=tuple(identity.host for identity in bottle.ssh),
            skills=tuple(str(path) for path in _skill_paths(spec)),
            prompt=_prompt_path(spec),
            warnings=engine.warnings,
            session=session,
            names=SessionNames.for_session(spec.agent, session),
            image=image,
            base_image=base,
            sidecar_image=sidecar_image,
            runtime=runtime,
            engine_version=engine.version,
            workdir=str(spec.workdir.resolve()),
            limits=bottle.limits,
            internal_network_options=dict(engine.internal_network_options),
            isolation=engine.isolation,
            env=env,
        )

    # -- launch -------------------------------------------------------------

    @contextmanager
    def launch(self, plan: BottlePlan) -> Iterator[DockerBottle]:
        docker_plan = _docker_plan(plan)
        client = self.engine.client
        remover = SessionRemover(client, docker_plan.session, plan.stage_dir)
        bottle: DockerBottle | None = None
        try:
            bottle = self._start(docker_plan, client, remover)
            yield bottle
        except BaseException:
            # The original error is what the caller needs; homecoming and
            # teardown failures are logged and go no further.
            _bring_work_home(bottle, docker_plan)
            _stop(bottle, remover)
            raise
        _bring_work_home(bottle, docker_plan)
        failures = _stop(bottle, remover)
        if failures:
            raise BackendError(
                f"teardown of {docker_plan.names.container} left resources "
                "behind; `bot-bottle cleanup` removes them once this process "
                "has exited"
            )

    def _start(
        self, plan: DockerBottlePlan, client: Any, remover: SessionRemover
    ) -> DockerBottle:
        names = plan.names
        with _step("creating the networks"):
            create_network(
                client,
                names.internal_network,
                _labels(plan, "network"),
                internal=True,
                options=plan.internal_network_options,
            )
            create_network(
                client, names.egress_network, _labels(plan, "network"), internal=False
            )

        proxy = self._sidecar(plan, client)
        proxy.start()

        with _step("creating the agent container"):
            container = self._create_agent(plan, client, proxy.proxy_url)
            user = _agent_user(container, plan.image)
        bottle = DockerBottle(
            plan,
            self.engine,
            container=container,
            user=user,
            proxy_host=proxy.internal_ip,
            remove=remover.remove,
        )

        # Files go in before the start: under gVisor a file the sandbox has
        # already read may not show a later copy.
        with _step("provisioning the bottle"):
            self.provision(plan, bottle)
            bottle.send_staged()
        with _step("starting the agent container"):
            _start_agent(container, plan)
        bottle.state = BottleState.RUNNING
        log.debug("bottle %s is running", bottle.name)
        return bottle

    def _sidecar(self, plan: DockerBottlePlan, client: Any) -> DockerPipelockProxy:
        labels = {**_labels(plan, "sidecar"), label.STAGE: str(plan.stage_dir)}
        sidecar = Sidecar(
            name=plan.names.sidecar,
            image=plan.sidecar_image,
            internal_network=plan.names.internal_network,
            egress_network=plan.names.egress_network,
            labels=labels,
        )
        proxy = DockerPipelockProxy(plan.allowlist, client=client, sidecar=sidecar)
        proxy.config_path = plan.stage_dir / proxy.config_name
        return proxy

    def _create_agent(self, plan: DockerBottlePlan, client: Any, proxy_url: str) -> Any:
        with translated(f"creating the agent container from image {plan.image}"):
            return client.containers.create(
                plan.image,
                ["sleep", "infinity"],
                name=plan.names.container,
                hostname=plan.names.container[:63],
                user=AGENT_USER,
                working_dir=plan.workdir,
                environment={**proxy_environment(proxy_url), **GIT_STAT_SETTINGS},
                labels=_labels(plan, "agent"),
                network=plan.names.internal_network,
                runtime=plan.runtime,
                init=True,
                mem_limit=plan.limits.memory,
                nano_cpus=int(plan.limits.cpus * 1_000_000_000),
                pids_limit=plan.limits.pids,
                **agent_security(),
            )

    # -- provisioning -------------------------------------------------------

    def provision_prompt(self, plan: BottlePlan, target: Bottle) -> None:
        bottle = _docker_bottle(target)
        claude_dir = bottle.user.home / ".claude"
        archive = bottle.archive()
        archive.add_dir(claude_dir, 0o700)
        if plan.prompt is not None:
            archive.add_bytes(claude_dir / "CLAUDE.md", plan.prompt.read_bytes())
        if runs_unattended(plan.claude_argv):
            # Claude's first-run questions answered, so nobody has to.
            for path, data in unattended_files(bottle.plan.workdir).items():
                archive.add_bytes(bottle.user.home / path, data, FILE_MODE)
        bottle.put(archive, "copying the prompt and claude's settings into the bottle")

    def provision_skills(self, plan: BottlePlan, target: Bottle) -> None:
        if not plan.skills:
            return
        bottle = _docker_bottle(target)
        skills_dir = bottle.user.home / ".claude" / "skills"
        archive = bottle.archive()
        archive.add_dir(skills_dir.parent, 0o700)
        archive.add_dir(skills_dir)
        for skill in plan.skills:
            host = Path(skill)
            archive.add_path(host, skills_dir / host.name)
        bottle.put(archive, "copying the skills into the bottle")

    def provision_ssh(self, plan: BottlePlan, target: Bottle) -> None:
        identities = _ssh_identities(plan.spec)
        if not identities:
            return
        bottle = _docker_bottle(target)
        ssh_dir = bottle.user.home / ".ssh"
        archive = bottle.archive()
        archive.add_dir(ssh_dir, 0o700)
        for identity in identities:
            archive.add_bytes(
                ssh_dir / identity.key_name, identity.key.read_bytes(), 0o600
            )
        archive.add_bytes(ssh_dir / "config", ssh_config(identities, ssh_dir).encode())
        archive.add_bytes(ssh_dir / "known_hosts", known_hosts(identities).encode())
        archive.add_dir(ssh_dir / HELPER_DIR)
        for name, (text, mode) in connect_helpers(
            bottle.proxy_host, PIPELOCK_PORT
        ).items():
            archive.add_bytes(ssh_dir / HELPER_DIR / name, text.encode(), mode)
        bottle.put(archive, "copying the SSH keys and config into the bottle")

    def provision_git(self, plan: BottlePlan, target: Bottle) -> None:
        git_dir = _git_dir(plan.spec.workdir)
        if git_dir is None:
            log.debug("%s is not in a git repository", plan.spec.workdir)
            return
        bottle = _docker_bottle(target)
        archive = bottle.archive()
        archive.add_path(git_dir, PurePosixPath(git_dir.as_posix()))
        bottle.put(archive, "copying the repository's .git into the bottle")
        bottle.git_repo = git_dir.parent
        bottle.git_base = repository_head(git_dir.parent)

    # -- what is running, and what is left over ------------------------------

    def list_active(self) -> list[ActiveBottle]:
        client = self.engine.client
        with translated("listing bottles"):
            containers = client.api.containers(all=True, filters=label.managed_filter())
        sessions: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for container in containers:
            labels = container.get("Labels") or {}
            owner = label.owner_of(labels)
            if owner is not None and owner.is_alive():
                sessions[labels.get(label.SESSION, "")].append(container)
        active = [_active(session, found) for session, found in sessions.items()]
        return sorted(active, key=lambda bottle: bottle.started_at)

    def prepare_cleanup(self) -> DockerBottleCleanupPlan:
        client = self.engine.client
        with translated("listing bot-bottle's containers and networks"):
            containers = client.api.containers(all=True, filters=label.managed_filter())
            networks = client.api.networks(filters=label.managed_filter())
        plan = DockerBottleCleanupPlan()
        for container in filter(_orphaned, containers):
            plan.items.append(_item("container", container["Names"][0], container))
            plan.container_ids.append(container["Id"])
            plan.stage_dirs += _stage_dir(container.get("Labels") or {})
        for network in filter(_orphaned, networks):
            plan.items.append(_item("network", network["Name"], network))
            plan.network_ids.append(network["Id"])
        return plan

    def cleanup(self, plan: BottleCleanupPlan) -> None:
        if not isinstance(plan, DockerBottleCleanupPlan):
            raise BackendError("a cleanup plan from another backend cannot be run here")
        client = self.engine.client
        failures = remove_containers(client, plan.container_ids)
        failures += remove_networks(client, plan.network_ids)
        for stage_dir in plan.stage_dirs:
            remove_stage_dir(stage_dir)
        if failures:
            raise BackendError(
                "cleanup could not remove everything:\n  " + "\n  ".join(failures)
            )


# -- helpers for prepare ------------------------------------------------------


def _agent_and_bottle(spec: BottleSpec) -> tuple[Any, Any]:
    if spec.agent not in spec.manifest.agents:
        known = ", ".join(sorted(spec.manifest.agents)) or "none"
        raise BadInputError(
            f"{spec.manifest_path} has no agent '{spec.agent}'; known agents: {known}"
        )
    agent = spec.manifest.agents[spec.agent]
    return agent, spec.manifest.bottles[agent.bottle]


def _claude_argv(spec: BottleSpec) -> tuple[str, ...]:
    agent = spec.manifest.agents[spec.agent]
    unattended = (SKIP_PERMISSIONS,) if agent.unattended else ()
    return (*unattended, *agent.claude_args, *spec.claude_args)


def _prompt_path(spec: BottleSpec) -> Path | None:
    prompt = spec.manifest.agents[spec.agent].prompt
    return None if prompt is None else resolve_path(spec.base_dir, prompt).resolve()


def _skill_paths(spec: BottleSpec) -> list[Path]:
    skills = spec.manifest.agents[spec.agent].skills
    return [resolve_path(spec.base_dir, skill).resolve() for skill in skills]


def _ssh_identities(spec: BottleSpec) -> list[SshIdentity]:
    keys = spec.manifest.bottle_for(spec.agent).ssh
    return [
        SshIdentity(
            host=key.host,
            user=key.user,
            port=key.port,
            key=resolve_path(spec.base_dir, key.key),
            known_hosts=tuple(key.known_hosts),
            index=index,
        )
        for index, key in enumerate(keys)
    ]


def _ensure_image(client: Any, name: str) -> None:
    with translated(f"looking up image {name}"):
        try:
            client.images.get(name)
            return
        except ImageNotFound:
            log.info("pulling the egress proxy image %s", name)
    try:
        with translated(f"pulling image {name}"):
            client.images.pull(name)
    except BackendError as exc:
        raise BackendError(
            f"the egress proxy image {name} is not on this engine and could not "
            f"be pulled ({exc}); load it, or set BOT_BOTTLE_PIPELOCK_IMAGE to an "
            "image that is"
        ) from exc


# -- helpers for launch -------------------------------------------------------


def _docker_plan(plan: BottlePlan) -> DockerBottlePlan:
    if not isinstance(plan, DockerBottlePlan):
        raise BackendError("a plan from another backend cannot be launched on Docker")
    return plan


def _docker_bottle(target: Bottle) -> DockerBottle:
    if not isinstance(target, DockerBottle):
        raise BackendError("only a Docker bottle can be provisioned by this backend")
    return target


def _labels(plan: DockerBottlePlan, role: str) -> dict[str, str]:
    return label.session_labels(
        session=plan.session,
        agent=plan.agent,
        bottle=plan.bottle,
        owner=label.Owner.current(),
        runtime=plan.runtime_label,
        role=role,
    )


def _bring_work_home(bottle: DockerBottle | None, plan: DockerBottlePlan) -> None:
    """Fetch the session's commits into the host repository, before teardown.

    Never raises: a failure here must not keep the bottle from being removed,
    so it is logged, and the bundle is kept where the user can fetch it.
    """
    if bottle is None or bottle.state is not BottleState.RUNNING:
        return
    if not bottle.claude_ran:
        return
    if bottle.git_repo is None or bottle.git_base is None:
        return
    bundle = plan.stage_dir / "work.bundle"
    try:
        if not bottle.export_work(bottle.git_base, bundle):
            log.info("no changes in the bottle; no branch made")
            return
        branch = work_branch_name(plan.agent, plan.session)
        bottle.work_branch = bring_home(bundle, bottle.git_repo, branch)
    except BotBottleError as exc:
        kept = _keep_bundle(bundle, bottle.git_repo, plan.session)
        log.warning("%s%s", exc, f"; the work is kept in {kept}" if kept else "")


def _keep_bundle(bundle: Path, repo: Path, session: str) -> Path | None:
    # Inside .git: out of the working tree, and next to the repository that
    # `git fetch <bundle>` will bring it into.
    if not bundle.is_file() or bundle.stat().st_size == 0:
        return None
    kept = repo / ".git" / "bot-bottle" / f"{session}.bundle"
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(bundle, kept)
    return kept


def _stop(bottle: DockerBottle | None, remover: SessionRemover) -> list[str]:
    failures = remover.remove()
    if bottle is not None:
        bottle.state = BottleState.STOPPED
    return failures


@contextmanager
def _step(step: str, detail: Callable[[], str] = str) -> Iterator[None]:
    """Report any failure inside as a LaunchError naming `step`."""
    try:
        yield
    except LaunchError:
        raise
    except BotBottleError as exc:
        raise LaunchError(step, str(exc), detail=detail()) from exc
    except (DockerException, RequestException) as exc:
        raise LaunchError(step, describe(exc), detail=detail()) from exc
    except OSError as exc:
        reason = exc.strerror or str(exc)
        where = f"{exc.filename}: " if exc.filename else ""
        raise LaunchError(step, f"{where}{reason}", detail=detail()) from exc


def _agent_user(container: Any, image: str) -> AgentUser:
    """The agent user's ids and home, from the image's /etc/passwd."""
    with translated(f"reading /etc/passwd of image {image}"):
        stream, _ = container.get_archive("/etc/passwd")
        data = b"".join(stream)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.extractfile("passwd")
        text = member.read().decode("utf-8", "replace") if member else ""
    user = _passwd_entry(text, AGENT_USER)
    if user is None:
        raise BackendError(
            f"image {image} has no user '{AGENT_USER}'; a bottle image needs "
            "one (see docs/image.md)"
        )
    return user


def _passwd_entry(text: str, name: str) -> AgentUser | None:
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 6 and fields[0] == name:
            return AgentUser(
                name, int(fields[2]), int(fields[3]), PurePosixPath(fields[5])
            )
    return None


def _start_agent(container: Any, plan: DockerBottlePlan) -> None:
    try:
        with translated("starting the agent container"):
            container.start()
    except BackendError as exc:
        if plan.runtime != RUNSC:
            raise
        raise BackendError(
            f"the gVisor runtime (runsc) is registered with Docker but could not "
            f"start the container ({exc}); repair runsc on this host, or remove "
            "it from /etc/docker/daemon.json to use the default runtime"
        ) from exc


def _git_dir(workdir: Path) -> Path | None:
    """The `.git` folder of the repository holding `workdir`, if any."""
    for folder in (workdir.resolve(), *workdir.resolve().parents):
        candidate = folder / ".git"
        if candidate.is_dir():
            return candidate
        if candidate.exists():
            log.warning("%s is a linked work tree; its .git is not copied", folder)
            return None
    return None


# -- helpers for listing and cleanup ------------------------------------------


def _orphaned(resource: Mapping[str, Any]) -> bool:
    """Whether a labelled resource's owner is certainly gone."""
    owner = label.owner_of(resource.get("Labels") or {})
    return owner is not None and not owner.is_alive()


def _item(kind: str, name: str, resource: Mapping[str, Any]) -> CleanupItem:
    labels = resource.get("Labels") or {}
    return CleanupItem(
        kind=kind,
        name=name.lstrip("/"),
        session=labels.get(label.SESSION, "?"),
        agent=labels.get(label.AGENT, "?"),
    )


def _stage_dir(labels: Mapping[str, str]) -> list[Path]:
    """The stage dir a dead sidecar used, when it is clearly one of ours."""
    text = labels.get(label.STAGE, "")
    path = Path(text)
    owner = label.owner_of(labels)
    if not text or owner is None or not path.is_absolute():
        return []
    if not path.name.startswith(STAGE_PREFIX) or owner.host != socket.gethostname():
        return []
    return [path]


def _active(session: str, containers: Sequence[Mapping[str, Any]]) -> ActiveBottle:
    labels = containers[0].get("Labels") or {}
    started = label.started_at(labels)
    names = sorted(container["Names"][0].lstrip("/") for container in containers)
    return ActiveBottle(
        session=session,
        agent=labels.get(label.AGENT, "?"),
        bottle=labels.get(label.BOTTLE, "?"),
        runtime=labels.get(label.RUNTIME, "?"),
        started_at=started or _EPOCH,
        containers=tuple(names),
    )
