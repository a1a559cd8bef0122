"""The direct-prompting baseline: the same proposal and review, then the whole block in one file.

The coder writes every unit of the block at once (a single file ending in `ROOT = ...`); the same
checker tests it and its report goes back for up to `max_unit_attempts` tries. Comparing how often it
yields a valid design with the unit-by-unit flow measures what writing one unit at a time is worth.
"""

from __future__ import annotations

import json
import pathlib
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

from genesys_jax.agents import roles
from genesys_jax.agents.flow import DesignSession, Parent, SessionFailed, efficiency_note, library_listing, snake
from genesys_jax.check.checker import check
from genesys_jax.check.report import CheckReport
from genesys_jax.gau.design import Design, Lineage, design_from_source


BlockChecker = Callable[[pathlib.Path], CheckReport]


class DirectSession(DesignSession):
  """A design session whose implementation step is one block file per attempt.

  The block file is checked from disk (`block_checker`, the sandboxed checker by default), so agent code
  first runs inside the sandbox; only a file that passes is loaded here.
  """

  def __init__(self, *args: Any, block_checker: BlockChecker = check, **kwargs: Any):
    super().__init__(*args, **kwargs)
    self.block_checker = block_checker

  def implement(self, answer: dict, operator: str, parents: Sequence[Parent], name: str) -> Design:
    feedback = ""
    lineage = Lineage(tuple(p.design.content_hash() for p in parents), operator,
                      tuple(u["name"] for u in answer["new_units"]))
    for attempt in range(1, self.settings.max_unit_attempts + 1):
      call = self.ask(roles.DIRECT_CODER, playbook=roles.prompt_file("playbook.md"), reference=self.reference,
                      template=roles.prompt_file("unit_template.py.txt").replace("$unit_name", "MyUnit")
                      + "\n\nROOT = MyUnit  # the block's root class: every block file ends with this line",
                      proposal=json.dumps(answer, indent=1), library=library_listing(), feedback=feedback)
      if not call.ok:
        feedback = f"Your last answer could not be used ({call.error}). Answer with the JSON object asked for.\n"
        continue
      with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / f"{snake(name.replace('-', '_')) or 'block'}.py"
        path.write_text(call.parsed["code"])
        report = self.block_checker(path)
      self.record("check", unit=None, attempt=attempt, report=report.to_json())
      if report.ok:
        return design_from_source(call.parsed["code"], name=name, fname=path.name).replace(lineage=lineage)
      feedback = (f"The checker rejected your last block. That file:\n```python\n{call.parsed['code']}\n```\n"
                  f"The checker's whole report:\n{report.full_text()}\n{efficiency_note(report, parents)}"
                  "Fix what the failed checks say.\n")
    raise SessionFailed(f"the block failed {self.settings.max_unit_attempts} attempts")
