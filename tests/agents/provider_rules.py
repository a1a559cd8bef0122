"""What real providers refuse in a structured-output request, for the fake servers of the tests.

Written from the providers' API references, not from this project's code: Gemini's `Schema` object
(the fields the Developer API knows, in either spelling protobuf's JSON mapping accepts: lowerCamelCase
or the proto's snake_case; Vertex AI also takes `additionalProperties`), OpenAI's strict
`json_schema` rules (a closed object at the root, every object closed with every property required,
only the keywords strict mode supports). Each function returns the problems, empty when the server
would accept the request.
"""

from __future__ import annotations

import re
from typing import Any

GEMINI_FIELDS = frozenset({
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties",
    "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf",
    "propertyOrdering", "default", "items", "minimum", "maximum"})
GEMINI_VERTEX_FIELDS = GEMINI_FIELDS | {"additionalProperties"}
GEMINI_TYPES = frozenset({"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"})

OPENAI_STRICT_KEYWORDS = frozenset({
    "type", "properties", "required", "additionalProperties", "items", "anyOf", "enum", "const",
    "description", "title", "$ref", "$defs", "pattern", "format", "multipleOf", "maximum",
    "exclusiveMaximum", "minimum", "exclusiveMinimum", "minItems", "maxItems"})
OPENAI_TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})
OPENAI_MAX_DEPTH = 10


def _camel(name: str) -> str:
  head, *rest = name.split("_")
  return head + "".join(part.title() for part in rest)


def gemini_schema_problems(schema: Any, vertex: bool = False, where: str = "response_schema") -> list[str]:
  """What `generationConfig.responseSchema` (REST form) breaks of Gemini's Schema object."""
  if not isinstance(schema, dict):
    return [f"{where}: not an object"]
  known = GEMINI_VERTEX_FIELDS if vertex else GEMINI_FIELDS
  problems = [f'Unknown name "{k}" at \'generation_config.{where}\': Cannot find field.'
              for k in schema if _camel(k) not in known]
  schema = {_camel(k): v for k, v in schema.items()}
  kind = schema.get("type")
  if kind is not None and kind not in GEMINI_TYPES:
    problems.append(f"{where}.type: {kind!r} is not a Gemini type")
  if kind is None and "anyOf" not in schema:
    problems.append(f"{where}: a schema needs a type or anyOf")
  properties = schema.get("properties", {})
  if kind == "OBJECT" and not properties and not (vertex and schema.get("additionalProperties")):
    problems.append(f"{where}: properties should be non-empty for OBJECT type")
  if kind == "ARRAY" and "items" not in schema:
    problems.append(f"{where}: items is required for ARRAY type")
  problems += [f"{where}.required: {r!r} is not a property" for r in schema.get("required", ()) if r not in properties]
  problems += [f"{where}.propertyOrdering: {p!r} is not a property"
               for p in schema.get("propertyOrdering", ()) if p not in properties]
  for name, sub in properties.items():
    problems += gemini_schema_problems(sub, vertex, f"{where}.properties[{name}]")
  if "items" in schema:
    problems += gemini_schema_problems(schema["items"], vertex, f"{where}.items")
  for k, sub in enumerate(schema.get("anyOf", ())):
    problems += gemini_schema_problems(sub, vertex, f"{where}.anyOf[{k}]")
  return problems


def _openai_node_problems(node: Any, defs: dict[str, Any], where: str, depth: int) -> list[str]:
  if not isinstance(node, dict):
    return [f"{where}: a schema must be an object"]
  if depth > OPENAI_MAX_DEPTH:
    return [f"{where}: schemas may nest at most {OPENAI_MAX_DEPTH} levels"]
  problems = [f"In context={where}, '{k}' is not permitted" for k in node if k not in OPENAI_STRICT_KEYWORDS]
  if "$ref" in node:
    if set(node) - {"$ref"}:
      problems.append(f"In context={where}, $ref cannot have keywords {sorted(set(node) - {'$ref'})}")
    name = node["$ref"].rsplit("/", 1)[-1]
    if not node["$ref"].startswith("#/$defs/") or name not in defs:
      return problems + [f"In context={where}, reference {node['$ref']} can't be resolved"]
    return problems
  kinds = node.get("type")
  kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
  if not kinds and "anyOf" not in node and "enum" not in node and "const" not in node:
    problems.append(f"In context={where}, schema must have a 'type' key")
  problems += [f"In context={where}, type {k!r} is not supported" for k in kinds if k not in OPENAI_TYPES]
  if "object" in kinds:
    properties = node.get("properties", {})
    if node.get("additionalProperties") is not False:
      problems.append(f"In context={where}, 'additionalProperties' is required to be supplied and to be false")
    if sorted(node.get("required", [])) != sorted(properties):
      missing = sorted(set(properties) - set(node.get("required", [])))
      problems.append(f"In context={where}, 'required' is required to be supplied and to be an array including "
                      f"every key in properties. Missing {missing}")
    for name, sub in properties.items():
      problems += _openai_node_problems(sub, defs, f"{where}.properties.{name}", depth + 1)
  if "array" in kinds:
    if "items" not in node:
      problems.append(f"In context={where}, array schema missing items")
    else:
      problems += _openai_node_problems(node["items"], defs, f"{where}.items", depth + 1)
  for k, sub in enumerate(node.get("anyOf", ())):
    problems += _openai_node_problems(sub, defs, f"{where}.anyOf.{k}", depth + 1)
  return problems


def openai_strict_problems(response_format: Any) -> list[str]:
  """What a chat request's `response_format` breaks of OpenAI's strict structured-output rules."""
  if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
    return ["response_format.type must be 'json_schema'"]
  spec = response_format.get("json_schema") or {}
  problems = []
  if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", str(spec.get("name", ""))):
    problems.append("json_schema.name must be 1-64 letters, digits, underscores or dashes")
  if spec.get("strict") is not True:
    problems.append("json_schema.strict must be true for the answer to be guaranteed to match")
  schema = spec.get("schema")
  if not isinstance(schema, dict) or schema.get("type") != "object" or "anyOf" in schema:
    return problems + ["the root schema must be an object, not anyOf"]
  defs = schema.get("$defs", {})
  problems += _openai_node_problems({k: v for k, v in schema.items() if k != "$defs"}, defs, "()", 1)
  for name, sub in defs.items():
    problems += _openai_node_problems(sub, defs, f"$defs.{name}", 1)
  return problems


def example_of(schema: dict[str, Any]) -> Any:
  """A small value that a JSON schema (in the strict subset) accepts, for scripted answers."""
  if "anyOf" in schema:
    return example_of(schema["anyOf"][0])
  if "enum" in schema:
    return schema["enum"][0]
  kind = schema["type"]
  if kind == "object":
    return {name: example_of(sub) for name, sub in schema["properties"].items()}
  if kind == "array":
    return [example_of(schema["items"])]
  return {"string": "text", "integer": 3, "number": 0.5, "boolean": True, "null": None}[kind]
