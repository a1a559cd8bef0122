"""Config sweeps: a config file's `get_sweep(arg)` expanded into jobs, each a readable name and the
`--config.*` flags that reproduce its overrides through ml_collections' flag parsing.

A sweep is a list of override dicts with dotted keys, big_vision style:

    def get_sweep(arg=None):
      return [{"evolve.seed": s, "evolve.selection.strategy": k} for s in (0, 1, 2) for k in ("evolution", "random")]

Every entry is checked before anything runs: each key must name a field of the config, each value must
come back unchanged from the same flag parsing the main job does, and the resulting config must be valid.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import ml_collections
from absl import flags
from ml_collections import config_flags

from genesys_jax.evolve.settings import validate_run

MAX_NAME = 120
"""Longer job names are cut and end in a hash of the whole name (directory names stay well under 255 bytes)."""
_UNSAFE = re.compile(r"[^A-Za-z0-9.+-]+")
_SCALARS = (bool, int, float, str)


@dataclasses.dataclass(frozen=True)
class SweepJob:
  """One run of a sweep: its position, directory name, overrides and the flags that apply them."""

  index: int
  name: str
  overrides: dict[str, Any]
  flags: tuple[str, ...]
  config: ml_collections.ConfigDict

  def to_json(self) -> dict[str, Any]:
    return {"index": self.index, "name": self.name, "overrides": self.overrides, "flags": list(self.flags)}


def load_sweep(spec: str) -> list[dict[str, Any]]:
  """The config file's `get_sweep(arg)` (`arg` after the colon, as get_config gets it); ValueError with one
  sentence when it has none or it fails."""
  path, *arg = spec.split(":", 1)
  module_spec = importlib.util.spec_from_file_location("sweep_config", path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  if not callable(getattr(module, "get_sweep", None)):
    raise ValueError(f"config file {path} defines no sweep; add `def get_sweep(arg=None) -> list[dict]` "
                     "returning override dicts such as {'evolve.seed': 1}")
  try:
    sweep = module.get_sweep(*arg)
  except Exception as e:  # the config author's code: any failure is reported as one line
    raise ValueError(f"get_sweep of {path} failed: {type(e).__name__}: {e}") from e
  if not isinstance(sweep, Sequence) or not sweep or not all(isinstance(entry, Mapping) for entry in sweep):
    raise ValueError(f"get_sweep of {path} must return a non-empty list of dicts; got {sweep!r:.80}")
  return [dict(entry) for entry in sweep]


def _is_literal(value: Any) -> bool:
  if isinstance(value, _SCALARS):
    return True
  if isinstance(value, (tuple, list)):
    return all(_is_literal(v) for v in value)
  if isinstance(value, Mapping):
    return all(isinstance(k, str) and _is_literal(v) for k, v in value.items())
  return False


def _field_type(config: ml_collections.ConfigDict, key: str) -> type:
  """The type of the field `key` (dotted) of the config; KeyError naming the key when there is none."""
  *sections, field = key.split(".")
  node = config
  for section in sections:
    if not isinstance(node, ml_collections.ConfigDict) or section not in node:
      raise KeyError(key)
    node = node[section]
  if not isinstance(node, ml_collections.ConfigDict) or field not in node:
    raise KeyError(key)
  return node.get_type(field)


def render(value: Any, field_type: type) -> str:
  """The text of `--config.key=TEXT` that ml_collections parses back into `value` for a field of that type."""
  if isinstance(value, str):
    return value if field_type is str else repr(value)  # str fields take the text as it is
  if isinstance(value, bool):
    return "true" if value else "false"
  if isinstance(value, (tuple, list)):
    return repr(tuple(value))
  return repr(value)


def _plain(value: Any) -> Any:
  """A parsed config value in comparable form: ConfigDicts as dicts, lists as tuples."""
  if isinstance(value, ml_collections.ConfigDict):
    value = value.to_dict()
  if isinstance(value, Mapping):
    return {k: _plain(v) for k, v in value.items()}
  if isinstance(value, (tuple, list)):
    return tuple(_plain(v) for v in value)
  return value


def _value_at(config: ml_collections.ConfigDict, key: str) -> Any:
  node = config
  for part in key.split("."):
    node = node[part]
  return node


def _slug(text: str) -> str:
  return _UNSAFE.sub("_", text).strip("_")


def job_name(overrides: Mapping[str, Any], rendered: Mapping[str, str]) -> str:
  """`key=value,key=value` in the entry's order, safe as a directory name; `base` for an empty entry."""
  name = ",".join(f"{key}={_slug(rendered[key])}" for key in overrides) or "base"
  if len(name) > MAX_NAME:
    name = f"{name[:MAX_NAME - 11]}-{hashlib.sha256(name.encode()).hexdigest()[:10]}"
  return name


