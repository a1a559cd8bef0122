"""The work queue of the evolution store on SQLite and on PostgreSQL, side by side: processes claiming
verification jobs and recording each result with the job's close, as verifiers do.

    python benchmarks/store_queue.py --jobs 300 --processes 1 4 [--postgres_url postgresql:///bench?host=...]

Prints jobs per second for each backend and process count, and the median and 95th-percentile seconds of
one claim and one finish. The PostgreSQL column needs an empty database (`createdb bench`); without
--postgres_url only SQLite is measured. A verification takes seconds to hours, so the queue matters only
if a claim costs a noticeable part of that.
"""

from __future__ import annotations

import argparse
import multiprocessing
import pathlib
import statistics
import sys
import tempfile
import time

from genesys_jax.evolve.postgres_store import PostgresStore
from genesys_jax.evolve.sqlite_store import SQLiteStore
from genesys_jax.evolve.store import EvolutionStore
from genesys_jax.evolve.store_rows import NewDesign


def _open(address: str) -> EvolutionStore:
  return PostgresStore(address) if address.startswith("postgresql:") else SQLiteStore(address)


def _drain(address: str, owner: str, out) -> None:
  """Claims and finishes jobs until none is left; puts (loop start, loop end, [(claim s, finish s) per job])."""
  store, timings = _open(address), []
  store.job_counts()  # connected before the clock starts
  began = time.time()
  while True:
    start = time.perf_counter()
    job = store.claim("verify", owner, 60.0)
    claimed = time.perf_counter()
    if job is None:
      break
    store.finish_verify_job(job, owner, job.payload["design_id"], job.payload["rung"], "completed", {"loss": 1.0},
                            "", 0.0)
    timings.append((claimed - start, time.perf_counter() - claimed))
  out.put((began, time.time(), timings))


def measure(address: str, jobs: int, processes: int) -> dict[str, float]:
  store = _open(address)
  design = store.add_seed(NewDesign(f"gpt2-{processes}", f"hash-{processes}", {"root": "R"}, "designs/gpt2", seed=True))
  for k in range(jobs):
    store.enqueue("verify", f"verify:{design}:{processes}:{k}", {"design_id": design, "rung": f"r{processes}-{k}"})
  ctx = multiprocessing.get_context("spawn")
  out = ctx.Queue()
  procs = [ctx.Process(target=_drain, args=(address, f"p{k}", out)) for k in range(processes)]
  for p in procs:
    p.start()
  reports = [out.get() for _ in procs]
  for p in procs:
    p.join()
  seconds = max(end for _, end, _ in reports) - min(began for began, _, _ in reports)  # start-up not counted
  timings = [t for _, _, ts in reports for t in ts]
  if len(timings) != jobs:
    sys.exit(f"error: {len(timings)} of {jobs} jobs were finished")
  claims, finishes = sorted(t[0] for t in timings), sorted(t[1] for t in timings)
  return {"jobs_per_s": jobs / seconds, "claim_median": statistics.median(claims), "claim_p95": _p95(claims),
          "finish_median": statistics.median(finishes), "finish_p95": _p95(finishes)}


def _p95(sorted_values: list[float]) -> float:
  return sorted_values[int(0.95 * (len(sorted_values) - 1))]


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--jobs", type=int, default=300)
  parser.add_argument("--processes", type=int, nargs="+", default=[1, 4])
  parser.add_argument("--postgres_url", default="")
  args = parser.parse_args()
  if args.jobs < 1 or min(args.processes) < 1:
    parser.error("--jobs and --processes must be at least 1")
  with tempfile.TemporaryDirectory() as tmp:
    backends = [("sqlite", str(pathlib.Path(tmp) / "bench.sqlite"))]
    if args.postgres_url:
      backends.append(("postgresql", args.postgres_url))
    print(f"{'backend':<11} {'procs':>5} {'jobs/s':>8} {'claim ms (median, p95)':>24} {'finish ms (median, p95)':>25}")
    for name, address in backends:
      for n in args.processes:
        r = measure(address, args.jobs, n)
        print(f"{name:<11} {n:>5} {r['jobs_per_s']:>8.0f} {1e3 * r['claim_median']:>12.2f} {1e3 * r['claim_p95']:>11.2f}"
              f" {1e3 * r['finish_median']:>12.2f} {1e3 * r['finish_p95']:>12.2f}")


if __name__ == "__main__":
  main()
