#!/usr/bin/env bash
# A one-node Slurm cluster on loopback, for the Slurm executor's tests.
#   scripts/slurm-cluster.sh start DIR   writes DIR/slurm.conf, starts munged,
#                                        slurmctld and slurmd, waits for the
#                                        node, prints the pids to DIR/pids
#   scripts/slurm-cluster.sh stop DIR    stops them by those pids
# Needs root and Debian's slurm-wlm and munge (scripts/setup.sh test
# installs them). Every file lives in DIR; the ports are picked free.
set -euo pipefail
cmd=${1:?start or stop}; dir=${2:?a directory}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

case $cmd in
start)
    for tool in munged slurmctld slurmd sbatch; do
        command -v $tool >/dev/null || { echo "slurm-cluster: $tool not found: install slurm-wlm and munge" >&2; exit 2; }
    done
    [[ $(id -u) -eq 0 ]] || { echo "slurm-cluster: needs root (slurmd runs jobs as their users)" >&2; exit 2; }
    mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/munge"
    # munge: its own key, socket and pid file, so a system munged is untouched.
    if [[ ! -f "$dir/munge/munge.key" ]]; then
        dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
        chmod 400 "$dir/munge/munge.key"
    fi
    chown -R root:root "$dir/munge"; chmod 700 "$dir/munge"
    munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/socket" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed"
    host=$(hostname)
    # The node claims more CPUs than the machine has (config_overrides), so
    # that the tests' jobs, each one CPU, run side by side.
    cat > "$dir/slurm.conf" <<CONF
ClusterName=advmix-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
JobRequeue=1
KillWait=5
MinJobAge=600
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=8 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF="$dir/slurm.conf"
    slurmctld -c -f "$SLURM_CONF"
    slurmd -f "$SLURM_CONF"
    for _ in $(seq 1 60); do
        if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
            echo "$(cat "$dir/munge/munged.pid") $(cat "$dir/slurmctld.pid") $(cat "$dir/slurmd.pid")" > "$dir/pids"
            echo "slurm-cluster: up, SLURM_CONF=$SLURM_CONF"
            exit 0
        fi
        sleep 0.5
    done
    echo "slurm-cluster: the node did not come up; see $dir/log" >&2
    tail -n 20 "$dir/log/"*.log >&2 || true
    exit 1
    ;;
stop)
    for f in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
        [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null || true
    done
    ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
