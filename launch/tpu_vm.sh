#!/usr/bin/env bash
# Runs the main job on a Cloud TPU VM: creates the VM (optional), copies this checkout to every worker and
# installs it, starts the controller on worker 0 in the background, shows its log, stops it cleanly.
#
#   TPU=my-tpu ZONE=us-central2-b launch/tpu_vm.sh [ACTION ...] [--config.FIELD=VALUE ...]
#
# ACTIONs, run in the order given (default: setup start):
#   create   gcloud compute tpus tpu-vm create (ACCELERATOR_TYPE, RUNTIME_VERSION, SPOT=1)
#   setup    copy this checkout (without .git, .venv, runs) to REMOTE_DIR on every worker; pip install '.[tpu]'
#   start    the controller on worker 0 (nohup; log and pid in WORKDIR) unless it runs; the same command
#            resumes a run;
#            on a slice (WORKERS > 1) also a slice verifier on every worker
#   logs     follow the controller's log
#   stop     SIGINT to the controller (and SIGTERM to the slice verifiers): running verifications
#            checkpoint; `start` continues the run
#   delete   gcloud compute tpus tpu-vm delete
# Arguments starting with -- go to the main job (e.g. the data paths of configs/tpu.py).
#
# Settings (environment): TPU, ZONE (required); PROJECT (gcloud's default); ACCELERATOR_TYPE (v4-8);
# RUNTIME_VERSION (tpu-ubuntu2204-base); SPOT=1; PYTHON (python3.11, apt-installed on the VM if missing); CONFIG (configs/tpu.py); WORKDIR (runs/tpu, relative to
# REMOTE_DIR or absolute); REMOTE_DIR (genesys_jax, in the home directory); FORWARD_ENV (names of variables
# passed from here to the jobs, e.g. GEMINI_API_KEY); WORKERS (hosts in the slice, 1); STORE_URL (a
# slice's PostgreSQL store, postgresql://USER@HOST/DATABASE); DRY_RUN=1 (print the commands, run nothing).
#
# A multi-host slice (WORKERS > 1) runs CONFIG's `slice` variant: the controller on worker 0 with its store
# at STORE_URL, and on every worker a slice verifier; the hosts verify each design together (see
# launch/README.md). WORKDIR must then be an absolute path that every worker mounts.
set -euo pipefail

fail() { echo "error: $*" >&2; exit 2; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ -n ${TPU:-} && -n ${ZONE:-} ]] || fail "set TPU to the TPU VM's name and ZONE to its zone, e.g. TPU=my-tpu ZONE=us-central2-b"
ACCELERATOR_TYPE=${ACCELERATOR_TYPE:-v4-8}
RUNTIME_VERSION=${RUNTIME_VERSION:-tpu-ubuntu2204-base}
CONFIG=${CONFIG:-configs/tpu.py}
WORKDIR=${WORKDIR:-runs/tpu}
REMOTE_DIR=${REMOTE_DIR:-genesys_jax}
WORKERS=${WORKERS:-1}
STORE_URL=${STORE_URL:-}
TARBALL=${TMPDIR:-/tmp}/genesys_jax-$TPU.tgz
PYTHON=${PYTHON:-python3.11}
[[ $WORKERS =~ ^[1-9][0-9]*$ ]] || fail "WORKERS must be a positive number of hosts; got '$WORKERS'"
for name in ${FORWARD_ENV:-}; do
  [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || fail "FORWARD_ENV names variables; '$name' is not a name"
  [[ ${DRY_RUN:-0} == 1 || -n ${!name+x} ]] || fail "FORWARD_ENV names $name, which is not set here"
done

actions=() flags=()
for arg in "$@"; do
  case $arg in
    create|setup|start|logs|stop|delete) actions+=("$arg") ;;
    --*) flags+=("$arg") ;;
    *) fail "unknown action '$arg'; choose from create, setup, start, logs, stop, delete (or pass --config.* flags)" ;;
  esac
