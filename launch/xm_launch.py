"""Launches the main job, and extra verifier workers beside it, with XManager: once, or once per sweep entry.

    python launch/xm_launch.py --config configs/default.py --workdir runs/sweep --sweep --verifiers 1
    python launch/xm_launch.py --config configs/gpu.py --workdir /gcs/BUCKET/runs/gpu --platform vertex \
        --accelerator A100 --accelerator_count 8 --env GEMINI_API_KEY --config.verify.data.tfds_name=...

It runs in its own environment (launch/requirements.txt: xmanager pins older google-genai and protobuf
than genesys_jax) and never imports genesys_jax: the sweep is expanded by `genesys_jax.sweep --print_json`
run with the system's interpreter (--genesys_python), or read from a file (--sweep_json). `--dry_run`
prints the job specs as JSON without importing xmanager; only the real launch imports it.

Each work unit is one run: the controller (`python -m genesys_jax.main`) in WORKDIR/<job name> (WORKDIR
itself without --sweep) and, locally, --verifiers extra `python -m genesys_jax.evolve.worker` processes
that join it once its store exists. On Vertex AI the run lives on the job's local disk, copied in from
WORKDIR at the start (a resume) and back when the main job exits: put WORKDIR under /gcs/BUCKET/, where
Vertex mounts Cloud Storage (which cannot hold the live SQLite store itself).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from typing import Any, NoReturn

REPO = pathlib.Path(__file__).resolve().parents[1]
PLATFORMS = ("local", "vertex")
CONTROLLER = "genesys_jax.main"
WORKER = "genesys_jax.evolve.worker"
STORE, STORE_URL = "store.sqlite", "store.url"  # a run's SQLite store, or the URL of its PostgreSQL store
VERTEX_SCRATCH = "/tmp/genesys_run"
VERTEX_IMAGE = "python:3.11-slim"
VERTEX_GPUS = ("A100", "L4_24TH", "V100", "T4", "P100", "P4")
"""The xm.ResourceType GPUs for which xm_local's Vertex executor picks a machine that has them (A2 for
A100, G2 for L4, N1 for the rest; xmanager 0.8.5 would put H100 / H200 / A100_80GIB on an N1 machine,
which Vertex AI refuses). Its TPUs (TPU_V2, TPU_V3) are TPU Nodes, which JAX no longer supports: TPUs go
through launch/tpu_vm.sh."""
STAGED_OUT = (".git", ".venv", "runs", "build", "*.egg-info", "__pycache__", ".pytest_cache")
"""What the Vertex AI image leaves out of the checkout (xm_local copies the whole directory it is given)."""
WAIT_FOR_STORE_S = 900
"""How long an extra verifier waits for the controller to create the run's store before giving up."""


def fail(message: str) -> NoReturn:
  """Bad input: one sentence on stderr, exit code 2 (as genesys_jax's own commands do)."""
  print(f"error: {message}", file=sys.stderr)
  sys.exit(2)


@dataclasses.dataclass(frozen=True)
class JobSpec:
  """One process to start: where it belongs, the command it runs and what it runs on."""

  work_unit: str                  # the sweep entry's job name ("run" without --sweep)
  name: str                       # "controller" or "verifier_<i>"
  command: tuple[str, ...]        # the argv of the process, run in the repository root
  executor: str                   # local | vertex
  accelerator: str | None         # an xm.ResourceType GPU name (A100, V100, ...); None: the host's own devices
  accelerator_count: int
  env: dict[str, str]             # NAME=VALUE set in the job
  forward_env: tuple[str, ...]    # NAMEs whose values are taken from this environment at launch

  def to_json(self) -> dict[str, Any]:
    return dataclasses.asdict(self)


class _Parser(argparse.ArgumentParser):
  def error(self, message: str) -> NoReturn:
    fail(message)


