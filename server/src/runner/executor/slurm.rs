//! Jobs on a Slurm cluster. Each job is a batch script in its directory
//! (`job.sbatch`), submitted with `sbatch`; a handle is `slurm:JOBID`. The
//! cluster shares the data directory with this server, so the job's
//! `events.jsonl` is all the runner reads. States come from one `squeue`
//! call per poll for every job followed, and from `scontrol show job` for
//! jobs that have left the queue (no accounting database needed).

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use advmix_protocol::config::Resources;
use advmix_protocol::layout::{CHECKPOINT_DIR, RESUME_FILE, STDERR_LOG};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::{Executor, Exit, Handle, JobSpec, JobState, Placement, Submitted};

pub const NAME: &str = "slurm";
/// The batch script in each job's directory.
pub const SCRIPT: &str = "job.sbatch";
/// How long a check of a sweep's resources waits for sbatch.
const CHECK_LIMIT: Duration = Duration::from_secs(30);

/// What every job asks Slurm for; a sweep's `resources` override some of it.
#[derive(Clone, Debug, Default)]
pub struct SlurmConfig {
    pub partition: Option<String>,
    /// `gpu:1` by default; none for CPU partitions.
    pub gres: Option<String>,
    pub time: Option<String>,
    pub account: Option<String>,
    pub qos: Option<String>,
    /// More sbatch options, as the user wrote them.
    pub extra: Vec<String>,
    /// How many jobs advmix keeps submitted at once.
    pub max_jobs: usize,
    /// Seconds before the time limit at which the job is told to checkpoint
    /// and requeue itself.
    pub signal_seconds: u32,
    /// `SLURM_CONF` for the client tools, when not the environment's.
    pub conf: Option<PathBuf>,
}

impl SlurmConfig {
    /// The device the trainer is given inside an allocation: Slurm makes the
    /// allocated GPU the first one the job sees.
    pub fn device(&self) -> &'static str {
        if self.gres.as_deref().is_some_and(|g| g.contains("gpu")) { "cuda:0" } else { "cpu" }
    }
}

/// One job as Slurm last reported it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Seen {
    state: String,
    reason: String,
    node: String,
    restarts: u32,
    exit_code: i32,
}

struct Snapshot {
    at: Option<Instant>,
    /// The ids the query behind `jobs` asked about.
    asked: HashSet<String>,
    jobs: HashMap<String, Seen>,
}

pub struct SlurmExecutor {
    trainer: PathBuf,
    config: SlurmConfig,
    /// Jobs followed: every poll asks about all of them at once.
    tracked: Mutex<HashSet<String>>,
    /// Jobs this server cancelled, so that a cancel from outside says so.
    cancelled: Mutex<HashSet<String>>,
    snapshot: tokio::sync::Mutex<Snapshot>,
    /// How old a snapshot may be before the next question refreshes it.
    refresh: Duration,
}

impl SlurmExecutor {
    pub fn new(trainer: PathBuf, config: SlurmConfig, refresh: Duration) -> SlurmExecutor {
        SlurmExecutor {
            trainer,
            config,
            tracked: Mutex::new(HashSet::new()),
            cancelled: Mutex::new(HashSet::new()),
            snapshot: tokio::sync::Mutex::new(Snapshot { at: None, asked: HashSet::new(), jobs: HashMap::new() }),
            refresh,
        }
    }

