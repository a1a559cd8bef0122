"""The evolution store: schema and migrations, the queue with leases, atomic job ends, the run lease.

Every test that takes `new_store` runs on both backends: SQLite in a temporary folder and PostgreSQL on
the suite's throwaway server (tests/postgres_server.py)."""

import multiprocessing
import sqlite3
import time

import pytest

from genesys_jax.evolve.postgres_store import PostgresStore
from genesys_jax.evolve.sqlite_store import SQLiteStore
from genesys_jax.evolve.store import RUN_LEASE, SCHEMA_VERSION, EvolutionStore, StoreError
from genesys_jax.evolve.store_rows import NewDesign, SessionRecord
from genesys_jax.evolve.store_schema import MIGRATIONS


def _open(address: str) -> EvolutionStore:
  return PostgresStore(address) if address.startswith("postgresql:") else SQLiteStore(address)


@pytest.fixture(params=["sqlite", "postgres"])
def address(request, tmp_path) -> str:
  """Where a new, empty store goes: a SQLite file, or a fresh PostgreSQL database."""
  if request.param == "sqlite":
    return str(tmp_path / "s.sqlite")
  return request.getfixturevalue("postgres_url")


@pytest.fixture
def new_store(address) -> EvolutionStore:
  return _open(address)


def _design(name: str, fingerprint: str | None = None, parents=(), seed=False) -> NewDesign:
  return NewDesign(name, f"hash-{name}", {"root": "R"}, f"designs/{name}", seed=seed, operator=None if seed else "mutation",
                   parents=tuple(parents), fingerprint=fingerprint)


def _session(check_ok=True, events=()) -> SessionRecord:
  return SessionRecord("offline", "mutation", True, "done", 1.5, 0.25, tuple(events),
                       {"ok": check_ok, "checks": [], "figures": {}, "seconds": {"sandbox_total": 3.0}})


def test_new_store_is_wal_and_versioned(tmp_path):
  store = SQLiteStore(tmp_path / "s.sqlite")
  assert store.get_meta("schema_version") == SCHEMA_VERSION
  assert sqlite3.connect(tmp_path / "s.sqlite").execute("PRAGMA journal_mode").fetchone()[0] == "wal"
  store.set_meta("config", {"a": [1, 2]})
  assert SQLiteStore(tmp_path / "s.sqlite").get_meta("config") == {"a": [1, 2]}  # reopening keeps everything


def test_a_newer_schema_is_refused(address):
  _open(address).set_meta("schema_version", SCHEMA_VERSION + 1)
  with pytest.raises(StoreError, match="newer than this genesys_jax understands"):
    _open(address)


def test_garbage_and_foreign_files_are_refused(tmp_path):
  (tmp_path / "junk.sqlite").write_bytes(b"this is not a database file at all" * 100)
  with pytest.raises(StoreError, match="not a readable evolution store"):
    SQLiteStore(tmp_path / "junk.sqlite")
  sqlite3.connect(tmp_path / "other.sqlite").execute("CREATE TABLE t (x)")
  with pytest.raises(StoreError, match="not an evolution store"):
    SQLiteStore(tmp_path / "other.sqlite")
  with pytest.raises(StoreError, match="no evolution store"):
    SQLiteStore(tmp_path / "absent.sqlite", create=False)


def test_queue_dedups_keys_and_leases(new_store):
  store = new_store
  assert store.enqueue("verify", "verify:1:micro1", {"design_id": 1})
  assert not store.enqueue("verify", "verify:1:micro1", {"design_id": 1})
  job = store.claim("verify", "a", lease_s=60)
  assert job.attempts == 1 and store.claim("verify", "b", lease_s=60) is None
  assert store.renew(job.id, "a", 60) and not store.renew(job.id, "b", 60)
  store.release(job.id, "a")  # a clean stop is not a failed attempt
  again = store.claim("verify", "b", lease_s=60)
  assert again.id == job.id and again.attempts == 1
  assert not store.fail(again.id, "b", "boom", max_attempts=2)  # back to the queue
  third = store.claim("verify", "c", lease_s=60)
  assert third.attempts == 2 and store.fail(third.id, "c", "boom", max_attempts=2)  # given up
  assert store.job_counts() == {("verify", "failed"): 1}


