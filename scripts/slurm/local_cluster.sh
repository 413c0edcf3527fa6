#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for trying profiles/slurm without a real cluster.
#
#   scripts/slurm/local_cluster.sh up       # install (Debian packages) if missing, configure, start
#   scripts/slurm/local_cluster.sh status   # daemons, node state, queue
#   scripts/slurm/local_cluster.sh env      # print `export SLURM_CONF=...` for the clients
#   scripts/slurm/local_cluster.sh down     # stop what `up` started, remove what it created
#
# Everything lives under $COHORTFLOW_SLURM_DIR (default /tmp/cohortflow-slurm): its own munge
# key and socket, slurm.conf, state, spool, logs and a job-completion log (jobcomp.log, the job
# history: accounting is off). munged, slurmctld and slurmd run as root on free ports and are
# stopped by the PIDs this script recorded, never by name.
#
# One thing cannot live there: job scripts of the Snakemake SLURM plugin call `srun`, and srun
# inside a job reads /etc/slurm/slurm.conf. `up` writes that file only when it does not exist
# (and records that it did); `down` removes it only if it is still the file `up` wrote.
# Needs root (as on a laptop VM or CI runner); `up` exits 2 when SLURM cannot be installed or
# started, so callers can tell "no SLURM here" from a failure.
set -euo pipefail

DIR=${COHORTFLOW_SLURM_DIR:-/tmp/cohortflow-slurm}
ETC_CONF=${COHORTFLOW_SLURM_ETC_CONF:-/etc/slurm/slurm.conf}
PARTITION=${COHORTFLOW_SLURM_PARTITION:-main}
CONF=$DIR/slurm.conf
NODE=$(hostname -s)

log() { printf 'local_cluster: %s\n' "$*" >&2; }
cannot() { log "cannot run SLURM here: $*"; exit 2; }

# the directory holds a config this script wrote (or nothing at all)
ours() {
    [[ -z $(ls -A "$DIR" 2>/dev/null) ]] || head -n 1 "$CONF" 2>/dev/null | grep -q '^# Written by cohortflow'
}

pid_alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])'
}