    fn command(&self, program: &str) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(program);
        if let Some(conf) = &self.config.conf {
            command.env("SLURM_CONF", conf);
        }
        command.stdin(std::process::Stdio::null()).kill_on_drop(true);
        command
    }

    /// Runs a Slurm tool; its stdout, or its own error message.
    async fn run(&self, program: &str, args: &[OsString]) -> std::io::Result<String> {
        let out = self.command(program).args(args).output().await.map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot run {program}: {e}; is Slurm's client installed on this machine?"))
        })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            let message = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            Err(std::io::Error::other(format!("{program} refused: {message}")))
        }
    }

    /// Submits `script`; the job id.
    pub async fn sbatch(&self, script: &Path) -> std::io::Result<String> {
        let out = self.run("sbatch", &["--parsable".into(), script.into()]).await?;
        // `JOBID` or `JOBID;CLUSTER`.
        let id = out.trim().split(';').next().unwrap_or("").to_owned();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(std::io::Error::other(format!("sbatch answered `{}`, not a job id", out.trim())));
        }
        Ok(id)
    }

    /// What Slurm says of job `id`, from a snapshot no older than
    /// `refresh` whose query asked about `id`: one query answers for every
    /// job followed. `Err` when Slurm did not answer.
    async fn seen(&self, id: &str) -> Result<Option<Seen>, String> {
        self.tracked.lock().expect("not poisoned").insert(id.to_owned());
        let mut snapshot = self.snapshot.lock().await;
        let fresh = snapshot.at.is_some_and(|at| at.elapsed() < self.refresh);
        // A job submitted after the last query was not asked about: an
        // answer without it says nothing about it.
        if !(fresh && snapshot.asked.contains(id)) {
            let ids: HashSet<String> = self.tracked.lock().expect("not poisoned").clone();
            let jobs = match self.query(&ids.iter().cloned().collect::<Vec<_>>()).await {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot ask Slurm for job states; asking again at the next poll");
                    return Err(e.to_string());
                }
            };
            // Jobs Slurm has forgotten are not asked about again.
            self.tracked.lock().expect("not poisoned").retain(|id| jobs.contains_key(id) || !ids.contains(id));
            snapshot.jobs = jobs;
            snapshot.asked = ids;
            snapshot.at = Some(Instant::now());
        }
        Ok(snapshot.jobs.get(id).cloned())
    }

    /// The states of `ids`: squeue for jobs in the queue, then scontrol for
    /// those that have left it.
    async fn query(&self, ids: &[String]) -> std::io::Result<HashMap<String, Seen>> {
        let mut jobs = HashMap::new();
        if ids.is_empty() {
            return Ok(jobs);
        }
        let args: Vec<OsString> = vec![
            "--noheader".into(),
            format!("--jobs={}", ids.join(",")).into(),
            "--Format=JobID:|,State:|,Reason:|,NodeList:|,RestartCnt:".into(),
        ];
        match self.run("squeue", &args).await {
            Ok(out) => jobs.extend(out.lines().filter_map(parse_squeue)),
            // Every id unknown to the queue: not an error, they all left it.
            Err(e) if e.to_string().contains("Invalid job id") => {}
            Err(e) => return Err(e),
        }
        if ids.iter().any(|id| !jobs.contains_key(id)) {
            let out = self.run("scontrol", &["show".into(), "job".into(), "--oneliner".into()]).await.unwrap_or_default();
            for (id, seen) in out.lines().filter_map(parse_scontrol) {
                if ids.contains(&id) && !jobs.contains_key(&id) {
                    jobs.insert(id, seen);
                }
            }
        }
        Ok(jobs)
    }

    fn was_cancelled_here(&self, id: &str) -> bool {
        self.cancelled.lock().expect("not poisoned").contains(id)
    }

    fn state_of(&self, id: &str, seen: Option<&Seen>) -> JobState {
        let Some(seen) = seen else { return JobState::Gone };
        let reason = (!seen.reason.is_empty() && seen.reason != "None").then(|| seen.reason.clone());
        match seen.state.as_str() {
            "PENDING" | "CONFIGURING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED" | "RESIZING" | "SUSPENDED" => {
                JobState::Pending(reason)
            }
            "RUNNING" | "COMPLETING" | "SIGNALING" | "STAGE_OUT" => JobState::Running,
            "COMPLETED" => JobState::Ended(Exit::Code(seen.exit_code)),
            "CANCELLED" if self.was_cancelled_here(id) => {
                JobState::Ended(Exit::Cancelled("stopped by request: the job was cancelled after its grace period".into()))
            }
            "CANCELLED" => JobState::Ended(Exit::Cancelled(format!(
                "Slurm job {id} was cancelled outside advmix (scancel or an administrator); resume it to continue from its checkpoint"
            ))),
            "FAILED" => JobState::Ended(Exit::Code(if seen.exit_code == 0 { 1 } else { seen.exit_code })),
            other => {
                let why = reason.map(|r| format!(", {r}")).unwrap_or_default();
                let node = if seen.node.is_empty() { String::new() } else { format!(" on {}", seen.node) };
                JobState::Ended(Exit::Killed(format!("Slurm ended job {id}{node}: {other}{why}")))
            }
        }
    }

    /// The `#SBATCH` lines of what a job asks for: `resources` over this
    /// server's defaults, then the extra options.
    fn requests(&self, resources: &Resources) -> Vec<String> {
        let c = &self.config;
        let mut lines = Vec::new();
        let mut option = |name: &str, value: Option<&String>| {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                lines.push(format!("#SBATCH --{name}={v}"));
            }
        };
        option("partition", resources.partition.as_ref().or(c.partition.as_ref()));
        option("gres", resources.gres.as_ref().or(c.gres.as_ref()));
        option("time", resources.time.as_ref().or(c.time.as_ref()));
        option("account", c.account.as_ref());
        option("qos", resources.qos.as_ref().or(c.qos.as_ref()));
        lines.extend(c.extra.iter().map(|extra| format!("#SBATCH {extra}")));
        lines
    }

    /// The batch script for `job`.
    pub fn script(&self, job: &JobSpec) -> String {
        let c = &self.config;
        let q = |s: &Path| shell_quote(&s.to_string_lossy());
        let mut lines = vec![
            "#!/bin/bash".to_owned(),
            format!("#SBATCH --job-name=advmix-{}", job.name),
            "#SBATCH --output=/dev/null".to_owned(),
            format!("#SBATCH --error={}", job.dir.join(STDERR_LOG).display()),
            // A requeued attempt appends to the earlier attempts' log.
            "#SBATCH --open-mode=append".to_owned(),
            "#SBATCH --requeue".to_owned(),
            format!("#SBATCH --signal=B:USR1@{}", c.signal_seconds),
            format!("#SBATCH --chdir={}", job.dir.display()),
        ];
        lines.extend(self.requests(&job.resources));
        let train = job.args.first().is_some_and(|a| a == "train");
        let args: Vec<String> = job
            .args
            .iter()
            .filter(|a| !(train && *a == "--resume"))
            .map(|a| shell_quote(&a.to_string_lossy()))
            .collect();
        lines.push(String::new());
        lines.push(format!("# advmix {}: written by the server, submitted with sbatch.", job.name));
        lines.push("# On SIGTERM (advmix's stop, or preemption) the trainer saves a checkpoint and".to_owned());
        lines.push("# exits; near the time limit (USR1) it does the same and the job requeues".to_owned());
        lines.push("# itself, so that the next attempt continues from the checkpoint.".to_owned());
        lines.push("extra=()".to_owned());
        if train {
            let resume = job.dir.join(CHECKPOINT_DIR).join(RESUME_FILE);
            lines.push(format!("[[ -f {} ]] && extra+=(--resume)", q(&resume)));
        }
        lines.push(
            "echo \"advmix: job $SLURM_JOB_ID on $(hostname), restart ${SLURM_RESTART_COUNT:-0}\" >&2".to_owned(),
        );
        lines.push(format!("{} {} \"${{extra[@]}}\" > /dev/null &", q(&self.trainer), args.join(" ")));
        lines.push("trainer=$!".to_owned());
        lines.push("trap 'kill -TERM $trainer 2>/dev/null' TERM".to_owned());
        lines.push("trap 'kill -TERM $trainer 2>/dev/null; requeue=1' USR1".to_owned());
        lines.push("requeue=0".to_owned());
        // `wait` returns when a trap runs; wait again until the trainer is gone.
        lines.push("while wait $trainer; code=$?; kill -0 $trainer 2>/dev/null; do :; done".to_owned());
        lines.push("if [[ $requeue == 1 ]]; then scontrol requeue \"$SLURM_JOB_ID\"; fi".to_owned());
        lines.push("exit $code".to_owned());
        lines.join("\n") + "\n"
    }

    /// Writes a job that creates `file` and waits up to `limit` for the file
    /// to appear: proof that the compute nodes see this directory.
    pub async fn probe(&self, dir: &Path, limit: Duration) -> anyhow::Result<()> {
        let nonce = format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
        let probe_dir = dir.join("slurm-probe");
        std::fs::create_dir_all(&probe_dir)?;
        let file = probe_dir.join(format!("seen-{nonce}"));
        let script = probe_dir.join(format!("probe-{nonce}.sbatch"));
        let c = &self.config;
        let mut lines = vec!["#!/bin/bash".to_owned(), "#SBATCH --job-name=advmix-probe".to_owned(), "#SBATCH --output=/dev/null".to_owned(), "#SBATCH --time=5".to_owned()];
        if let Some(p) = c.partition.as_deref().filter(|p| !p.is_empty()) {
            lines.push(format!("#SBATCH --partition={p}"));
        }
        if let Some(a) = c.account.as_deref().filter(|a| !a.is_empty()) {
            lines.push(format!("#SBATCH --account={a}"));
        }
        if let Some(q) = c.qos.as_deref().filter(|q| !q.is_empty()) {
            lines.push(format!("#SBATCH --qos={q}"));
        }
        lines.push(format!("hostname > {}", shell_quote(&file.to_string_lossy())));
        std::fs::write(&script, lines.join("\n") + "\n")?;
        let id = self.sbatch(&script).await?;
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if file.exists() {
                let _ = std::fs::remove_file(&file);
                let _ = std::fs::remove_file(&script);
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let _ = self.run("scancel", &[id.clone().into()]).await;
        anyhow::bail!(
            "the Slurm probe job {id} did not write {} within {} s: the compute nodes must see --data-dir {} on a shared \
             filesystem (or the cluster is busy: raise --slurm-probe-timeout, or pass --slurm-skip-probe)",
            file.display(),
            limit.as_secs(),
            dir.display()
        )
    }
}