def test_reclaim_takes_back_expired_and_dead_leases(new_store):
  store = new_store
  for k in range(3):
    store.enqueue("design", f"design:{k}", {})
  expired = store.claim("design", "slow", lease_s=0.01)
  dead = store.claim("design", "dead", lease_s=60)
  alive = store.claim("design", "alive", lease_s=60)
  time.sleep(0.05)
  assert store.reclaim(lambda owner: owner == "dead", max_attempts=3) == 2
  assert {j.id for j in store.jobs("design", ("pending",))} == {expired.id, dead.id}
  assert [j.id for j in store.jobs("design", ("leased",))] == [alive.id]
  # a worker whose lease was taken back cannot record its result
  assert not store.finish_verify_job(expired, "slow", 1, "micro1", "completed", {}, "", 1.0)


def test_finishing_a_design_job_records_everything_at_once(new_store):
  store = new_store
  seed = store.add_seed(_design("gpt2", fingerprint="f0", seed=True))
  assert store.add_seed(_design("gpt2", seed=True)) == seed  # same content hash: the same design
  store.enqueue("design", "design:0", {})
  job = store.claim("design", "w", 60)
  call = {"kind": "call", "role": "proposer", "model": "m", "ok": True, "input_tokens": 10, "output_tokens": 5,
          "cost_usd": 0.25, "seconds": 1.0}
  new = store.finish_design_job(job, "w", _session(events=[call]), _design("d1", "f1", [seed]), "implemented", "micro1")
  [row] = [r for r in store.designs() if r.id == new]
  assert row.status == "implemented" and row.parents == (seed,) and row.operator == "mutation"
  assert store.spend_usd() == 0.25 and store.sessions()[0]["check_ok"] is True
  assert [j.key for j in store.jobs("verify", ("pending",))] == [f"verify:{new}:micro1"]
  assert store.job_counts()[("design", "done")] == 1
  # the same behaviour (functional fingerprint) under another tree: a duplicate, never verified
  store.enqueue("design", "design:1", {})
  job = store.claim("design", "w", 60)
  dup = store.finish_design_job(job, "w", _session(), _design("d2", "f1", [seed]), "implemented", "micro1")
  assert next(r for r in store.designs() if r.id == dup).status == "duplicate"
  assert len(store.jobs("verify", ("pending",))) == 1
  # a rejected design is recorded with its check, and not queued
  store.enqueue("design", "design:2", {})
  job = store.claim("design", "w", 60)
  bad = store.finish_design_job(job, "w", _session(check_ok=False), _design("d3", "f3"), "rejected", "micro1")
  assert next(r for r in store.designs() if r.id == bad).status == "rejected"
  assert len(store.jobs("verify", ("pending",))) == 1


def test_a_verification_is_recorded_once(new_store):
  store = new_store
  design = store.add_seed(_design("gpt2", seed=True))
  store.enqueue("verify", "v", {})
  job = store.claim("verify", "w", 60)
  assert store.finish_verify_job(job, "w", design, "micro1", "completed", {"x": 1}, "verify/gpt2", 2.0)
  assert not store.finish_verify_job(job, "w", design, "micro1", "completed", {"x": 2}, "verify/gpt2", 2.0)
  [v] = store.verifications()
  assert v.results == {"x": 1} and v.rung == "micro1"


def _claim_all(address: str, owner: str, out) -> None:
  store = _open(address)
  while (job := store.claim("verify", owner, 60)) is not None:
    out.put(job.id)
    assert store.finish_verify_job(job, owner, 1, f"r{job.id}", "completed", {}, "", 0.0)


