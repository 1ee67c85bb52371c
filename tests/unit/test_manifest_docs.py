"""docs/manifest.md's reference tables are the models' own field texts.

Regenerate after changing a field: UPDATE_DOCS=1 pytest tests/unit/test_manifest_docs.py
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bot_bottle.manifest import manifest_json_schema

DOC = Path(__file__).resolve().parents[2] / "docs" / "manifest.md"
START = "<!-- reference: generated from bot_bottle/manifest.py -->"
END = "<!-- end of reference -->"
ORDER = ["Manifest", "Bottle", "EnvConfig", "SshKey", "Egress", "Limits", "Agent"]


def reference_markdown() -> str:
    schema = manifest_json_schema()
    models = {**schema["$defs"], "Manifest": schema}
    parts = [START]
    for name in ORDER:
        parts.append(_model_table(name, models[name]))
    parts.append(END)
    return "\n\n".join(parts)


def _model_table(name: str, model: dict[str, Any]) -> str:
    rows = [
        f"### {name}",
        "",
        model["description"],
        "",
        "| key | type | description |",
        "|---|---|---|",
    ]
    required = set(model.get("required", []))
    for key, field in model["properties"].items():
        mark = " (required)" if key in required else ""
        rows.append(f"| `{key}`{mark} | {_type(field)} | {field['description']} |")
    return "\n".join(rows)


def _type(field: dict[str, Any]) -> str:
    if "$ref" in field:
        return str(field["$ref"]).rsplit("/", 1)[1]
    if "anyOf" in field:
        return " or ".join(_type(option) for option in field["anyOf"])
    kind = field.get("type", "any")
    if kind == "array":
        return f"array of {_type(field['items'])}"
    if kind == "object":
        return f"map of name to {_type(field.get('additionalProperties', {}))}"
    return str(kind)


def test_the_manifest_reference_matches_the_models() -> None:
    text = DOC.read_text()
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    generated = before + reference_markdown() + after
    if os.environ.get("UPDATE_DOCS") == "1":
        DOC.write_text(generated)
        text = generated

    assert text == generated, "run with UPDATE_DOCS=1 to regenerate the reference"