install_packages() {
    local missing=()
    command -v munged >/dev/null || missing+=(munge)
    command -v slurmctld >/dev/null || missing+=(slurmctld)
    command -v slurmd >/dev/null || missing+=(slurmd)
    command -v sbatch >/dev/null || missing+=(slurm-client)
    ((${#missing[@]} == 0)) && return 0
    [[ $(id -u) == 0 ]] || cannot "missing ${missing[*]} and not root to install them"
    command -v apt-get >/dev/null || cannot "missing ${missing[*]} and no apt-get"
    log "installing slurm-wlm munge (Debian packages)"
    local opt=(-o DPkg::Lock::Timeout=900)
    if ! apt-get "${opt[@]}" install -y --no-install-recommends slurm-wlm munge >"$DIR.apt.log" 2>&1; then
        apt-get "${opt[@]}" update >>"$DIR.apt.log" 2>&1 || true
        apt-get "${opt[@]}" install -y --no-install-recommends slurm-wlm munge >>"$DIR.apt.log" 2>&1 ||
            cannot "apt-get install slurm-wlm munge failed (log: $DIR.apt.log)"
    fi
}

write_config() {
    local ctld_port slurmd_port node_line
    ctld_port=$(free_port)
    slurmd_port=$(free_port)
    while [[ $slurmd_port == "$ctld_port" ]]; do slurmd_port=$(free_port); done
    # the machine as slurmd sees it: CPUs, sockets, cores, threads, memory (MB)
    node_line=$(slurmd -C | head -n 1)
    [[ $node_line == NodeName=* ]] || cannot "slurmd -C gave no node description"
    node_line=${node_line/NodeName=* CPUs/NodeName=$NODE CPUs}
    cat >"$CONF" <<CONF
# Written by cohortflow scripts/slurm/local_cluster.sh: a single-node test cluster.
ClusterName=cohortflow
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no cgroups, no accounting daemon: works in containers and VMs without systemd
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
AccountingStorageType=accounting_storage/none
# memory limits enforced as on a production cluster (there by cgroups): slurmd samples each
# job step's resident memory every 2 s and kills a step that exceeds its --mem
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=2
JobAcctGatherParams=OverMemoryKill
# one line per finished job: the job history (sacct needs slurmdbd)
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.log
MpiDefault=none
ReturnToService=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
# finished jobs stay visible to squeue for an hour (the plugin polls their final state)
MinJobAge=3600
KillWait=5
InactiveLimit=0
$node_line NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
}

start_munge() {
    mkdir -p "$DIR/munge"
    chmod 700 "$DIR/munge"
    head -c 1024 /dev/urandom >"$DIR/munge/munge.key"
    chmod 400 "$DIR/munge/munge.key"
    munged --force --key-file="$DIR/munge/munge.key" --socket="$DIR/munge/munge.socket" \
        --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/log/munged.log" \
        --seed-file="$DIR/munge/munged.seed" ||
        cannot "munged did not start (log: $DIR/log/munged.log)"
}

wait_idle() {
    local state=""
    for _ in $(seq 1 120); do
        state=$(SLURM_CONF=$CONF sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
        [[ $state == idle ]] && return 0
        sleep 0.5
    done
    log "node $NODE is '${state:-not responding}' after 60 s; logs in $DIR/log"
    return 1
}

# $ETC_CONF left behind by a cluster of this script that was never brought down (its process
# was killed): removed when that cluster's directory is gone or its slurmctld is dead. Any other
# file (not written by this script, or of a cluster that is running or starting) is left alone.
remove_stale_etc_conf() {
    local other
    [[ -f $ETC_CONF ]] || return 0
    head -n 1 "$ETC_CONF" | grep -q '^# Written by cohortflow' || return 0
    other=$(sed -n 's/^SlurmctldPidFile=//p' "$ETC_CONF")
    [[ -n $other ]] || return 0
    if [[ ! -d $(dirname "$other") ]] || { [[ -s $other ]] && ! pid_alive "$other"; }; then
        log "removing $ETC_CONF of a local cluster that was not brought down ($(dirname "$other"))"
        rm -f "$ETC_CONF"
    fi
}

up() {
    if pid_alive "$DIR/slurmctld.pid"; then
        log "already running ($DIR)"
        print_env
        return 0
    fi
    [[ $(id -u) == 0 ]] || cannot "the local cluster runs its daemons as root (run as root)"
    if [[ -e $DIR ]]; then
        # leftovers of an earlier cluster that was not brought down: ours only
        ours || cannot "$DIR exists and is not a directory this script created"
        rm -rf "$DIR"
    fi
    mkdir -p "$DIR"/{state,spool,log}
    install_packages
    write_config
    start_munge
    # created with O_EXCL (noclobber): an existing file, or one another `up` writes at the
    # same moment, is never overwritten
    mkdir -p "$(dirname "$ETC_CONF")"
    remove_stale_etc_conf
    if (set -o noclobber && cat "$CONF" >"$ETC_CONF") 2>/dev/null; then
        sha256sum "$ETC_CONF" >"$DIR/created-etc-conf"
        log "wrote $ETC_CONF (srun inside the plugin's jobs reads it); 'down' removes it"
    else
        stop_pidfile "$DIR/munge/munged.pid" munged
        rm -rf "$DIR"
        cannot "$ETC_CONF exists (another SLURM configuration, or another local cluster);" \
            "srun inside the jobs would use it instead of this cluster's: left alone"
    fi
    slurmctld -f "$CONF" || cannot "slurmctld did not start (log: $DIR/log/slurmctld.log)"
    slurmd -f "$CONF" || cannot "slurmd did not start (log: $DIR/log/slurmd.log)"
    if ! wait_idle; then
        down
        exit 2
    fi
    log "up: node $NODE idle, partition $PARTITION ($DIR)"
    print_env
}

stop_pidfile() {
    local pidfile=$1 name=$2 pid
    pid_alive "$pidfile" || return 0
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    log "$name ($pid) did not stop in 10 s: killing it"
    kill -9 "$pid" 2>/dev/null || true
}

down() {
    [[ -d $DIR ]] || { log "not running ($DIR does not exist)"; return 0; }
    ours || { log "$DIR was not created by this script: nothing done"; return 0; }
    # jobs still running are the cluster's own: cancel them before the daemons go
    if pid_alive "$DIR/slurmctld.pid"; then
        SLURM_CONF=$CONF scancel --full --quiet --partition "$PARTITION" 2>/dev/null || true
    fi
    stop_pidfile "$DIR/slurmd.pid" slurmd
    stop_pidfile "$DIR/slurmctld.pid" slurmctld
    stop_pidfile "$DIR/munge/munged.pid" munged
    if [[ -s $DIR/created-etc-conf ]]; then
        if sha256sum --status -c "$DIR/created-etc-conf" 2>/dev/null; then
            rm -f "$ETC_CONF"
        else
            log "warning: $ETC_CONF changed since 'up' wrote it: left in place"
        fi
    fi
    rm -rf "$DIR"
    log "down"
}

status() {
    local rc=0 d
    for d in munge/munged slurmctld slurmd; do
        if pid_alive "$DIR/$d.pid"; then
            echo "${d#munge/}: running (pid $(cat "$DIR/$d.pid"))"
        else
            echo "${d#munge/}: not running"
            rc=1
        fi
    done
    if ((rc == 0)); then
        SLURM_CONF=$CONF sinfo
        SLURM_CONF=$CONF squeue
    fi
    return $rc
}

print_env() { echo "export SLURM_CONF=$CONF"; }

case ${1:-} in
up) up ;;
down) down ;;
status) status ;;
env) print_env ;;
*)
    echo "usage: $0 up|down|status|env" >&2
    exit 64
    ;;
esac
