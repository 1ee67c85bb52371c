"""The manifest's rules: what loads, and the message for each bad input."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from bot_bottle.errors import BadInputError, ManifestError
from bot_bottle.manifest import allows, load_manifest

from .conftest import WriteManifest, minimal_manifest


def problems_for(write_manifest: WriteManifest, data: dict[str, Any]) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_manifest(write_manifest(data))
    return list(caught.value.problems)


def with_bottle(**fields: Any) -> dict[str, Any]:
    data = minimal_manifest()
    data["bottles"]["web"].update(fields)
    return data


def with_agent(**fields: Any) -> dict[str, Any]:
    data = minimal_manifest()
    data["agents"]["coder"].update(fields)
    return data


def test_a_complete_manifest_loads_with_every_field(
    write_manifest: WriteManifest, tmp_path: Path
) -> None:
    (tmp_path / "prompt.md").write_text("Be careful.")
    (tmp_path / "skills" / "lint").mkdir(parents=True)
    (tmp_path / "skills" / "lint" / "SKILL.md").write_text("---\nname: lint\n---\n")
    (tmp_path / "id_agent").write_text("not really a key")
    data = {
        "$schema": "docs/bot-bottle.schema.json",
        "bottles": {
            "web": {
                "env": {"forward": ["TOKEN"], "set": {"LEVEL": "debug"}},
                "ssh": [{"host": "github.com", "key": "id_agent", "port": 2222}],
                "egress": {"allowlist": ["*.github.com", "10.0.0.5"]},
            }
        },
        "agents": {
            "coder": {
                "bottle": "web",
                "prompt": "prompt.md",
                "skills": ["skills/lint"],
                "claude_args": ["--model", "opus"],
                "unattended": True,
            }
        },
    }

    manifest = load_manifest(write_manifest(data))

    assert manifest.bottles["web"].ssh[0].user == "git"
    assert manifest.bottles["web"].ssh[0].port == 2222
    assert manifest.agents["coder"].unattended is True
    assert manifest.bottle_for("coder").egress.allowlist == ["*.github.com", "10.0.0.5"]


def test_a_bottle_with_runtime_is_refused_with_the_documented_message(
    write_manifest: WriteManifest,
) -> None:
    problems = problems_for(write_manifest, with_bottle(runtime="runsc"))

    assert problems == [
        "bottle 'web' has a 'runtime' field, which is no longer supported. gVisor "
        "(runsc) is now auto-detected by the backend; remove the 'runtime' field "
        "from the bottle definition."
    ]


def test_invalid_json_names_the_line_and_column(write_manifest: WriteManifest) -> None:
    path = write_manifest({})
    path.write_text('{\n  "bottles": {,\n}')

    with pytest.raises(ManifestError) as caught:
        load_manifest(path)

    assert str(caught.value).startswith(f"{path}: line 2, column 15: invalid JSON")


def test_a_missing_manifest_says_how_to_name_one(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        load_manifest(tmp_path / "absent.json")

    message = str(caught.value)
    assert "no such file" in message
    assert "--manifest" in message and "BOT_BOTTLE_MANIFEST" in message


def test_manifest_errors_are_bad_input_with_exit_status_2() -> None:
    assert issubclass(ManifestError, BadInputError)
    assert ManifestError("m.json", ["x"]).exit_status == 2


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            "https://github.com/org",
            "is a URL; write the host name alone, e.g. 'github.com'",
        ),
        ("github.com:443", "carries a port"),
        ("github.com/org", "carries a path"),
        ("", "must be a non-empty host name"),
        (" github.com", "must be a non-empty host name"),
        ("*", "a bare '*' would allow every host"),
        ("*.com", "too broad or malformed"),
        ("*.", "too broad or malformed"),
        ("exa mple.com", "is not a host name"),
        ("-bad.com", "is not a host name"),
        ("10.0.0.05", "is not a host name"),
        ("999.1.1.1", "is not a host name"),
        ("::1", "carries a port or is an IPv6 address"),
    ],
)
def test_each_malformed_allowlist_entry_is_refused_at_its_place(
    write_manifest: WriteManifest, entry: str, expected: str
) -> None:
    data = with_bottle(egress={"allowlist": ["api.anthropic.com", "x.org", entry]})

    problems = problems_for(write_manifest, data)

    assert len(problems) == 1
    assert problems[0].startswith("bottles.web.egress.allowlist[2]: ")
    assert expected in problems[0]


@pytest.mark.parametrize(
    "entry", ["api.anthropic.com", "*.github.com", "10.0.0.5", "localhost", "A.B.C"]
)
def test_hosts_wildcards_and_ipv4_literals_are_accepted(
    write_manifest: WriteManifest, entry: str
) -> None:
    manifest = load_manifest(write_manifest(with_bottle(egress={"allowlist": [entry]})))

    assert manifest.bottles["web"].egress.allowlist == [entry.lower()]


def test_unknown_keys_are_refused_at_every_depth(write_manifest: WriteManifest) -> None:
    data = minimal_manifest()
    data["extra"] = 1
    data["bottles"]["web"]["egress"]["allow"] = []
    data["agents"]["coder"]["model"] = "opus"

    problems = problems_for(write_manifest, data)

    assert sorted(problems) == sorted(
        [
            f"{place}: unknown key; remove it or check its spelling in docs/manifest.md"
            for place in ("extra", "bottles.web.egress.allow", "agents.coder.model")
        ]
    )


@pytest.mark.parametrize(
    ("change", "place", "expected"),
    [
        ({"skills": "lint"}, "agents.coder.skills", "must be an array"),
        ({"unattended": "yes"}, "agents.coder.unattended", "must be true or false"),
        ({"claude_args": [1]}, "agents.coder.claude_args[0]", "must be a string"),
        ({"bottle": None}, "agents.coder.bottle", "must be a string"),
    ],
)
def test_wrong_types_name_the_field_and_the_expected_type(
    write_manifest: WriteManifest, change: dict[str, Any], place: str, expected: str
) -> None:
    problems = problems_for(write_manifest, with_agent(**change))

    assert problems == [f"{place}: {expected}"]


def test_missing_top_level_sections_are_required(write_manifest: WriteManifest) -> None:
    problems = problems_for(write_manifest, {"bottles": {}})

    assert problems == ["agents: required; add it (see docs/manifest.md)"]


def test_an_agent_naming_a_missing_bottle_lists_the_known_ones(
    write_manifest: WriteManifest,
) -> None:
    problems = problems_for(write_manifest, with_agent(bottle="nope"))

    assert problems == [
        "agents.coder.bottle names 'nope', which is not under 'bottles' (known: web)"
    ]


@pytest.mark.parametrize("name", ["has space", "-dash", "ünicode", "x" * 41, "a/b"])
def test_names_that_cannot_become_docker_names_are_refused(
    write_manifest: WriteManifest, name: str
) -> None:
    data = minimal_manifest()
    data["agents"] = {name: {"bottle": "web"}}

    problems = problems_for(write_manifest, data)

    assert len(problems) == 1
    assert problems[0].startswith(f"agents.{name}: '{name}' cannot name a container")


@pytest.mark.parametrize("name", ["1ABC", "A-B", "A B", ""])
def test_env_names_must_be_variable_names(
    write_manifest: WriteManifest, name: str
) -> None:
    problems = problems_for(write_manifest, with_bottle(env={"forward": [name]}))

    assert problems == [
        f"bottles.web.env.forward[0]: '{name}' is not a valid environment variable "
        "name; use letters, digits and '_', not starting with a digit"
    ]


@pytest.mark.parametrize("value", ["line1\nline2", "carriage\rreturn", "nul\0byte"])
def test_env_values_with_newline_or_nul_are_refused_without_echoing_them(
    write_manifest: WriteManifest, value: str
) -> None:
    problems = problems_for(write_manifest, with_bottle(env={"set": {"LEVEL": value}}))

    assert len(problems) == 1
    assert problems[0].startswith("bottles.web.env.set.LEVEL: the value contains")
    assert value not in problems[0]


def test_a_variable_both_forwarded_and_set_is_refused(
    write_manifest: WriteManifest,
) -> None:
    data = with_bottle(env={"forward": ["TOKEN"], "set": {"TOKEN": "x"}})

    problems = problems_for(write_manifest, data)

    assert problems == ["bottles.web.env: TOKEN is both forwarded and set; keep one"]


def test_missing_prompt_skill_and_key_files_are_each_reported(
    write_manifest: WriteManifest, tmp_path: Path
) -> None:
    (tmp_path / "skills" / "empty").mkdir(parents=True)
    data = with_agent(prompt="nope.md", skills=["skills/empty"])
    data["bottles"]["web"]["ssh"] = [{"host": "api.anthropic.com", "key": "id_x"}]

    problems = problems_for(write_manifest, data)

    assert problems == [
        f"agents.coder.prompt: {tmp_path / 'nope.md'} is not a file; create it or "
        "fix the path",
        f"agents.coder.skills[0]: {tmp_path / 'skills/empty'} is not a skill folder "
        "(no SKILL.md in it); fix the path",
        f"bottles.web.ssh[0].key: {tmp_path / 'id_x'} is not a file; fix the path "
        "to the private key",
    ]


def test_an_ssh_host_must_be_on_the_allowlist(
    write_manifest: WriteManifest, tmp_path: Path
) -> None:
    (tmp_path / "id_x").write_text("key")
    data = with_bottle(ssh=[{"host": "gitlab.com", "key": "id_x"}])

    problems = problems_for(write_manifest, data)

    assert problems == [
        "bottles.web: ssh[0] host 'gitlab.com' is not on egress.allowlist; add it "
        "there or remove the key"
    ]


def test_an_ssh_port_out_of_range_is_refused(
    write_manifest: WriteManifest, tmp_path: Path
) -> None:
    data = with_bottle(ssh=[{"host": "api.anthropic.com", "key": "k", "port": 0}])

    problems = problems_for(write_manifest, data)

    assert problems == ["bottles.web.ssh[0].port: must be at least 1"]


def test_several_problems_are_reported_together_one_per_line(
    write_manifest: WriteManifest,
) -> None:
    data = copy.deepcopy(minimal_manifest())
    data["bottles"]["web"]["egress"]["allowlist"] = ["*", "a:1"]

    with pytest.raises(ManifestError) as caught:
        load_manifest(write_manifest(data))

    lines = str(caught.value).splitlines()
    assert lines[0].endswith("bot-bottle.json: 2 problems:")
    assert lines[1].startswith("  bottles.web.egress.allowlist[0]: ")
    assert lines[2].startswith("  bottles.web.egress.allowlist[1]: ")


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("github.com", True),
        ("api.github.com", True),
        ("GITHUB.COM", True),
        ("evilgithub.com", False),
        ("anthropic.com", False),
        ("api.anthropic.com", True),
    ],
)
def test_allows_matches_wildcards_like_the_proxy(host: str, allowed: bool) -> None:
    assert allows(["*.github.com", "api.anthropic.com"], host) is allowed


def test_limits_have_sensible_defaults(write_manifest: WriteManifest) -> None:
    limits = load_manifest(write_manifest(minimal_manifest())).bottles["web"].limits

    assert (limits.memory, limits.cpus, limits.pids) == ("4g", 2.0, 1024)


@pytest.mark.parametrize(
    ("limits", "place", "expected"),
    [
        ({"memory": "lots"}, "memory", "'lots' is not a memory size"),
        ({"memory": "4 gb"}, "memory", "is not a memory size"),
        ({"memory": "10m"}, "memory", "'10m' is too little"),
        ({"cpus": 0}, "cpus", "must be more than 0"),
        ({"cpus": "2"}, "cpus", "must be a number"),
        ({"pids": 10}, "pids", "must be at least 64"),
        ({"pids": 1.5}, "pids", "must be an integer"),
    ],
)
def test_bad_limits_are_refused_at_their_place(
    write_manifest: WriteManifest, limits: dict[str, Any], place: str, expected: str
) -> None:
    problems = problems_for(write_manifest, with_bottle(limits=limits))

    assert len(problems) == 1
    assert problems[0].startswith(f"bottles.web.limits.{place}: ")
    assert expected in problems[0]
