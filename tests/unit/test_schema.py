"""The JSON Schema: printed by `bot-bottle schema`, committed, and honoured."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema

from bot_bottle.manifest import Manifest, manifest_json_schema

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_schema_is_the_one_the_models_make() -> None:
    committed = json.loads((ROOT / "docs" / "bot-bottle.schema.json").read_text())

    assert committed == manifest_json_schema(), (
        "regenerate with: bot-bottle schema > docs/bot-bottle.schema.json"
    )


def test_the_example_manifest_points_at_and_validates_against_the_schema() -> None:
    example = json.loads((ROOT / "bot-bottle.example.json").read_text())

    assert (ROOT / example["$schema"]).is_file()
    jsonschema.validate(example, manifest_json_schema())
    Manifest.model_validate_json((ROOT / "bot-bottle.example.json").read_text())


def test_the_schema_refuses_what_the_models_refuse() -> None:
    bad = {"bottles": {"web": {"runtime": "runsc"}}, "agents": {}}

    validator = jsonschema.Draft202012Validator(manifest_json_schema())

    assert not validator.is_valid(bad)


def test_bot_bottle_schema_prints_it() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot_bottle", "schema"],
        capture_output=True,
        text=True,
        check=True,
    )

    assert json.loads(result.stdout) == manifest_json_schema()


def test_every_field_in_the_schema_is_documented() -> None:
    schema = manifest_json_schema()
    models = [schema, *schema["$defs"].values()]

    undocumented = [
        (model.get("title"), name)
        for model in models
        for name, field in model.get("properties", {}).items()
        if not field.get("description")
    ]

    assert undocumented == []
