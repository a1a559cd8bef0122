"""Command-line plumbing shared by the entry points: bad input -> one plain sentence and exit code 2."""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

import ml_collections
from absl import app, flags, logging
from ml_collections import config_flags

USAGE_EXIT_CODE = 2


class UsageProblem(Exception):
  """Bad input from the user (flag, config, path or design file); its message is one sentence."""


def fail(message: str) -> NoReturn:
  """Prints `error: message` to stderr and exits with the usage exit code."""
  print(f"error: {message}", file=sys.stderr)
  sys.exit(USAGE_EXIT_CODE)


def _one_line(error: BaseException) -> str:
  """The informative line of an error message: the first, or the last when a traceback is embedded."""
  lines = [line.strip() for line in str(error).splitlines() if line.strip()]
  if not lines:
    return type(error).__name__
  return lines[-1] if "Traceback" in str(error) else lines[0]


def _parse_flags(argv: Sequence[str]) -> list[str]:
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    fail(_one_line(e))
  except (AttributeError, KeyError) as e:  # an override of a field the config does not have
    fail(_unknown_field(e))
  except Exception as e:  # other config override problems surface here as any exception
    fail(f"bad flag or config override: {type(e).__name__}: {_one_line(e)}")


def _unknown_field(error: KeyError | AttributeError) -> str:
  """ml_collections' message ("'sed'\nDid you mean "seed" instead of "sed"?") as one sentence."""
  while error.args and isinstance(error.args[0], BaseException):  # AttributeError(KeyError(...))
    error = error.args[0]
  text = str(error.args[0]) if error.args else str(error)
  name, _, hint = text.partition("\n")
  hint = f" ({hint.strip()[0].lower()}{hint.strip()[1:].rstrip('?')}?)" if hint.strip() else ""
  return f"unknown config field '{name.strip(chr(34) + chr(39))}' in the overrides{hint}; see the config file for its fields"


def load_config(holder: flags.FlagHolder) -> ml_collections.ConfigDict:
  """The config behind a `DEFINE_config_file` flag, or a UsageProblem saying why it cannot load."""
  if holder.value is None and not holder.present:
    raise UsageProblem(f"--{holder.name} is required, e.g. --{holder.name} configs/default.py")
  filename = config_flags.get_config_filename(flags.FLAGS[holder.name]).split(":", 1)[0]
  if not pathlib.Path(filename).is_file():
    raise UsageProblem(f"config file {filename} does not exist")
  try:
    config = holder.value
    config.keys()  # a config that failed to load raises on first use
  except Exception as e:
    raise UsageProblem(f"config file {filename} failed to load: {_one_line(e)}") from e
  return config


def run(main: Callable[[Sequence[str]], int | None], max_args: int = 0) -> None:
  """Runs an absl `main`, turning flag errors and `UsageProblem`s into exit code 2 without a traceback.

  `max_args` is how many positional arguments `main` takes.
  """
  def guarded(argv: Sequence[str]) -> int | None:
    if not flags.FLAGS["verbosity"].present:  # JAX's backend probing logs at INFO; keep the output clean
      logging.set_verbosity(logging.WARNING)
    if len(argv) > 1 + max_args:
      fail(f"unexpected arguments {list(argv[1:])}; everything is passed as --flags")
    try:
      return main(argv)
    except UsageProblem as e:
      fail(str(e))
  app.run(guarded, flags_parser=_parse_flags)