def parse_config(spec: str, flag_args: Sequence[str]) -> ml_collections.ConfigDict:
  """The config the main job builds from `--config SPEC FLAG_ARGS...` (the same absl flag parsing)."""
  argv = ["sweep", f"--config={spec}", *flag_args]
  values = flags.FlagValues()
  holder = config_flags.DEFINE_config_file("config", None, "Run config file.", flag_values=values,
                                           lock_config=True, sys_argv=argv)
  values(argv)
  return holder.value


def _entry_error(index: int, entry: Mapping[str, Any], message: str) -> ValueError:
  return ValueError(f"sweep entry {index} {json.dumps(entry, default=str):.120} {message}")


def _expand_one(spec: str, config: ml_collections.ConfigDict, base: Mapping[str, str], index: int,
                entry: Mapping[str, Any]) -> SweepJob:
  rendered = {}
  for key, value in entry.items():
    if not isinstance(key, str) or not _is_literal(value):
      raise _entry_error(index, entry, f"has {key!r}: {value!r}; keys are dotted field names and values "
                         "bools, numbers, strings, tuples or dicts of these")
    try:
      rendered[key] = render(value, _field_type(config, key))
    except KeyError:
      raise _entry_error(index, entry, f"sets unknown config field '{key}'; see the config file for its fields") \
          from None
  flag_args = [f"--config.{k}={v}" for k, v in base.items() if k not in entry]
  flag_args += [f"--config.{k}={v}" for k, v in rendered.items()]
  try:
    parsed = parse_config(spec, flag_args)
  except Exception as e:  # absl and ml_collections raise many types for a value that does not parse
    reason = str(e).splitlines()[0] if str(e).strip() else type(e).__name__
    raise _entry_error(index, entry, f"does not parse as flags: {reason}") from e
  for key, value in entry.items():
    back = _plain(_value_at(parsed, key))
    if back != _plain(value):
      raise _entry_error(index, entry, f"sets {key} to {value!r}, which the flag parsing reads back as {back!r}")
  try:
    validate_run(parsed)
  except ValueError as e:
    raise _entry_error(index, entry, f"makes an invalid config: {e}") from e
  return SweepJob(index, job_name(entry, rendered), dict(entry), tuple(flag_args), parsed)


def base_flags(config: ml_collections.ConfigDict, overrides: Mapping[str, Any]) -> dict[str, str]:
  """Rendered command-line overrides of the sweep's own invocation, passed on to every job."""
  return {key: render(value, _field_type(config, key)) for key, value in overrides.items()}


def expand(spec: str, config: ml_collections.ConfigDict, base: Mapping[str, str] | None = None) -> list[SweepJob]:
  """Every entry of the config's sweep as a checked job; ValueError with one sentence for the first bad one."""
  base = dict(base or {})
  jobs = [_expand_one(spec, config, base, i, entry) for i, entry in enumerate(load_sweep(spec))]
  seen: dict[str, int] = {}
  for job in jobs:
    if job.name in seen:
      raise ValueError(f"sweep entries {seen[job.name]} and {job.index} have the same job name {job.name}; "
                       "make every entry differ")
    seen[job.name] = job.index
  return jobs


def to_json(spec: str, jobs: Sequence[SweepJob]) -> dict[str, Any]:
  """The expanded sweep as launch/xm_launch.py reads it."""
  return {"config": spec, "jobs": [job.to_json() for job in jobs]}
