"""The pipelock config: strict, only known keys, IP literals as /32 CIDRs."""

from __future__ import annotations

import stat
from pathlib import Path

import yaml

from bot_bottle.pipelock import TUNNEL_SECONDS, PipelockProxy

#: Every key bot-bottle may write, from pipelock's configuration reference.
#: pipelock refuses to start on any key it does not know.
KNOWN_KEYS = {
    "version": None,
    "mode": None,
    "api_allowlist": None,
    "forward_proxy": {"enabled", "max_tunnel_seconds"},
    "ssrf": {"ip_allowlist"},
}


class RecordingProxy(PipelockProxy):
    """A proxy that records start and stop; the config is the thing tested."""

    def __init__(self, allowlist: list[str]) -> None:
        super().__init__(allowlist)
        self.events: list[str] = []

    def start(self) -> None:
        self.events.append("start")

    def stop(self) -> None:
        self.events.append("stop")


def written_config(tmp_path: Path, allowlist: list[str]) -> dict[str, object]:
    path = RecordingProxy(allowlist).prepare(tmp_path)
    loaded: dict[str, object] = yaml.safe_load(path.read_text())
    return loaded


def test_the_config_enforces_the_allowlist_in_strict_mode(tmp_path: Path) -> None:
    config = written_config(tmp_path, ["api.anthropic.com", "*.github.com"])

    assert config["mode"] == "strict"
    assert config["api_allowlist"] == ["api.anthropic.com", "*.github.com"]


def test_connect_tunnels_are_on_and_outlive_a_long_session(tmp_path: Path) -> None:
    config = written_config(tmp_path, ["api.anthropic.com"])

    assert config["forward_proxy"] == {
        "enabled": True,
        "max_tunnel_seconds": TUNNEL_SECONDS,
    }
    assert TUNNEL_SECONDS >= 8 * 60 * 60


def test_ipv4_literals_go_to_the_ssrf_allowlist_as_slash_32(tmp_path: Path) -> None:
    config = written_config(tmp_path, ["10.0.0.5", "api.anthropic.com"])

    assert config["api_allowlist"] == ["api.anthropic.com"]
    assert config["ssrf"] == {"ip_allowlist": ["10.0.0.5/32"]}


def test_only_keys_pipelock_knows_are_written(tmp_path: Path) -> None:
    config = written_config(tmp_path, ["10.0.0.5", "*.example.com"])

    for key, value in config.items():
        assert key in KNOWN_KEYS
        if isinstance(value, dict):
            assert set(value) <= (KNOWN_KEYS[key] or set())


def test_no_ssrf_section_without_ip_literals(tmp_path: Path) -> None:
    assert "ssrf" not in written_config(tmp_path, ["api.anthropic.com"])


def test_prepare_writes_into_the_stage_dir_readable_by_the_proxy(
    tmp_path: Path,
) -> None:
    proxy = RecordingProxy(["api.anthropic.com"])

    path = proxy.prepare(tmp_path)

    assert path == tmp_path / "pipelock.yaml" == proxy.config_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert proxy.events == []