def test_processes_sharing_a_store_take_each_job_once(address):
  store = _open(address)
  store.add_seed(_design("gpt2", seed=True))
  for k in range(60):
    store.enqueue("verify", f"v{k}", {})
  ctx = multiprocessing.get_context("spawn")
  out = ctx.Queue()
  procs = [ctx.Process(target=_claim_all, args=(address, f"p{k}", out)) for k in range(4)]
  for p in procs:
    p.start()
  for p in procs:
    p.join(120)
    assert p.exitcode == 0
  taken = [out.get(timeout=5) for _ in range(60)]
  assert sorted(taken) == sorted(set(taken)) and len(taken) == 60
  assert len(store.verifications()) == 60 and store.job_counts() == {("verify", "done"): 60}


def test_one_controller_at_a_time(new_store):
  store = new_store
  assert store.acquire_lease(RUN_LEASE, "a", 60, lambda owner: False) is None
  assert store.acquire_lease(RUN_LEASE, "b", 60, lambda owner: False) == "a"
  assert store.acquire_lease(RUN_LEASE, "b", 60, lambda owner: owner == "a") is None  # a died: b takes over
  store.release_lease(RUN_LEASE, "b")
  assert store.acquire_lease(RUN_LEASE, "c", 0.01, lambda owner: False) is None
  time.sleep(0.05)
  assert store.acquire_lease(RUN_LEASE, "d", 60, lambda owner: False) is None  # c's lease expired


def test_a_job_whose_worker_keeps_dying_is_given_up_and_recorded(new_store):
  store = new_store
  design = store.add_seed(_design("gpt2", seed=True))
  store.enqueue("verify", "v", {"design_id": design, "rung": "micro1"})
  store.enqueue("design", "d", {"operator": "mutation"})
  for attempt in range(2):
    assert store.claim("verify", "dead", 60).attempts == attempt + 1
    assert store.claim("design", "dead", 60).attempts == attempt + 1
    assert store.reclaim(lambda owner: True, max_attempts=2) == 2
  assert store.job_counts() == {("verify", "failed"): 1, ("design", "failed"): 1}
  [v] = store.verifications()
  assert v.status == "error" and "died" in v.results["message"]
  assert store.sessions()[0]["ok"] is False


def _call(cost: float, role: str = "coder", ok: bool = True) -> dict:
  return {"role": role, "model": "m", "design_id": "d1", "ok": ok, "error": None if ok else "PermanentError: x",
          "input_tokens": 100, "output_tokens": 10, "cost_usd": cost, "seconds": 0.5}


def test_calls_count_as_they_are_made_and_every_attempt_goes_to_the_session(new_store):
  store = new_store
  store.enqueue("design", "design:0", {"operator": "mutation"})
  first = store.claim("design", "w1", 60)
  store.record_call(first.id, _call(0.5, "proposer"))
  store.record_call(first.id, _call(0.25, "reviewer", ok=False))
  assert store.spend_usd() == 0.75 and store.sessions() == []  # spent, though no session is recorded yet
  assert store.reclaim(lambda owner: True, max_attempts=3) == 1  # the worker died; the job is retried
  second = store.claim("design", "w2", 60)
  store.record_call(second.id, _call(1.0))
  store.finish_design_job(second, "w2", SessionRecord("llm", "mutation", False, "failed", 2.0, 1.0), None,
                          "rejected", None)
  [session] = store.sessions()
  assert session["cost_usd"] == 1.75 and store.spend_usd() == 1.75 and store.session_estimate_usd() == 1.75
  assert [c["role"] for c in store.calls()] == ["proposer", "reviewer", "coder"]
  assert [c["ok"] for c in store.calls()] == [True, False, True]


def test_a_given_up_design_job_keeps_its_calls_and_spend(new_store):
  store = new_store
  store.enqueue("design", "design:0", {"operator": "scratch"})
  job = store.claim("design", "dead", 60)
  store.record_call(job.id, _call(0.5))
  assert store.reclaim(lambda owner: True, max_attempts=1) == 1
  [session] = store.sessions()
  assert session["designer"] == "error" and session["cost_usd"] == 0.5 and store.spend_usd() == 0.5