def _parser() -> argparse.ArgumentParser:
  p = _Parser(prog="launch/xm_launch.py", description=__doc__.splitlines()[0],
              epilog="Other arguments: --config.FIELD=VALUE overrides for every run, and XManager's own "
                     "--xm_* flags.")
  p.add_argument("--config", required=True, help="run config, e.g. configs/default.py or configs/gpu.py:offline")
  p.add_argument("--workdir", required=True, help="run directory; with --sweep, each run goes to WORKDIR/<job name>")
  p.add_argument("--sweep", action="store_true", help="one run per entry of the config's get_sweep")
  p.add_argument("--sweep_json", help="read the expanded sweep from this file (genesys_jax.sweep --print_json)")
  p.add_argument("--genesys_python", default=os.environ.get("GENESYS_PYTHON", _default_python()),
                 help="interpreter with genesys_jax installed (default: $GENESYS_PYTHON, else .venv/bin/python)")
  p.add_argument("--platform", choices=PLATFORMS, default="local", help="xm_local.Local or xm_local.Vertex")
  p.add_argument("--verifiers", type=int, default=0, help="extra verifier workers per run (local only)")
  p.add_argument("--accelerator", type=str.upper, help=f"Vertex AI GPU: {', '.join(VERTEX_GPUS)}")
  p.add_argument("--accelerator_count", type=int, default=1, help="accelerators per Vertex AI job")
  p.add_argument("--env", action="append", default=[], metavar="NAME[=VALUE]",
                 help="environment variable for every job; NAME alone forwards this environment's value")
  p.add_argument("--image", default=VERTEX_IMAGE, help="base image of the Vertex AI container")
  p.add_argument("--push_image_tag", help="where Vertex AI images are pushed, e.g. gcr.io/PROJECT/genesys_jax:latest")
  p.add_argument("--title", help="experiment title (default: genesys_jax CONFIG)")
  p.add_argument("--dry_run", action="store_true", help="print the job specs as JSON; import nothing, launch nothing")
  return p


def _default_python() -> str:
  venv = REPO / ".venv" / "bin" / "python"
  return str(venv) if venv.exists() else "python3"


def _split_extra(extra: Sequence[str]) -> tuple[list[str], list[str]]:
  """`--config.*` overrides and XManager's `--xm_*` flags; anything else is an error."""
  overrides, xm_flags = [], []
  for arg in extra:
    if arg.startswith("--config."):
      overrides.append(arg)
    elif arg.startswith(("--xm_", "--noxm_")):
      xm_flags.append(arg)
    else:
      fail(f"unrecognized argument {arg}; pass --config.FIELD=VALUE overrides or --xm_* flags")
  return overrides, xm_flags


def _config_spec(config: str, platform: str) -> str:
  """The config file as the jobs see it: absolute locally, relative to the repository in a container."""
  path, sep, arg = config.partition(":")
  file = pathlib.Path(path).resolve()
  if not file.is_file():
    fail(f"config file {path} does not exist")
  if platform == "vertex":
    if not file.is_relative_to(REPO):
      fail(f"config file {path} is outside the repository {REPO}, so the Vertex AI image would not have it")
    return f"{file.relative_to(REPO)}{sep}{arg}"
  return f"{file}{sep}{arg}"


