"""The controller's decisions on a store filled by hand: the narrowing budget, promotions, design jobs."""

import importlib.util
import os
import pathlib

import pytest

from genesys_jax.check.dynamic import fingerprint
from genesys_jax.evolve.controller import Controller
from genesys_jax.evolve.store_rows import NewDesign, SessionRecord
from genesys_jax.evolve.sqlite_store import SQLiteStore
from genesys_jax.gau.scales import get_scale
from genesys_jax.units.seeds import seed_design

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _config(**evolve):
  spec = importlib.util.spec_from_file_location("default_config", ROOT / "configs" / "default.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config()
  config.unlock()
  config.evolve.rungs = ("micro1", "micro2", "micro3")
  config.evolve.budget.top = 1  # 16 / 4 / 1
  for key, value in evolve.items():
    config.evolve.selection[key] = value
  return config


def _results(bpb: float) -> dict:
  return {"status": "completed", "eval": {"validation": {"bits_per_byte": bpb, "accuracy": 0.5}},
          "random_init": {"validation": {"bits_per_byte": 8.0, "accuracy": 0.0}}}


def _verify(store: SQLiteStore, design_id: int, rung: str, bpb: float) -> None:
  store.enqueue("verify", f"verify:{design_id}:{rung}", {"design_id": design_id, "rung": rung})
  job = store.claim("verify", "w", 60)
  assert store.finish_verify_job(job, "w", design_id, rung, "completed", _results(bpb), "", 1.0)


def _add_design(store: SQLiteStore, name: str, parent: int) -> int:
  store.enqueue("design", f"design:{name}", {"operator": "mutation"})
  job = store.claim("design", "w", 60)
  design = NewDesign(name, f"hash-{name}", {}, f"designs/{name}", operator="mutation", parents=(parent,),
                     fingerprint=f"fp-{name}")
  record = SessionRecord("offline", "mutation", True, "ok", 1.0, check={"ok": True, "figures": {}, "seconds": {}})
  return store.finish_design_job(job, "w", record, design, "implemented", None)


@pytest.fixture
def run(tmp_path):
  store = SQLiteStore(tmp_path / "store.sqlite")
  seed = store.add_seed(NewDesign("gpt2", "hash-gpt2", {}, "designs/gpt2", seed=True))
  _verify(store, seed, "micro1", 4.0)
  designs = [_add_design(store, f"d{k}", seed) for k in range(8)]
  return store, seed, designs


def test_higher_rungs_open_by_the_ratio_as_designs_finish_below(run, tmp_path):
  store, seed, designs = run
  controller = Controller(tmp_path, _config(explore_p=0.0), store)
  for k, design in enumerate(designs):
    _verify(store, design, "micro1", 3.0 + 0.1 * k)  # d0 is the best
  # 8 done at micro1: 8 x 0.25 = 2 slots at micro2; micro3 stays shut until micro2 results exist
  candidates = controller._open_verifications(controller.snapshot())
  assert {rung for _, rung in candidates} == {"micro2"} and len(candidates) == 8
  controller._plan(controller.snapshot())
  controller._plan(controller.snapshot())
  promoted = [j.payload for j in store.jobs("verify", ("pending",)) if j.payload["design_id"] != seed]
  assert [p["design_id"] for p in promoted] == designs[:2]  # the best two, at their lowest unverified rung
  assert controller._open_verifications(controller.snapshot()) == []  # the micro2 slots are taken
  controller._plan(controller.snapshot())
  assert len([j for j in store.jobs("verify", ("pending",)) if j.payload["design_id"] != seed]) == 2


def test_the_best_seed_climbs_beside_the_designs(run, tmp_path):
  store, seed, designs = run
  controller = Controller(tmp_path, _config(), store)
  for design in designs:
    _verify(store, design, "micro1", 3.5)
  controller._plan(controller.snapshot())  # opens micro2 with a promotion
  assert store.get_meta("reference_seeds") == [seed]
  controller._plan(controller.snapshot())  # the next pass sends the seed there too
  keys = {j.key for j in store.jobs("verify", ("pending",))}
  assert f"verify:{seed}:micro2" in keys and store.get_meta("reference_seeds") == [seed]


def test_design_jobs_start_from_seeds_and_carry_a_reproducible_seed(run, tmp_path):
  store, seed, _ = run
  controller = Controller(tmp_path, _config(), store)
  controller._plan(controller.snapshot())
  [job] = store.jobs("design", ("pending",))
  assert job.payload["operator"] == "mutation" and job.payload["parents"] == [seed]
  assert job.payload["name"] == "d009-mut"
  again = Controller(tmp_path, _config(), store)
  again._plan(again.snapshot())  # one design job in flight per designer: nothing new
  assert [j.id for j in store.jobs("design", ("pending",))] == [job.id]


def test_each_verifier_slot_owns_its_gpus(run, tmp_path):
  store, _, _ = run
  config = _config()
  config.evolve.workers.verifiers = 2
  config.evolve.workers.visible_devices = ("0,1", "2,3")
  controller = Controller(tmp_path, config, store)
  assert [controller._verifier_env(k)["CUDA_VISIBLE_DEVICES"] for k in (0, 1)] == ["0,1", "2,3"]
  config.evolve.workers.visible_devices = ()
  inherited = Controller(tmp_path, config, store)._verifier_env(0).get("CUDA_VISIBLE_DEVICES")
  assert inherited == os.environ.get("CUDA_VISIBLE_DEVICES")


def test_seeds_are_fingerprinted_so_a_copy_of_one_is_a_duplicate(tmp_path):
  store = SQLiteStore(tmp_path / "store.sqlite")
  config = _config()
  config.evolve.seeds = ("gpt2",)
  Controller(tmp_path, config, store)._add_seeds()
  (seed,) = store.designs()
  context = get_scale(config.check.scale).seq_len
  assert seed.fingerprint == fingerprint(seed_design("gpt2").materialize(), context)
  store.enqueue("design", "design:copy", {"operator": "mutation"})
  job = store.claim("design", "w", 60)
  copy = NewDesign("copy", "hash-copy", {}, "designs/copy", operator="mutation", parents=(seed.id,),
                   fingerprint=seed.fingerprint)
  record = SessionRecord("offline", "mutation", True, "ok", 1.0, check={"ok": True, "figures": {}, "seconds": {}})
  store.finish_design_job(job, "w", record, copy, "implemented", None)
  assert [(d.name, d.status) for d in store.designs()] == [("gpt2", "implemented"), ("copy", "duplicate")]
  Controller(tmp_path, config, store)._add_seeds()  # a resumed run adds nothing twice
  assert len(store.designs()) == 2 and len(store.jobs("verify", ("pending",))) == 1


def test_no_design_starts_while_its_parents_results_are_still_waiting(run, tmp_path):
  store, seed, designs = run
  controller = Controller(tmp_path, _config(), store)
  assert controller.e.workers.design_ahead == 3
  store.enqueue("verify", f"verify:{seed}:micro2", {"design_id": seed, "rung": "micro2"})  # not the lowest rung
  for design in designs[:3]:
    store.enqueue("verify", f"verify:{design}:micro1", {"design_id": design, "rung": "micro1"})
  controller._plan(controller.snapshot())
  assert store.jobs("design", ("pending",)) == []
  job = store.claim("verify", "w", 60)  # one of them finishes: two wait, so the next session may start
  assert store.finish_verify_job(job, "w", job.payload["design_id"], job.payload["rung"], "completed",
                                 _results(3.0), "", 1.0)
  while job.payload["rung"] != "micro1":  # the claim order is the store's; finish until a micro1 one is done
    job = store.claim("verify", "w", 60)
    assert store.finish_verify_job(job, "w", job.payload["design_id"], job.payload["rung"], "completed",
                                   _results(3.0), "", 1.0)
  controller._plan(controller.snapshot())
  assert len(store.jobs("design", ("pending",))) == 1


def test_the_seeds_own_verifications_do_not_hold_the_first_design_back(tmp_path):
  store = SQLiteStore(tmp_path / "store.sqlite")
  for name in ("gpt2", "mamba2", "rwkv6", "retnet", "ttt"):
    seed = store.add_seed(NewDesign(name, f"hash-{name}", {}, f"designs/{name}", seed=True))
    store.enqueue("verify", f"verify:{seed}:micro1", {"design_id": seed, "rung": "micro1"})
  controller = Controller(tmp_path, _config(), store)
  controller._plan(controller.snapshot())
  assert len(store.jobs("design", ("pending",))) == 1