/// `JOBID|STATE|REASON|NODES|RESTARTS` from squeue; jobs still in the
/// queue have no exit code yet.
fn parse_squeue(line: &str) -> Option<(String, Seen)> {
    let parts: Vec<&str> = line.split('|').map(str::trim).collect();
    let id = parts.first().filter(|id| !id.is_empty())?.to_string();
    Some((
        id,
        Seen {
            state: parts.get(1)?.to_string(),
            reason: parts.get(2).unwrap_or(&"").to_string(),
            node: parts.get(3).unwrap_or(&"").to_string(),
            restarts: parts.get(4).and_then(|r| r.parse().ok()).unwrap_or(0),
            exit_code: 0,
        },
    ))
}

/// One `scontrol show job --oneliner` line: `JobId=12 … JobState=COMPLETED …`.
fn parse_scontrol(line: &str) -> Option<(String, Seen)> {
    let field = |key: &str| {
        line.split_whitespace().find_map(|kv| kv.strip_prefix(key).and_then(|rest| rest.strip_prefix('='))).unwrap_or("")
    };
    let id = field("JobId");
    if id.is_empty() {
        return None;
    }
    let node = field("NodeList");
    Some((
        id.to_owned(),
        Seen {
            state: field("JobState").to_owned(),
            reason: field("Reason").to_owned(),
            node: if node == "(null)" { String::new() } else { node.to_owned() },
            restarts: field("Restarts").parse().unwrap_or(0),
            exit_code: field("ExitCode").split(':').next().and_then(|e| e.parse().ok()).unwrap_or(0),
        },
    ))
}

