"""Backend-neutral helpers and the settings read from the environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot_bottle import settings
from bot_bottle.util import expand_tilde, format_age, is_ipv4_literal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.5", True),
        ("255.255.255.255", True),
        ("10.0.0.05", False),
        ("10.1", False),
        ("0x7f.0.0.1", False),
        ("github.com", False),
        ("::1", False),
        ("", False),
    ],
)
def test_is_ipv4_literal_accepts_only_canonical_dotted_quads(
    text: str, expected: bool
) -> None:
    assert is_ipv4_literal(text) is expected


def test_expand_tilde_expands_home_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOME", "/home/someone")

    assert expand_tilde("~/.ssh/id") == Path("/home/someone/.ssh/id")
    assert expand_tilde("rel/$HOME") == Path("rel/$HOME")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (59.9, "59s"),
        (60, "1m 00s"),
        (3599, "59m 59s"),
        (3660, "1h 01m"),
        (90000, "1d 01h"),
        (-5, "0s"),
    ],
)
def test_format_age_reads_at_a_glance(seconds: float, text: str) -> None:
    assert format_age(seconds) == text


def test_the_manifest_path_prefers_the_flag_then_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BOT_BOTTLE_MANIFEST", raising=False)
    assert settings.manifest_path() == Path("bot-bottle.json")

    monkeypatch.setenv("BOT_BOTTLE_MANIFEST", "/etc/bb.json")
    assert settings.manifest_path() == Path("/etc/bb.json")
    assert settings.manifest_path("mine.json") == Path("mine.json")


def test_settings_have_defaults_and_honour_overrides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in (
        "BOT_BOTTLE_BACKEND",
        "BOT_BOTTLE_PIPELOCK_IMAGE",
        "BOT_BOTTLE_CLAUDE_VERSION",
        "BOT_BOTTLE_BASE_IMAGE",
    ):
        monkeypatch.delenv(name, raising=False)
    assert settings.backend_name() == "docker"
    assert settings.pipelock_image().startswith("ghcr.io/luckypipewrench/pipelock:")
    assert settings.base_image() is None

    monkeypatch.setenv("BOT_BOTTLE_PIPELOCK_IMAGE", "proxy:test")
    monkeypatch.setenv("BOT_BOTTLE_CLAUDE_VERSION", "9.9.9")
    assert settings.pipelock_image() == "proxy:test"
    assert settings.claude_version() == "9.9.9"


def test_the_pinned_pipelock_tag_is_a_version_without_a_v() -> None:
    tag = settings.PIPELOCK_IMAGE.rsplit(":", 1)[1]
    assert tag[0].isdigit()


def test_ca_certs_are_a_path_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_BOTTLE_CA_CERTS", os.pathsep.join(["/a.crt", "", "/b.crt"]))

    assert settings.ca_cert_paths() == [Path("/a.crt"), Path("/b.crt")]
