"""A small run written by hand into a store and a run directory, for the report's tests.

Seeds alpha and beta; d1 mutates alpha's Mix (a diff), d2 wraps it in a new Gate unit (a new file) in an LLM
session with a review, d3 crosses d1 with beta, d4 is rejected by the checker, d5 duplicates d1, d6 diverges,
and one session ends without a design. Verified: micro1 (all implemented), micro2 (alpha, d1), micro3 (d1).
"""

from __future__ import annotations

import json
import pathlib

from genesys_jax.evolve.settings import evolve_config
from genesys_jax.evolve.store_rows import NewDesign, SessionRecord
from genesys_jax.evolve.sqlite_store import SQLiteStore
from genesys_jax.files import write_json_atomic

BLOCK = "class Block:\n  def __call__(self, x):\n    return x + self.mixer(x)\n"
MIX = "class Mix:\n  def __call__(self, x):\n    return x.mean(axis=1)\n"
MIX_CHANGED = "class Mix:\n  def __call__(self, x):\n    y = x.cumsum(axis=1)\n    return y / 2\n"
GATE = "class Gate:\n  def __call__(self, x):\n    return sigmoid(x) * self.inner(x)\n"
CONV = "class Conv:\n  def __call__(self, x):\n    return conv(x)\n"

BPB = {("alpha", "micro1"): 4.0, ("beta", "micro1"): 4.2, ("d1", "micro1"): 3.8, ("d2", "micro1"): 3.9,
       ("d3", "micro1"): 4.1, ("alpha", "micro2"): 3.0, ("d1", "micro2"): 2.8, ("d1", "micro3"): 2.5}


def results(bpb: float, tasks: bool = False) -> dict:
  """What verify() returns, with validation bits/byte `bpb` and the other metrics derived from it."""
  split = {"loss": bpb * 0.7, "perplexity": 2 ** bpb, "bits_per_byte": bpb, "accuracy": 1.0 / bpb}
  untrained = {"loss": 5.5, "perplexity": 250.0, "bits_per_byte": 8.0, "accuracy": 0.01}
  out = {"status": "completed", "model": {"params": 1000 + int(bpb * 100)},
         "train": {"steps": 50, "tokens_per_second": 1e4}, "budget": {"tokens": 50 * 4096},
         "eval": {"validation": split, "test": dict(split)},
         "random_init": {"validation": untrained, "test": dict(untrained)}}
  if tasks:
    out["eval"]["tasks"] = {"arc": {"acc": 0.3, "acc_norm": 0.32, "n": 100, "chance": 0.25}}
    out["random_init"]["tasks"] = {"arc": {"acc": 0.24, "acc_norm": 0.26, "n": 100, "chance": 0.25}}
    out["diagnostics"] = {"status": "completed",
                          "tasks": {"copy": {"accuracy": 0.9, "random_init": 0.1, "chance": 0.05}}}
  return out


def _design(workdir: pathlib.Path, name: str, units: dict, files: dict, root: str = "Block") -> tuple[str, dict]:
  path = f"designs/{name}"
  (workdir / path).mkdir(parents=True)
  for fname, code in files.items():
    (workdir / path / fname).write_text(code)
  manifest = {"name": name, "root": root, "units": units}
  write_json_atomic(workdir / path / "design.json", manifest)
  return path, manifest


def _units(mixer: str, extra: dict) -> dict:
  return {"Block": {"file": "block.py", "children": {"mixer": mixer}, "hparams": {}}, **extra}


def llm_events() -> list[dict]:
  """A proposer's answer, a review that passes, a check of the new unit and the observer's rating."""
  proposal = {"title": "Gated mean", "motivation": "means forget order", "idea": "gate the running mean",
              "selection": ["Mix"], "new_units": [{"name": "Gate", "description": "a sigmoid gate"}],
              "search_queries": []}
  review = {"rating": 4, "review": "a sound, cheap idea", "suggestions": "try a wider gate", "novelty": 3,
            "soundness": 4, "efficiency": 5, "scalability": 4}
  call = {"kind": "call", "model": "m", "design_id": "d2", "system": "", "prompt": "...", "ok": True, "error": None,
          "attempts": 1, "input_tokens": 1000, "output_tokens": 500, "cost_usd": 0.002, "seconds": 1.0}
  return [{**call, "role": "proposer", "text": json.dumps(proposal), "parsed": proposal},
          {"kind": "review", "rating": 2, "passed": False, "review": "new units [Mix] must have new names"},
          {**call, "role": "reviewer", "text": json.dumps(review), "parsed": review},
          {"kind": "review", "rating": 4, "passed": True, "novelty": 3, "soundness": 4, "efficiency": 5,
           "scalability": 4},
          {"kind": "check", "unit": "Gate", "attempt": 1, "report": {"ok": False, "checks": [
              {"name": "causality", "ok": False, "message": "leaks", "severity": "error"}]}},
          {"kind": "observe", "unit": "Gate", "attempt": 2, "rating": 4},
          {"kind": "accepted", "design": "d2", "content_hash": "h-d2"}]


