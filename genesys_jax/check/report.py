"""The checker's report: checks in the order run, each with a message an LLM coder can act on."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Check:
  """One check: `ok`, and when not ok whether it rejects the design (`fatal`) or only warns."""

  name: str
  ok: bool
  message: str = ""
  fatal: bool = True
  figures: dict[str, Any] = dataclasses.field(default_factory=dict)

  def to_json(self) -> dict[str, Any]:
    out = {"name": self.name, "ok": self.ok, "message": self.message,
           "severity": "error" if self.fatal else "warning"}
    if self.figures:
      out["figures"] = self.figures
    return out


@dataclasses.dataclass(frozen=True)
class CheckReport:
  """All checks of one design, the figures measured, and the isolation layers used."""

  design: str
  checks: tuple[Check, ...]
  figures: dict[str, Any]
  isolation: tuple[str, ...]
  seconds: dict[str, float]

  @property
  def ok(self) -> bool:
    """Accepted: no fatal check failed (and at least one check ran)."""
    return bool(self.checks) and all(c.ok or not c.fatal for c in self.checks)

  def to_json(self) -> dict[str, Any]:
    return {"ok": self.ok, "design": self.design, "checks": [c.to_json() for c in self.checks],
            "figures": self.figures, "isolation": list(self.isolation), "seconds": self.seconds}

  def feedback(self) -> str:
    """The failed and warned checks as text for the coder agent's next prompt."""
    lines = [f"[{'error' if c.fatal else 'warning'}] {c.name}: {c.message}" for c in self.checks if not c.ok]
    return "\n".join(lines) if lines else "all checks passed"

  def full_text(self) -> str:
    """Every check in the order run, with its verdict, message and figures, for a retry prompt; the stages
    after the first fatal failure did not run."""
    lines = []
    for c in self.checks:
      verdict = "passed" if c.ok else ("error" if c.fatal else "warning")
      figures = ", ".join(f"{k}={v}" for k, v in c.figures.items())
      lines.append(f"[{verdict}] {c.name}" + (f": {c.message}" if c.message else "")
                   + (f" ({figures})" if figures else ""))
    return "\n".join(lines) or "no check ran"