done
[[ ${#actions[@]} -gt 0 ]] || actions=(setup start)
if (( WORKERS > 1 )); then
  [[ -n $STORE_URL ]] || fail "a slice of $WORKERS hosts shares its store through a PostgreSQL server: set STORE_URL, e.g. STORE_URL=postgresql://me@db-host/genesys_run1"
  [[ $WORKDIR == /* ]] || fail "a slice of $WORKERS hosts shares its run directory: set WORKDIR to an absolute path every worker mounts; got '$WORKDIR'"
  [[ $CONFIG == *:* ]] && CONFIG="$CONFIG,slice" || CONFIG="$CONFIG:slice"
  flags+=("--config.evolve.store_url=$STORE_URL")
fi

# One word quoted as the shell reads it back (as Python's shlex.quote does), and a command line of such words.
q() {
  if [[ $1 =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then echo -n "$1"; else echo -n "'${1//\'/\'\\\'\'}'"; fi
}
show() {
  local out=() arg
  for arg in "$@"; do out+=("$(q "$arg")"); done
  echo "${out[*]}"
}

run() {
  if [[ ${DRY_RUN:-0} == 1 ]]; then show "$@"; else "$@"; fi
}

gcloud_tpu() {  # gcloud compute tpus tpu-vm VERB ARGS... --zone ZONE [--project PROJECT]
  local verb=$1; shift
  run gcloud compute tpus tpu-vm "$verb" "$@" --zone "$ZONE" ${PROJECT:+--project "$PROJECT"}
}

# `env NAME=VALUE ...` for the forwarded variables (values hidden in a dry run).
env_prefix() {
  local name out=(env)
  for name in ${FORWARD_ENV:-}; do
    if [[ ${DRY_RUN:-0} == 1 ]]; then out+=("$name=<hidden>"); else out+=("$name=${!name}"); fi
  done
  echo -n "$(show "${out[@]}") "
}

setup_command() {  # Python 3.11 (the TPU images have 3.10), the checkout, its virtual environment
  local py; py=$(q "$PYTHON")
  echo "(command -v $py >/dev/null || (sudo apt-get update -q && sudo apt-get install -y -q $py $py-venv))" \
       "&& mkdir -p $(q "$REMOTE_DIR") && tar xzf genesys_jax.tgz -C $(q "$REMOTE_DIR") && cd $(q "$REMOTE_DIR")" \
       "&& $py -m venv .venv && .venv/bin/pip install -q -e '.[tpu]'"
}

# `nohup COMMAND` in the background with its log (appended) and pid at LOG and PID, unless the process PID
# names still runs (a second `start` then leaves it alone and says so).
background() {  # LOG PID COMMAND
  echo "if kill -0 \$(cat $2 2>/dev/null) 2>/dev/null; then echo \"already running: pid \$(cat $2) ($2)\";" \
       "else { nohup $3 >> $1 2>&1 < /dev/null & echo \$! > $2; }; fi"
}

controller_command() {
  local main=(.venv/bin/python -m genesys_jax.main --config "$CONFIG" --workdir "$WORKDIR" "${flags[@]}")
  echo "cd $(q "$REMOTE_DIR") && mkdir -p $(q "$WORKDIR") &&" \
       "$(background "$(q "$WORKDIR/controller.log")" "$(q "$WORKDIR/controller.pid")" "$(env_prefix)$(show "${main[@]}")")"
}

# A slice verifier on each worker: its place in the slice from the TPU VM's metadata, started once the
# controller has recorded the run (WORKDIR/store.url); its log and pid in WORKDIR, one per host (the pid
# is the worker's own: nohup and sh exec it).
slice_worker_command() {
  local w=(.venv/bin/python -m genesys_jax.evolve.worker --workdir "$WORKDIR") dir inner; dir=$(q "$WORKDIR")
  local id='$(curl -s -H Metadata-Flavor:Google http://metadata.google.internal/computeMetadata/v1/instance/attributes/agent-worker-number)'
  inner="until [ -f $dir/store.url ]; do sleep 2; done; exec $(env_prefix)GENESYS_JAX_NUM_PROCESSES=$WORKERS"
  inner+=" GENESYS_JAX_PROCESS_ID=$id GENESYS_JAX_SLICE=$(q "$TPU") $(show "${w[@]}")"
  echo "cd $(q "$REMOTE_DIR") && mkdir -p $dir &&" \
       "$(background "$dir/slice-worker.\$(hostname).log" "$dir/slice-worker.\$(hostname).pid" "sh -c $(q "$inner")")"
}

for action in "${actions[@]}"; do
  case $action in
    create)
      gcloud_tpu create "$TPU" --accelerator-type "$ACCELERATOR_TYPE" --version "$RUNTIME_VERSION" \
        ${SPOT:+--spot} ;;
    setup)
      run tar czf "$TARBALL" -C "$REPO" --exclude=./.git --exclude=./.venv --exclude=./runs .
      gcloud_tpu scp "$TARBALL" "$TPU:genesys_jax.tgz" --worker=all
      gcloud_tpu ssh "$TPU" --worker=all --command "$(setup_command)" ;;
    start)
      gcloud_tpu ssh "$TPU" --worker=0 --command "$(controller_command)"
      if (( WORKERS > 1 )); then
        gcloud_tpu ssh "$TPU" --worker=all --command "$(slice_worker_command)"
      fi ;;
    logs) gcloud_tpu ssh "$TPU" --worker=0 --command "cd $(q "$REMOTE_DIR") && tail -n 100 -f $(q "$WORKDIR/controller.log")" ;;
    stop)
      gcloud_tpu ssh "$TPU" --worker=0 --command "cd $(q "$REMOTE_DIR") && kill -INT \$(cat $(q "$WORKDIR/controller.pid"))"
      if (( WORKERS > 1 )); then
        gcloud_tpu ssh "$TPU" --worker=all --command "kill -TERM \$(cat $(q "$WORKDIR")/slice-worker.\$(hostname).pid)"
      fi ;;
    delete) gcloud_tpu delete "$TPU" --quiet ;;
  esac
done