def check_report(name: str, failed: str | None = None) -> dict:
  checks = [{"name": "forward", "ok": True, "message": "", "severity": "error"},
            {"name": "unit_tests", "ok": False, "message": "no tests", "severity": "warning"},
            {"name": "training", "ok": True, "message": "", "severity": "error",
             "figures": {"losses": [5.5, 5.1, 4.8, 4.6], "params": 1200}}]
  if failed:
    checks.append({"name": failed, "ok": False, "message": f"{failed} is too slow", "severity": "error",
                   "figures": {"time_ratio": 3.2}})
  return {"ok": failed is None, "design": name, "checks": checks, "figures": {"fingerprint": f"fp-{name}"},
          "isolation": ["rlimits"], "seconds": {"sandbox_total": 2.0}}


def build_run(workdir: pathlib.Path) -> dict[str, int]:
  """Writes the run into `workdir`; returns design ids by name."""
  store = SQLiteStore(workdir / "store.sqlite")
  e = evolve_config()
  config = {"evolve": json.loads(json.dumps(e.to_dict())), "agents": {"designer": "llm"}}
  store.set_meta("config", config)
  ids: dict[str, int] = {}
  seeds = (("alpha", "Mix", {"Mix": {"file": "mix.py"}}, {"block.py": BLOCK, "mix.py": MIX}),
           ("beta", "Conv", {"Conv": {"file": "conv.py"}}, {"block.py": BLOCK, "conv.py": CONV}))
  for name, mixer, extra, files in seeds:
    path, manifest = _design(workdir, name, _units(mixer, extra), files)
    ids[name] = store.add_seed(NewDesign(name, f"h-{name}", manifest, path, seed=True, rationale="seed design"))

  def design(name: str, operator: str, parents: tuple[str, ...], units: dict, files: dict, failed: str | None = None,
             fingerprint: str | None = None, events: tuple = (), cost: float = 0.0, changed: tuple = ()) -> None:
    store.enqueue("design", f"design:{name}", {"operator": operator})
    job = store.claim("design", "w", 60)
    path, manifest = _design(workdir, name, units, files)
    new = NewDesign(name, f"h-{name}", manifest, path, operator=operator, parents=tuple(ids[p] for p in parents),
                    fingerprint=fingerprint or f"fp-{name}", rationale=f"{operator} of {' and '.join(parents)}",
                    changed_units=changed)
    record = SessionRecord("llm" if events else "offline", operator, True, "ok", 3.0, cost, events,
                           check_report(name, failed))
    ids[name] = store.finish_design_job(job, "w", record, new, "rejected" if failed else "implemented", None)

  mix = {"Mix": {"file": "mix.py"}}
  design("d1", "mutation", ("alpha",), _units("Mix", mix), {"block.py": BLOCK, "mix.py": MIX_CHANGED}, changed=("Mix",))
  gate = {"Gate": {"file": "gate.py", "children": {"inner": "Mix"}}, **mix}
  design("d2", "mutation", ("alpha",), _units("Gate", gate),
         {"block.py": BLOCK, "mix.py": MIX, "gate.py": GATE}, events=tuple(llm_events()), cost=0.01, changed=("Gate",))
  design("d3", "crossover", ("d1", "beta"), _units("Conv", {"Conv": {"file": "conv.py"}}),
         {"block.py": BLOCK, "conv.py": CONV})
  design("d4", "mutation", ("beta",), _units("Conv", {"Conv": {"file": "conv.py", "hparams": {"width": 9}}}),
         {"block.py": BLOCK, "conv.py": CONV}, failed="time", changed=("Conv",))
  design("d5", "mutation", ("alpha",), _units("Mix", mix), {"block.py": BLOCK, "mix.py": MIX_CHANGED},
         fingerprint="fp-d1")
  design("d6", "mutation", ("d1",), _units("Mix", mix), {"block.py": BLOCK, "mix.py": MIX_CHANGED + "# wider\n"})
  store.enqueue("design", "design:none", {"operator": "mutation"})
  job = store.claim("design", "w", 60)
  store.finish_design_job(job, "w", SessionRecord("offline", "mutation", False, "no mutation found", 0.1), None,
                          "rejected", None)

  for (name, rung), bpb in BPB.items():
    verify(store, workdir, ids[name], name, rung, "completed", results(bpb, tasks=name == "d1"))
  verify(store, workdir, ids["d6"], "d6", "micro1", "diverged", {"status": "diverged", "message": "loss went to nan"})
  store.close()
  return ids


def verify(store: SQLiteStore, workdir: pathlib.Path, design_id: int, name: str, rung: str, status: str,
           result: dict) -> None:
  """Records a verification and writes its history.jsonl (loss falling from 5.5)."""
  run_dir = f"verify/{name}-h/{rung}"
  (workdir / run_dir).mkdir(parents=True)
  final = result.get("eval", {}).get("validation", {}).get("loss", 5.0)
  lines = [json.dumps({"step": s, "loss": 5.5 - (5.5 - final) * s / 20}) for s in range(1, 21)]
  (workdir / run_dir / "history.jsonl").write_text("\n".join(lines) + "\n")
  store.enqueue("verify", f"verify:{design_id}:{rung}", {"design_id": design_id, "rung": rung})
  job = store.claim("verify", "w", 60)
  assert store.finish_verify_job(job, "w", design_id, rung, status, result, run_dir, 10.0)
