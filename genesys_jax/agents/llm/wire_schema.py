"""Answer schemas as every provider accepts them: the strictest common subset of JSON Schema.

OpenAI's strict structured output wants every property required and `additionalProperties: false` on
every object; Gemini's Developer API refuses `additionalProperties` altogether (so no maps); servers
differ on numeric and length limits. `strict_schema` turns a role's pydantic model into one schema
inside all of these rules (limits are dropped from the wire and still enforced when the answer is
validated), and refuses a model that cannot be expressed there. `text_instruction` is the same schema
as a prompt suffix, for servers without structured output.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pydantic

KEPT = frozenset({"type", "properties", "required", "items", "anyOf", "enum", "description"})
"""Keywords every provider takes; anything else is either dropped (below) or refused."""

DROPPED = frozenset({"title", "default", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                     "minLength", "maxLength", "minItems", "maxItems", "pattern", "format", "examples"})
"""Keywords left off the wire: names, defaults and limits that pydantic checks on the answer anyway."""


class UnportableSchema(ValueError):
  """A schema some provider would refuse; the message names the field and the construct."""


def _inline(node: Any, defs: dict[str, Any], where: str) -> Any:
  """`node` with `$ref`s replaced by their definitions, only portable keywords kept, objects closed."""
  if not isinstance(node, dict):
    return node
  if "$ref" in node:
    name = node["$ref"].rsplit("/", 1)[-1]
    return _inline({**defs[name], **{k: v for k, v in node.items() if k != "$ref"}}, defs, where)
  unknown = sorted(set(node) - KEPT - DROPPED - {"additionalProperties"})
  if unknown:
    raise UnportableSchema(f"{where or 'the answer'} uses {', '.join(unknown)}, which not every provider accepts")
  out: dict[str, Any] = {k: copy.deepcopy(v) for k, v in node.items() if k in KEPT - {"properties", "items", "anyOf"}}
  if node.get("type") == "object":
    properties = node.get("properties")
    if not properties or node.get("additionalProperties") not in (None, False):
      raise UnportableSchema(f"{where or 'the answer'} is a map (an object without fixed fields); "
                             "Gemini's Developer API refuses maps: use a list of name/value objects")
    out["properties"] = {k: _inline(v, defs, f"{where}.{k}".lstrip(".")) for k, v in properties.items()}
    out["required"] = list(properties)
    out["additionalProperties"] = False
  if "items" in node:
    out["items"] = _inline(node["items"], defs, f"{where}[]")
  if "anyOf" in node:
    out["anyOf"] = [_inline(v, defs, where) for v in node["anyOf"]]
  return out


def strict_schema(model: type[pydantic.BaseModel]) -> dict[str, Any]:
  """The JSON schema of `model` in the common subset: no `$ref`, closed objects, every field required."""
  schema = model.model_json_schema()
  defs = schema.pop("$defs", {})
  return _inline(schema, defs, "")


def text_instruction(model: type[pydantic.BaseModel]) -> str:
  """What a prompt must add when the server cannot constrain the answer to the schema."""
  return ("\n\nAnswer with exactly one JSON object and nothing else (a ```json fence around it is fine). "
          f"It must match this JSON schema:\n{json.dumps(strict_schema(model), indent=1)}")