def expand_sweep(args: argparse.Namespace, spec: str, overrides: list[str]) -> list[dict[str, Any]]:
  """The sweep's jobs (name and flags): from --sweep_json, from `genesys_jax.sweep --print_json`, or one run."""
  if args.sweep_json:
    try:
      data = json.loads(pathlib.Path(args.sweep_json).read_text())
      jobs = [{"name": j["name"], "flags": [*overrides, *j["flags"]]} for j in data["jobs"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
      fail(f"--sweep_json {args.sweep_json} is not a sweep from genesys_jax.sweep --print_json ({e})")
    return jobs
  if not args.sweep:
    return [{"name": "run", "flags": overrides}]
  cmd = [args.genesys_python, "-m", "genesys_jax.sweep", "--config", spec, "--print_json", *overrides]
  try:
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
  except OSError as e:
    fail(f"cannot run {args.genesys_python} to expand the sweep ({e.strerror}); set --genesys_python")
  if done.returncode != 0:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    fail(f"expanding the sweep failed: {lines[-1] if lines else f'exit {done.returncode}'}".replace("error: ", ""))
  return json.loads(done.stdout)["jobs"]


def _env(items: Sequence[str]) -> tuple[dict[str, str], tuple[str, ...]]:
  env, forward = {}, []
  for item in items:
    name, sep, value = item.partition("=")
    if not name.isidentifier():
      fail(f"--env {item} is not NAME or NAME=VALUE")
    if sep:
      env[name] = value
    else:
      forward.append(name)
  return env, tuple(forward)


def _local_jobs(args: argparse.Namespace, spec: str, unit: str, flags: list[str], workdir: pathlib.Path,
                env: dict[str, str], forward: tuple[str, ...]) -> list[JobSpec]:
  python = shutil.which(args.genesys_python) or args.genesys_python
  controller = (python, "-m", CONTROLLER, "--config", spec, "--workdir", str(workdir), *flags)
  jobs = [JobSpec(unit, "controller", controller, "local", None, 0, env, forward)]
  store, url = shlex.quote(str(workdir / STORE)), shlex.quote(str(workdir / STORE_URL))
  worker = shlex.join([python, "-m", WORKER, "--workdir", str(workdir)])
  message = shlex.quote(f"error: no run appeared in {workdir} within {WAIT_FOR_STORE_S} s")
  wait = (f"i=0; until [ -f {store} ] || [ -f {url} ]; do i=$((i+5)); if [ $i -gt {WAIT_FOR_STORE_S} ]; then "
          f"echo {message} >&2; exit 1; fi; sleep 5; done; exec {worker}")
  for i in range(1, args.verifiers + 1):
    jobs.append(JobSpec(unit, f"verifier_{i}", ("/bin/sh", "-c", wait), "local", None, 0, env, forward))
  return jobs


def _vertex_job(args: argparse.Namespace, spec: str, unit: str, flags: list[str], workdir: str,
                env: dict[str, str], forward: tuple[str, ...]) -> JobSpec:
  """The controller in a container: the run copied in from WORKDIR (a resume), run locally, copied back."""
  scratch = f"{VERTEX_SCRATCH}/{unit}"
  main = shlex.join(["python", "-m", CONTROLLER, "--config", spec, "--workdir", scratch, *flags])
  out, local = shlex.quote(workdir), shlex.quote(scratch)
  script = (f"mkdir -p {local}; if [ -d {out} ]; then cp -r {out}/. {local}/; fi; {main} & pid=$!; "
            f"trap 'kill -TERM $pid' TERM INT; wait $pid; code=$?; if kill -0 $pid 2>/dev/null; then wait $pid; "
            f"code=$?; fi; mkdir -p {out} && cp -r {local}/. {out}/; exit $code")
  return JobSpec(unit, "controller", ("/bin/sh", "-c", script), "vertex", args.accelerator,
                 args.accelerator_count if args.accelerator else 0, env, forward)


def job_specs(args: argparse.Namespace, overrides: list[str]) -> list[JobSpec]:
  """Every job of the experiment, work unit by work unit."""
  if args.verifiers < 0:
    fail("--verifiers must be 0 or more")
  if args.platform == "local" and args.accelerator:
    fail("--accelerator is for --platform vertex; a local run uses this machine's devices")
  if args.platform == "vertex" and args.verifiers:
    fail("extra verifier jobs would run on other machines, which do not see the job's local run directory; "
         "use --config.evolve.workers.verifiers=N for more verifiers inside the job")
  if args.accelerator and args.accelerator not in VERTEX_GPUS:
    fail(f"--accelerator {args.accelerator} is not a Vertex AI GPU of xm_local ({', '.join(VERTEX_GPUS)}); "
         "for TPUs use launch/tpu_vm.sh")
  if args.platform == "vertex" and not args.workdir.startswith("/"):
    fail("on Vertex AI --workdir is a path in the container, e.g. /gcs/BUCKET/runs/NAME (Cloud Storage)")
  if args.accelerator_count < 1:
    fail("--accelerator_count must be at least 1")
  spec = _config_spec(args.config, args.platform)
  env, forward = _env(args.env)
  specs = []
  for job in expand_sweep(args, _config_spec(args.config, "local"), overrides):
    unit, flags = job["name"], list(job["flags"])
    if args.platform == "vertex":
      workdir = args.workdir.rstrip("/") + (f"/{unit}" if args.sweep or args.sweep_json else "")
      specs.append(_vertex_job(args, spec, unit, flags, workdir, env, forward))
    else:
      root = pathlib.Path(args.workdir).resolve()
      workdir = root / unit if args.sweep or args.sweep_json else root
      specs.extend(_local_jobs(args, spec, unit, flags, workdir, env, forward))
  return specs


def _docker_instructions(accelerator: str | None) -> list[str]:
  """The image: the staged checkout in /genesys_jax, installed with the CUDA extra when the job has GPUs."""
  extra = "[cuda]" if accelerator else ""
  return ["ENV LANG=C.UTF-8", "WORKDIR /genesys_jax", "COPY genesys_jax/ /genesys_jax",
          f"RUN pip install --no-cache-dir -e '.{extra}'"]


def _stage(directory: pathlib.Path) -> pathlib.Path:
  """A copy of the checkout without environments, runs and history, as the image's build context."""
  staged = directory / "genesys_jax"
  shutil.copytree(REPO, staged, ignore=shutil.ignore_patterns(*STAGED_OUT))
  return staged


def launch(args: argparse.Namespace, specs: Sequence[JobSpec], xm_flags: Sequence[str]) -> None:
  """Creates the XManager experiment: one work unit (a JobGroup) per run."""
  from absl import flags  # pylint: disable=g-import-not-at-top  (only the real launch needs xmanager)
  from xmanager import xm, xm_local  # pylint: disable=g-import-not-at-top

  flags.FLAGS([sys.argv[0], *xm_flags])  # xm_local reads its own --xm_* absl flags
  missing = [name for spec in specs for name in spec.forward_env if name not in os.environ]
  if missing:
    fail(f"--env {missing[0]} is not set in this environment")
  with tempfile.TemporaryDirectory() as staging, \
      xm_local.create_experiment(experiment_title=args.title or f"genesys_jax {args.config}") as experiment:
    context = _stage(pathlib.Path(staging)) if args.platform == "vertex" else REPO
    for unit in dict.fromkeys(spec.work_unit for spec in specs):
      jobs = [spec for spec in specs if spec.work_unit == unit]
      if args.platform == "vertex":
        packageables = [xm.python_container(
            executor_spec=xm_local.Vertex.Spec(push_image_tag=args.push_image_tag),
            path=str(context), base_image=args.image, docker_instructions=_docker_instructions(job.accelerator),
            entrypoint=xm.CommandList([shlex.join(job.command)])) for job in jobs]
      else:
        packageables = [xm.binary(executor_spec=xm_local.Local.Spec(), path=job.command[0], args=list(job.command[1:]))
                        for job in jobs]
      executables = experiment.package(packageables)
      group = {}
      for job, executable in zip(jobs, executables):
        if job.executor == "vertex":
          resources = {job.accelerator: job.accelerator_count} if job.accelerator else {}
          executor = xm_local.Vertex(requirements=xm.JobRequirements(resources))
        else:
          executor = xm_local.Local()
        env = {**job.env, **{name: os.environ[name] for name in job.forward_env}}
        group[job.name] = xm.Job(executable=executable, executor=executor, env_vars=env)
      experiment.add(xm.JobGroup(**group))
    print(f"launched experiment {experiment.experiment_id}: {len(specs)} job(s)")


def main(argv: Sequence[str]) -> None:
  args, extra = _parser().parse_known_args(argv)
  overrides, xm_flags = _split_extra(extra)
  if args.sweep and args.sweep_json:
    fail("pass --sweep or --sweep_json, not both")
  specs = job_specs(args, overrides)
  if args.dry_run:
    print(json.dumps({"platform": args.platform, "jobs": [s.to_json() for s in specs]}, indent=1))
    return
  launch(args, specs, xm_flags)


if __name__ == "__main__":
  main(sys.argv[1:])