fn job_id(handle: &Handle) -> Option<&str> {
    (handle.executor() == NAME).then(|| handle.id())
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./_-".contains(&b)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

impl Executor for SlurmExecutor {
    fn submit(&self, job: JobSpec) -> BoxFuture<'_, std::io::Result<Submitted>> {
        async move {
            std::fs::create_dir_all(&job.dir)?;
            let script = job.dir.join(SCRIPT);
            std::fs::write(&script, self.script(&job))?;
            let id = self.sbatch(&script).await?;
            self.tracked.lock().expect("not poisoned").insert(id.clone());
            tracing::info!(job = %job.name, slurm_job = %id, "submitted to Slurm");
            // Just submitted: PENDING until Slurm starts it.
            Ok(Submitted { handle: Handle::new(NAME, id), activity: Default::default(), waiting: true })
        }
        .boxed()
    }

    fn state<'a>(&'a self, handle: &'a Handle) -> BoxFuture<'a, JobState> {
        async move {
            let Some(id) = job_id(handle) else { return JobState::Gone };
            match self.seen(id).await {
                Ok(seen) => self.state_of(id, seen.as_ref()),
                // Not knowing is not gone: the job is followed on.
                Err(e) => JobState::Unknown(format!("Slurm did not answer: {e}")),
            }
        }
        .boxed()
    }

    /// SIGTERM to the batch script, which passes it to the trainer (it saves
    /// and exits); the job is cancelled for good after `grace`.
    fn cancel<'a>(&'a self, handle: &'a Handle, grace: Duration) -> BoxFuture<'a, std::io::Result<()>> {
        async move {
            let id = job_id(handle).ok_or_else(|| std::io::Error::other(format!("{handle} is not a Slurm job")))?.to_owned();
            self.cancelled.lock().expect("not poisoned").insert(id.clone());
            let pending = matches!(self.seen(&id).await, Ok(Some(ref seen)) if matches!(self.state_of(&id, Some(seen)), JobState::Pending(_)));
            if pending {
                // Nothing runs yet, so nothing to save: out of the queue now.
                self.run("scancel", &[id.clone().into()]).await?;
                return Ok(());
            }
            if let Err(e) = self.run("scancel", &["--batch".into(), "--signal=TERM".into(), id.clone().into()]).await {
                // It may have left the running state meanwhile: out it goes.
                tracing::info!(slurm_job = %id, error = %e, "cannot signal the job; cancelling it");
                self.run("scancel", &[id.clone().into()]).await?;
                return Ok(());
            }
            let mut command = self.command("scancel");
            command.arg(&id).kill_on_drop(false);
            tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                // A job that has ended already is not an error here.
                let _ = command.output().await;
            });
            Ok(())
        }
        .boxed()
    }

    /// `sbatch --test-only` of a script with the same requests: Slurm's own
    /// verdict on the partition, gres, time and qos, without submitting.
    fn check<'a>(&'a self, resources: &'a Resources) -> BoxFuture<'a, Result<(), String>> {
        async move {
            let script = ["#!/bin/bash".to_owned()].into_iter().chain(self.requests(resources)).chain(["true".to_owned()]);
            let script = script.collect::<Vec<_>>().join("\n") + "\n";
            let mut command = self.command("sbatch");
            command.arg("--test-only").stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
            let asked = async {
                let mut child = command.spawn()?;
                let mut stdin = child.stdin.take().expect("piped");
                tokio::io::AsyncWriteExt::write_all(&mut stdin, script.as_bytes()).await?;
                drop(stdin);
                child.wait_with_output().await
            };
            match tokio::time::timeout(CHECK_LIMIT, asked).await {
                Ok(Ok(out)) if out.status.success() => Ok(()),
                Ok(Ok(out)) => {
                    let said = String::from_utf8_lossy(&out.stderr).trim().to_owned();
                    Err(format!("Slurm refuses these resources: {said}; use a partition, gres, time and qos this cluster has (sinfo lists them)"))
                }
                Ok(Err(e)) => Err(format!("cannot run sbatch to check the resources: {e}; is Slurm's client installed on this machine?")),
                // A slow controller is not a refusal: the submit says more.
                Err(_) => {
                    tracing::warn!("sbatch --test-only did not answer in {} s; not checking the resources", CHECK_LIMIT.as_secs());
                    Ok(())
                }
            }
        }
        .boxed()
    }

    fn describe<'a>(&'a self, handle: &'a Handle) -> BoxFuture<'a, Placement> {
        async move {
            let Some(id) = job_id(handle) else {
                return Placement { place: handle.to_string(), state: "unknown".into(), reason: None };
            };
            match self.seen(id).await {
                Ok(Some(seen)) => Placement {
                    place: if seen.node.is_empty() { format!("Slurm job {id}") } else { format!("Slurm job {id} on {}", seen.node) },
                    state: seen.state.clone(),
                    reason: (!seen.reason.is_empty() && seen.reason != "None").then_some(seen.reason),
                },
                Ok(None) => Placement { place: format!("Slurm job {id}"), state: "gone".into(), reason: Some("Slurm no longer knows the job".into()) },
                Err(e) => Placement { place: format!("Slurm job {id}"), state: "unknown".into(), reason: Some(e) },
            }
        }
        .boxed()
    }

    fn restarts<'a>(&'a self, handle: &'a Handle) -> BoxFuture<'a, u32> {
        async move {
            match job_id(handle) {
                Some(id) => self.seen(id).await.ok().flatten().map_or(0, |s| s.restarts),
                None => 0,
            }
        }
        .boxed()
    }

    fn summary(&self) -> BoxFuture<'_, Option<String>> {
        async move {
            let (mut pending, mut running) = (0, 0);
            for seen in self.snapshot.lock().await.jobs.values() {
                match seen.state.as_str() {
                    "PENDING" | "CONFIGURING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED" => pending += 1,
                    "RUNNING" | "COMPLETING" => running += 1,
                    _ => {}
                }
            }
            let partition = self.config.partition.as_deref().map_or_else(|| "the default partition".to_owned(), |p| format!("partition {p}"));
            let gres = self.config.gres.as_deref().map(|g| format!(", {g} per job")).unwrap_or_default();
            Some(format!(
                "Slurm, {partition}{gres}: {pending} pending, {running} running, at most {} submitted at once",
                self.config.max_jobs
            ))
        }
        .boxed()
    }

    fn capacity(&self) -> Option<usize> {
        Some(self.config.max_jobs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_and_scontrol_lines() {
        let (id, seen) = parse_squeue("12|PENDING|Priority||1").unwrap();
        assert_eq!((id.as_str(), seen.state.as_str(), seen.reason.as_str(), seen.restarts), ("12", "PENDING", "Priority", 1));
        let line = "JobId=7 JobName=advmix-run-1 UserId=root(0) JobState=TIMEOUT Reason=TimeLimit Restarts=2 ExitCode=0:15 NodeList=node7";
        let (id, seen) = parse_scontrol(line).unwrap();
        assert_eq!((id.as_str(), seen.state.as_str(), seen.node.as_str(), seen.restarts), ("7", "TIMEOUT", "node7", 2));
    }

    #[test]
    fn states_map_to_advmix_outcomes() {
        let slurm = SlurmExecutor::new("/x/advmix-trainer".into(), SlurmConfig::default(), Duration::from_secs(1));
        let seen = |state: &str, reason: &str, exit_code| Seen { state: state.into(), reason: reason.into(), exit_code, ..Seen::default() };
        assert_eq!(slurm.state_of("1", Some(&seen("PENDING", "Resources", 0))), JobState::Pending(Some("Resources".into())));
        assert_eq!(slurm.state_of("1", Some(&seen("RUNNING", "None", 0))), JobState::Running);
        assert_eq!(slurm.state_of("1", Some(&seen("COMPLETED", "None", 0))), JobState::Ended(Exit::Code(0)));
        assert!(matches!(slurm.state_of("1", Some(&seen("OUT_OF_MEMORY", "OutOfMemory", 0))), JobState::Ended(Exit::Killed(w)) if w.contains("OUT_OF_MEMORY")));
        assert!(matches!(slurm.state_of("1", Some(&seen("CANCELLED", "None", 0))), JobState::Ended(Exit::Cancelled(w)) if w.contains("outside advmix")));
        assert_eq!(slurm.state_of("1", None), JobState::Gone);
    }
}