def test_a_version_1_store_is_migrated_with_its_calls_and_parent_order(tmp_path):
  path = tmp_path / "old.sqlite"
  db = sqlite3.connect(path)
  designs = "".join(f"INSERT INTO designs (id, name, content_hash, status, tree, path, created)"
                    f" VALUES ({i}, 'd{i}', 'h{i}', 'implemented', '{{}}', 'designs/d{i}', 0);" for i in (1, 2, 3))
  db.executescript(MIGRATIONS[1] + ";INSERT INTO meta VALUES ('schema_version', '1');" + designs +
                   "INSERT INTO lineage VALUES (3, 2, 'crossover'); INSERT INTO lineage VALUES (3, 1, 'crossover');"
                   "INSERT INTO jobs (id, kind, key, payload, state, created) VALUES (7, 'design', 'k', '{}', 'done', 0);"
                   "INSERT INTO sessions (id, job_id, designer, operator, ok, reason, cost_usd, seconds, created)"
                   " VALUES (3, 7, 'llm', 'mutation', 1, 'ok', 0.5, 1, 0);"
                   "INSERT INTO calls (session_id, role, model, ok, input_tokens, output_tokens, cost_usd, seconds)"
                   " VALUES (3, 'proposer', 'm', 1, 10, 5, 0.5, 1);")
  db.close()
  store = SQLiteStore(path)
  assert store.get_meta("schema_version") == SCHEMA_VERSION == 3
  assert store.spend_usd() == 0.5 and store.calls()[0]["role"] == "proposer"
  assert store._db().execute("SELECT job_id, session_id FROM calls").fetchall() == [(7, 3)]
  assert [r.parents for r in store.designs()] == [(), (), (2, 1)]  # the parents' order survives the migration


def test_parents_keep_their_order_and_times_their_precision(new_store):
  a, b = new_store.add_seed(_design("a", seed=True)), new_store.add_seed(_design("b", seed=True))
  child = new_store.add_seed(_design("c", parents=[b, a]))
  assert next(r for r in new_store.designs() if r.id == child).parents == (b, a)
  new_store.log_event("tick")
  # seconds since 1970 in a 4-byte float are off by up to a minute; the store keeps them to the millisecond
  assert abs(new_store.events("tick")[0]["time"] - new_store.now()) < 5.0
  new_store.enqueue("verify", "v", {})
  new_store.claim("verify", "w", lease_s=100.0)
  [(expires,)] = new_store._db().execute("SELECT lease_expires FROM jobs").fetchall()
  assert 95.0 < expires - new_store.now() <= 100.0  # stamped with the store's clock


def test_a_database_of_other_tables_or_none_is_refused(postgres_server):
  url = postgres_server.createdb()
  postgres_server.sql("CREATE TABLE t (x int)", database=url.split("/")[3].split("?")[0])
  with pytest.raises(StoreError, match="holds tables but no genesys_jax metadata"):
    PostgresStore(url)
  with pytest.raises(StoreError, match="no evolution store in the database"):
    PostgresStore(postgres_server.createdb(), create=False)
  absent = postgres_server.url("no_such_database")
  with pytest.raises(StoreError, match=r"could not connect to the evolution store at postgresql:///no_such_database"):
    PostgresStore(absent)


def test_an_unreachable_server_is_one_sentence_without_the_password(tmp_path):
  url = f"postgresql://alice:hunter2@/run?host={tmp_path}&connect_timeout=2"
  with pytest.raises(StoreError) as e:
    PostgresStore(url)
  assert "hunter2" not in str(e.value) and "postgresql://alice@/run" in str(e.value) and "\n" not in str(e.value)


def test_a_dropped_connection_fails_one_call_and_the_next_reconnects(postgres_url):
  import psycopg  # pylint: disable=import-outside-toplevel
  store = PostgresStore(postgres_url)
  store.set_meta("x", 1)
  with psycopg.connect(postgres_url, autocommit=True) as admin:  # as a server restart would
    admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
                  " AND datname = current_database()")
  with pytest.raises(psycopg.OperationalError):
    store.get_meta("x")
  assert store.get_meta("x") == 1
