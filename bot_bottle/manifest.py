"""The manifest, `bot-bottle.json`: its models, its rules and how it is loaded.

The models refuse unknown keys and say, for every malformed input, where it is
(`bottles.web.egress.allowlist[2]`) and what to do about it. Loading checks the
files the manifest points at too, so a plan is never made from a manifest that
would fail half-way through a launch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .errors import ManifestError
from .util import expand_tilde, is_ipv4_literal

__all__ = [
    "Agent",
    "Bottle",
    "Egress",
    "EnvConfig",
    "Limits",
    "Manifest",
    "SshKey",
    "load_manifest",
    "manifest_json_schema",
]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_NAME_MAX = 40
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")

RUNTIME_REFUSAL = (
    "bottle '{bottle}' has a 'runtime' field, which is no longer supported. "
    "gVisor (runsc) is now auto-detected by the backend; remove the 'runtime' "
    "field from the bottle definition."
)


def _problem(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name) or len(name) > _NAME_MAX:
        raise _problem(
            "bad_name",
            f"'{name}' cannot name a container or network; use at most "
            f"{_NAME_MAX} letters, digits, '_', '.' or '-', starting with a "
            "letter or digit",
        )
    return name


def _check_env_name(name: str) -> str:
    if not _ENV_NAME.fullmatch(name):
        raise _problem(
            "bad_env_name",
            f"'{name}' is not a valid environment variable name; use letters, "
            "digits and '_', not starting with a digit",
        )
    return name


def _check_env_value(value: str) -> str:
    if "\n" in value or "\r" in value or "\0" in value:
        # The value itself is never repeated: it may be a secret.
        raise _problem(
            "bad_env_value",
            "the value contains a newline or NUL, which an environment variable "
            "cannot carry safely; put it in a file instead",
        )
    return value


def _is_hostname(text: str) -> bool:
    labels = text.split(".")
    return len(text) <= 253 and all(_LABEL.fullmatch(label) for label in labels)


def check_allowlist_entry(entry: str) -> str:
    """One allowlist entry: a hostname, a `*.domain` wildcard or an IPv4 literal."""
    if entry != entry.strip() or not entry:
        raise _problem("bad_host", "an allowlist entry must be a non-empty host name")
    if "://" in entry:
        host = entry.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
        raise _problem(
            "bad_host",
            f"'{entry}' is a URL; write the host name alone, e.g. '{host}'",
        )
    if "/" in entry:
        raise _problem(
            "bad_host",
            f"'{entry}' carries a path; the allowlist takes host names only, "
            f"e.g. '{entry.split('/', 1)[0]}'",
        )
    if ":" in entry:
        raise _problem(
            "bad_host",
            f"'{entry}' carries a port or is an IPv6 address; write the host "
            "name alone (every port of an allowed host is reachable)",
        )
    if entry == "*":
        raise _problem(
            "bad_host",
            "a bare '*' would allow every host; list the domains the agent needs",
        )
    if entry.startswith("*."):
        domain = entry[2:]
        if not _is_hostname(domain) or "." not in domain:
            raise _problem(
                "bad_host",
                f"'{entry}' is too broad or malformed; a wildcard needs a domain "
                "of at least two labels, e.g. '*.example.com'",
            )
        return entry.lower()
    if is_ipv4_literal(entry):
        return entry
    if re.fullmatch(r"[0-9.]+", entry) or not _is_hostname(entry):
        raise _problem(
            "bad_host",
            f"'{entry}' is not a host name, a '*.domain' wildcard or an IPv4 address",
        )
    return entry.lower()


Name = Annotated[str, AfterValidator(_check_name)]
EnvName = Annotated[str, AfterValidator(_check_env_name)]
EnvValue = Annotated[str, AfterValidator(_check_env_value)]
AllowlistEntry = Annotated[str, AfterValidator(check_allowlist_entry)]


class _Model(BaseModel):
    # Strict: "yes" is not a boolean and "22" is not a port.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class EnvConfig(_Model):
    """The environment claude sees inside the bottle."""

    forward: list[EnvName] = Field(
        default_factory=list,
        description=(
            "Names of host environment variables whose values are passed into "
            "the bottle under the same name. Each must be set on the host when "
            "the bottle starts. Values are handed to claude at exec time and "
            "never written to a plan, log or file. Default: none."
        ),
    )
    set: dict[EnvName, EnvValue] = Field(
        default_factory=dict,
        # A repr ends up in tracebacks and logs; the names are enough there.
        repr=False,
        description=(
            "Variables given literal values, name to value. For settings, not "
            "secrets: the manifest is a plain file. Values may not contain a "
            "newline or NUL. Default: none."
        ),
    )

    @model_validator(mode="after")
    def _no_name_twice(self) -> EnvConfig:
        both = sorted(set(self.forward) & set(self.set))
        if both:
            raise _problem(
                "env_twice",
                f"{', '.join(both)} is both forwarded and set; keep one",
            )
        return self


class SshKey(_Model):
    """An SSH identity the agent may use, for one host."""

    host: str = Field(
        description=(
            "The SSH server's host name, e.g. 'github.com'. It must be covered "
            "by the bottle's egress allowlist: SSH leaves through the proxy."
        ),
    )
    key: str = Field(
        description=(
            "Path to the private key file on the host; '~' is expanded and a "
            "relative path is taken from the manifest's folder."
        ),
    )
    user: str = Field(
        default="git",
        description="The user to log in as. Default: 'git'.",
    )
    port: int = Field(
        default=22, ge=1, le=65535, description="The server's port. Default: 22."
    )
    known_hosts: list[str] = Field(
        default_factory=list,
        description=(
            "known_hosts lines for the server (`host keytype base64`). When "
            "empty, the first key the server offers is accepted and remembered "
            "for the session. Default: none."
        ),
    )

    @model_validator(mode="after")
    def _host_is_a_host(self) -> SshKey:
        check_allowlist_entry(self.host)
        if self.host.startswith("*."):
            raise _problem("bad_host", "an SSH host must be one host, not a wildcard")
        return self


class Egress(_Model):
    """Where the bottle may connect to, through the egress proxy."""

    allowlist: list[AllowlistEntry] = Field(
        default_factory=list,
        description=(
            "Hosts the agent may reach: a host name ('api.anthropic.com'), a "
            "wildcard ('*.github.com', which also matches 'github.com') or an "
            "IPv4 address ('10.0.0.5'). No URLs, ports or paths. Everything "
            "else is refused by the proxy. Default: empty (nothing reachable)."
        ),
    )


_MEMORY = re.compile(r"([0-9]+)([kmg])", re.IGNORECASE)
_MEMORY_UNITS = {"k": 1024, "m": 1024**2, "g": 1024**3}
MIN_MEMORY = 64 * 1024**2


def memory_bytes(text: str) -> int:
    """'512m' or '4g' as a number of bytes."""
    match = _MEMORY.fullmatch(text.strip())
    if match is None:
        raise ValueError(text)
    return int(match.group(1)) * _MEMORY_UNITS[match.group(2).lower()]


def _check_memory(text: str) -> str:
    try:
        size = memory_bytes(text)
    except ValueError:
        raise _problem(
            "bad_memory",
            f"'{text}' is not a memory size; write a whole number with k, m or g, "
            "e.g. '4g'",
        ) from None
    if size < MIN_MEMORY:
        raise _problem(
            "bad_memory", f"'{text}' is too little; claude needs 64m or more"
        )
    return text


class Limits(_Model):
    """What the agent container may use of the host."""

    memory: Annotated[str, AfterValidator(_check_memory)] = Field(
        default="4g",
        description=(
            "Memory limit, a whole number with k, m or g ('4g'); at least 64m. "
            "Default: '4g'."
        ),
    )
    cpus: float = Field(
        default=2.0,
        gt=0,
        le=1024,
        description="CPUs the agent may use, e.g. 1.5. Default: 2.",
    )
    pids: int = Field(
        default=1024,
        ge=64,
        le=1_000_000,
        description=(
            "The most processes and threads at once; stops fork bombs. Default: 1024."
        ),
    )


class Bottle(_Model):
    """An isolated environment: what it holds and where it may connect."""

    env: EnvConfig = Field(
        default_factory=EnvConfig, description="Environment for claude."
    )
    ssh: list[SshKey] = Field(
        default_factory=list,
        description="SSH identities installed for git over SSH. Default: none.",
    )
    egress: Egress = Field(default_factory=Egress, description="The egress allowlist.")
    limits: Limits = Field(
        default_factory=Limits,
        description="Memory, CPU and process limits for the agent container.",
    )

    @model_validator(mode="after")
    def _ssh_hosts_allowed(self) -> Bottle:
        for index, identity in enumerate(self.ssh):
            if not allows(self.egress.allowlist, identity.host):
                raise _problem(
                    "ssh_not_allowed",
                    f"ssh[{index}] host '{identity.host}' is not on "
                    "egress.allowlist; add it there or remove the key",
                )
        return self


class Agent(_Model):
    """A named use of a bottle: what claude is told and given."""

    bottle: Name = Field(description="The name of a bottle under 'bottles'.")
    description: str = Field(
        default="", description="A line shown beside the agent in the dashboard."
    )
    prompt: str | None = Field(
        default=None,
        description=(
            "Path to a Markdown file of instructions, installed as claude's "
            "user memory (~/.claude/CLAUDE.md) in the bottle. Relative paths "
            "are taken from the manifest's folder. Default: none."
        ),
    )
    skills: list[str] = Field(
        default_factory=list,
        description=(
            "Paths to skill folders, each holding a SKILL.md, installed in "
            "~/.claude/skills/ in the bottle. Default: none."
        ),
    )
    claude_args: list[str] = Field(
        default_factory=list,
        description=(
            "Extra arguments for claude, before any given after '--' on the "
            'command line, e.g. ["--model", "opus"]. Default: none.'
        ),
    )
    unattended: bool = Field(
        default=False,
        description=(
            "Run claude without permission prompts "
            "(--dangerously-skip-permissions), with its settings in the bottle "
            "set so no first-run question waits for a person. The bottle is "
            "the boundary. Default: false."
        ),
    )


class Manifest(_Model):
    """bot-bottle.json: the bottles and the agents that use them."""

    schema_ref: str | None = Field(
        default=None,
        alias="$schema",
        description="Where editors find this file's JSON Schema.",
    )
    bottles: dict[Name, Bottle] = Field(
        description="Bottles by name. Names become part of container names."
    )
    agents: dict[Name, Agent] = Field(
        description="Agents by name. Names become part of container names."
    )

    @model_validator(mode="before")
    @classmethod
    def _refuse_runtime(cls, data: Any) -> Any:
        # Checked before field validation so the message can name the bottle
        # and give the reason, rather than a bare "unknown key".
        bottles = data.get("bottles") if isinstance(data, dict) else None
        if not isinstance(bottles, dict):
            return data
        for name, body in bottles.items():
            if isinstance(body, dict) and "runtime" in body:
                raise _problem("runtime", RUNTIME_REFUSAL.format(bottle=name))
        return data

    @model_validator(mode="after")
    def _agents_name_bottles(self) -> Manifest:
        for agent_name, agent in self.agents.items():
            if agent.bottle not in self.bottles:
                known = ", ".join(sorted(self.bottles)) or "none"
                raise _problem(
                    "missing_bottle",
                    f"agents.{agent_name}.bottle names '{agent.bottle}', which "
                    f"is not under 'bottles' (known: {known})",
                )
        return self

    def agent(self, name: str) -> Agent:
        return self.agents[name]

    def bottle_for(self, agent_name: str) -> Bottle:
        return self.bottles[self.agents[agent_name].bottle]


def allows(allowlist: list[str], host: str) -> bool:
    """Whether `host` is covered by `allowlist`, as the proxy will judge it."""
    host = host.lower()
    for entry in allowlist:
        if entry.startswith("*."):
            domain = entry[2:]
            if host == domain or host.endswith("." + domain):
                return True
        elif host == entry:
            return True
    return False


def manifest_json_schema() -> dict[str, Any]:
    """The manifest's JSON Schema, as `bot-bottle schema` prints it."""
    schema = Manifest.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "bot-bottle manifest"
    return schema


