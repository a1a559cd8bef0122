"""Every role's answer schema against every provider's own rules: the installed google-genai SDK's schema
conversion (Developer API and Vertex AI), OpenAI's strict mode, and JSON in text for plain servers."""

from __future__ import annotations

import json
from collections.abc import Callable

import pydantic
import pytest
from google import genai
from google.genai import _transformers

from genesys_jax.agents import roles
from genesys_jax.agents.llm.base import Request
from genesys_jax.agents.llm.wire_schema import UnportableSchema, strict_schema

from agents.fake_providers import KEY, FakeServer, Flavor, client_for
from agents.provider_rules import example_of, gemini_schema_problems, openai_strict_problems

ROLES = [roles.PROPOSER, roles.REVIEWER, roles.PLANNER, roles.CODER, roles.OBSERVER, roles.DIRECT_CODER]
ROLE_IDS = [f"{r.name}-{r.schema.__name__}" for r in ROLES]


class MapAnswer(pydantic.BaseModel):
  """The shape of the old coder answer: name -> unit maps, which Gemini's Developer API refuses."""

  unit_name: str
  children: dict[str, str] = {}


@pytest.mark.parametrize("vertexai", [False, True], ids=["developer-api", "vertex"])
@pytest.mark.parametrize("role", ROLES, ids=ROLE_IDS)
def test_the_sdk_converts_every_role_schema(role: roles.Role, vertexai: bool) -> None:
  client = genai.Client(vertexai=vertexai, api_key=KEY)
  converted = _transformers.t_schema(client._api_client, role.schema)  # what generate_content sends
  wire = converted.model_dump(mode="json", exclude_none=True)
  assert not gemini_schema_problems(wire, vertex=vertexai)


def test_the_sdk_refuses_maps_in_developer_api_mode() -> None:
  with pytest.raises(ValueError, match="additionalProperties"):
    _transformers.t_schema(genai.Client(vertexai=False, api_key=KEY)._api_client, MapAnswer)


@pytest.mark.parametrize("role", ROLES, ids=ROLE_IDS)
def test_every_role_schema_is_openai_strict_and_its_answers_validate(role: roles.Role) -> None:
  schema = strict_schema(role.schema)
  assert not openai_strict_problems({"type": "json_schema", "json_schema": {
      "name": role.schema.__name__, "strict": True, "schema": schema}})
  role.schema.model_validate(example_of(schema))  # what the schema allows, the answer's model takes


def test_pydantic_schemas_are_not_strict_as_they_come_and_maps_are_refused() -> None:
  raw = {"type": "json_schema", "json_schema": {"name": "Code", "strict": True,
                                                "schema": roles.CODER.schema.model_json_schema()}}
  problems = openai_strict_problems(raw)
  assert any("additionalProperties" in p for p in problems) and any("'required'" in p for p in problems)
  with pytest.raises(UnportableSchema, match="children is a map"):
    strict_schema(MapAnswer)


@pytest.mark.parametrize("role", ROLES, ids=ROLE_IDS)
def test_every_role_reaches_every_provider(role: roles.Role, flavor: Flavor,
                                           serve: Callable[..., FakeServer]) -> None:
  answer = example_of(strict_schema(role.schema))
  server = serve([(200, flavor.ok(json.dumps(answer)))])
  request = Request(role=role.name, system=roles.SYSTEM, prompt="Answer.", schema=role.schema)
  record = client_for(flavor.make(server.url, 10), structured=flavor.structured).ask(request)
  assert record.ok and not server.refused, (record.error, server.refused)
  assert record.parsed == role.schema.model_validate(answer).model_dump(mode="json")


def test_a_map_schema_fails_as_a_recorded_call_on_gemini(flavor: Flavor, serve: Callable[..., FakeServer]) -> None:
  server = serve([(200, flavor.ok('{"unit_name": "A", "children": {"mixer": "MHA"}}'))])
  request = Request(role="coder", system="", prompt="Write it.", schema=MapAnswer)
  record = client_for(flavor.make(server.url, 10), structured=flavor.structured).ask(request)
  if flavor.name == "gemini":  # refused by the SDK before anything is sent
    assert not record.ok and "additionalProperties" in record.error and not server.hits
  elif flavor.name == "gemini-vertex":  # Vertex AI takes maps
    assert record.ok and not server.refused
  else:  # no portable schema exists, so none is sent
    assert not record.ok and "is a map" in record.error and not server.hits
