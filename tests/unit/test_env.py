"""resolve_env: forwarded names and literals, and no value in any message."""

from __future__ import annotations

import pytest

from bot_bottle.env import resolve_env
from bot_bottle.errors import BadInputError
from bot_bottle.manifest import Manifest

SECRET = "sk-canary-5f3e9a"


def manifest_with_env(env: dict[str, object]) -> Manifest:
    return Manifest.model_validate(
        {"bottles": {"web": {"env": env}}, "agents": {"coder": {"bottle": "web"}}}
    )


def test_forwarded_names_and_literals_are_kept_apart() -> None:
    manifest = manifest_with_env({"forward": ["TOKEN"], "set": {"LEVEL": "debug"}})

    env = resolve_env(manifest, "coder", {"TOKEN": SECRET})

    assert env.forwarded == ("TOKEN",)
    assert env.literals == {"LEVEL": "debug"}
    assert env.names == ["LEVEL", "TOKEN"]


def test_values_reads_forwarded_values_from_the_host_environment() -> None:
    manifest = manifest_with_env({"forward": ["TOKEN"], "set": {"LEVEL": "debug"}})
    env = resolve_env(manifest, "coder", {"TOKEN": SECRET})

    assert env.values({"TOKEN": SECRET}) == {"TOKEN": SECRET, "LEVEL": "debug"}


def test_the_repr_shows_names_and_never_values() -> None:
    manifest = manifest_with_env({"forward": ["TOKEN"], "set": {"LEVEL": SECRET}})

    text = repr(resolve_env(manifest, "coder", {"TOKEN": SECRET}))

    assert SECRET not in text
    assert "TOKEN" in text and "LEVEL" in text


def test_a_forwarded_variable_unset_on_the_host_is_named_in_the_error() -> None:
    manifest = manifest_with_env({"forward": ["TOKEN", "OTHER"]})

    with pytest.raises(BadInputError) as caught:
        resolve_env(manifest, "coder", {"TOKEN": SECRET})

    message = str(caught.value)
    assert "bottles.web.env.forward names OTHER, unset on the host" in message
    assert SECRET not in message


@pytest.mark.parametrize("bad", [f"{SECRET}\nmore", f"{SECRET}\0"])
def test_a_forwarded_value_with_newline_or_nul_is_refused_without_echoing_it(
    bad: str,
) -> None:
    manifest = manifest_with_env({"forward": ["TOKEN"]})

    with pytest.raises(BadInputError) as caught:
        resolve_env(manifest, "coder", {"TOKEN": bad})

    assert "TOKEN" in str(caught.value)
    assert SECRET not in str(caught.value)
