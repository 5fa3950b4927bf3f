"""The scenario format's JSON Schema (``wattscale schema``) agrees with the loader: an independent validator
(jsonschema) accepts every example and refuses a misspelt key, as the loader does."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from wattscale.cli import app

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("schema") / "scenario.schema.json"
    res = CliRunner().invoke(app, ["schema", "-o", str(path)])
    assert res.exit_code == 0, res.output
    again = CliRunner().invoke(app, ["schema", "-o", str(path)])
    assert again.exit_code == 2 and "left untouched" in again.output  # never overwrites a file
    return json.loads(path.read_text())


def as_json(path: Path) -> dict:
    return json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))  # YAML dates as text


@pytest.mark.parametrize("name", ["llm-campus.yaml", "llm-campus-mpc.yaml", "market-texas.yaml",
                                  "forecast-ercot-2023.yaml", "llm-campus-ercot-2023.yaml"])
def test_every_example_meets_the_schema(schema, name):
    jsonschema.validate(as_json(EXAMPLES / name), schema)


def test_a_misspelt_key_is_refused_by_the_schema_as_by_the_loader(schema):
    doc = as_json(EXAMPLES / "llm-campus.yaml")
    doc["sites"][0]["batery"] = doc["sites"][0].pop("battery")
    with pytest.raises(jsonschema.ValidationError, match="batery"):
        jsonschema.validate(doc, schema)