def load_manifest(path: Path) -> Manifest:
    """Read, validate and check the manifest at `path`.

    Raises:
        ManifestError: for anything wrong, each problem with its place.
    """
    source = str(path)
    text = _read_json(path)
    try:
        manifest = Manifest.model_validate_json(text)
    except ValidationError as exc:
        raise ManifestError(source, list(_describe(exc))) from None
    problems = list(_missing_files(manifest, path.parent))
    if problems:
        raise ManifestError(source, problems)
    return manifest


def resolve_path(base_dir: Path, text: str) -> Path:
    """A manifest path made absolute: `~` expanded, relative to the manifest."""
    path = expand_tilde(text)
    return path if path.is_absolute() else (base_dir / path)


def _read_json(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(
            str(path),
            [
                "no such file; pass --manifest PATH, set BOT_BOTTLE_MANIFEST, or "
                "create bot-bottle.json (see bot-bottle.example.json)"
            ],
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ManifestError(str(path), [f"cannot be read: {reason}"]) from None
    try:
        # Parsed once here for its error positions; pydantic parses it again.
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(
            str(path),
            [f"line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}"],
        ) from None
    return text


def _describe(exc: ValidationError) -> Iterator[str]:
    for error in exc.errors(include_url=False, include_input=False):
        place = _place(error["loc"])
        message = _explain(error)
        yield f"{place}: {message}" if place else message


def _place(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part == "[key]":
            # pydantic marks a bad dict key as a trailing '[key]'
            continue
        else:
            text += f".{part}" if text else str(part)
    return text


_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "an array",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


def _explain(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key; remove it or check its spelling in docs/manifest.md"
    if kind == "missing":
        return "required; add it (see docs/manifest.md)"
    if kind in _EXPECTED:
        return f"must be {_EXPECTED[kind]}"
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("more than", "gt"),
        "less_than_equal": ("at most", "le"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return f"must be {words} {error['ctx'][key]}"
    return str(error["msg"])


def _missing_files(manifest: Manifest, base_dir: Path) -> Iterator[str]:
    for name, agent in manifest.agents.items():
        if agent.prompt is not None:
            path = resolve_path(base_dir, agent.prompt)
            if not path.is_file():
                yield (
                    f"agents.{name}.prompt: {path} is not a file; create it "
                    "or fix the path"
                )
        for index, skill in enumerate(agent.skills):
            path = resolve_path(base_dir, skill)
            if not (path / "SKILL.md").is_file():
                yield (
                    f"agents.{name}.skills[{index}]: {path} is not a skill "
                    "folder (no SKILL.md in it); fix the path"
                )
    for name, bottle in manifest.bottles.items():
        for index, identity in enumerate(bottle.ssh):
            path = resolve_path(base_dir, identity.key)
            if not path.is_file():
                yield (
                    f"bottles.{name}.ssh[{index}].key: {path} is not a file; "
                    "fix the path to the private key"
                )
