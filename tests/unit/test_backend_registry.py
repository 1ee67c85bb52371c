"""The backend registry, and the layering rules the package keeps."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import bot_bottle
from bot_bottle import backend as contract
from bot_bottle.backend import BACKENDS, get_bottle_backend
from bot_bottle.errors import BadInputError

PACKAGE = Path(bot_bottle.__file__).parent


def test_an_unknown_backend_stops_with_the_list_of_known_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOT_BOTTLE_BACKEND", "flyio")

    with pytest.raises(BadInputError) as caught:
        get_bottle_backend()

    assert str(caught.value) == (
        "BOT_BOTTLE_BACKEND='flyio' is not a known backend; use one of: docker"
    )


def test_a_registered_backend_is_built_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(BACKENDS, "fake", "tests.fakes:FakeBottleBackend")
    monkeypatch.setenv("BOT_BOTTLE_BACKEND", "fake")

    assert get_bottle_backend().name == "fake"


def test_the_docker_sdk_loads_only_when_docker_is_chosen() -> None:
    code = (
        "import sys, bot_bottle.cli, bot_bottle.backend, bot_bottle.manifest, "
        "bot_bottle.env, bot_bottle.pipelock; print('docker' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "False"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_only_the_docker_subpackage_imports_docker() -> None:
    docker_dir = PACKAGE / "backend" / "docker"
    offenders = [
        path
        for path in PACKAGE.rglob("*.py")
        if docker_dir not in path.parents
        and any(name.split(".")[0] == "docker" for name in _imports(path))
    ]

    assert offenders == []


def test_the_domain_layer_never_imports_the_tui() -> None:
    cli_dir = PACKAGE / "cli"
    offenders = [
        path
        for path in PACKAGE.rglob("*.py")
        if cli_dir not in path.parents
        and any(name.split(".")[0] == "tui" for name in _imports(path))
    ]

    assert offenders == []


def test_the_tui_never_imports_docker_or_a_concrete_backend() -> None:
    tui_dir = PACKAGE.parent / "tui"
    offenders = [
        path
        for path in tui_dir.rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] == "docker"
        or name.startswith("bot_bottle.backend.docker")
    ]

    assert offenders == []


@pytest.mark.parametrize("module", [bot_bottle, contract])
def test_the_public_surface_is_exactly_what_all_lists(module: ModuleType) -> None:
    exported: list[str] = module.__all__

    assert sorted(exported) == sorted(set(exported))
    for name in exported:
        assert hasattr(module, name), name
