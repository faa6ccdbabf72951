//! Command-line flags and environment variables of `advmix serve`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

#[derive(clap::Args, Clone, Debug)]
pub struct ServeArgs {
    /// Address to bind. Anything but loopback needs an access token.
    #[arg(long, env = "ADVMIX_HOST", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,
    /// Access token required by every page and API call. Prefer
    /// ADVMIX_TOKEN or --token-file: command lines are visible to other users.
    #[arg(long, env = "ADVMIX_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Host names (comma-separated) this server is reached by besides its
    /// address and localhost, e.g. `advmix.lab.example` or `.lab.example`
    /// for every name under it. Requests for other names are refused.
    #[arg(long, env = "ADVMIX_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// A file holding the access token (its first line).
    #[arg(long, env = "ADVMIX_TOKEN_FILE", conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
    #[arg(long, env = "ADVMIX_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Where the database, run directories and datasets live.
    #[arg(long, env = "ADVMIX_DATA_DIR", default_value = "var")]
    pub data_dir: PathBuf,
    /// The trainer binary; by default the `advmix-trainer` beside this one.
    #[arg(long, env = "ADVMIX_TRAINER")]
    pub trainer: Option<PathBuf>,
    /// Use this many GPUs instead of the number the trainer finds (0: CPU only).
    #[arg(long, env = "ADVMIX_GPUS")]
    pub gpus: Option<usize>,
    /// Runs sharing one GPU at a time.
    #[arg(long, env = "ADVMIX_RUNS_PER_GPU", default_value_t = 1)]
    pub runs_per_gpu: usize,
    /// Runs at a time on a machine without GPUs.
    #[arg(long, env = "ADVMIX_CPU_SLOTS", default_value_t = 1)]
    pub cpu_slots: usize,
    /// The most runs one sweep may create; larger sweeps are refused whole.
    #[arg(long, env = "ADVMIX_MAX_SWEEP_RUNS", default_value_t = 1000)]
    pub max_sweep_runs: usize,
    /// Stop running trainers when the server stops. By default they keep
    /// training and the next server start follows them again.
    #[arg(long, env = "ADVMIX_STOP_RUNS_ON_EXIT")]
    pub stop_runs_on_exit: bool,
    /// Seconds a stopped job gets to save a checkpoint and exit before it is killed.
    #[arg(long, env = "ADVMIX_STOP_GRACE", default_value_t = 60)]
    pub stop_grace: u64,
    /// Where jobs run: `local` child processes, or a `slurm` cluster that
    /// shares --data-dir with this machine.
    #[arg(long, env = "ADVMIX_EXECUTOR", value_enum, default_value_t = ExecutorKind::Local)]
    pub executor: ExecutorKind,
    /// Queued work starts only while the data directory's disk has at least
    /// this many MiB free; a full disk fails runs and refuses writes.
    #[arg(long, env = "ADVMIX_MIN_FREE_MB", default_value_t = 1024)]
    pub min_free_mb: u64,
    #[command(flatten)]
    pub limits: ConnectionArgs,
    /// Mark cookies `Secure` (HTTPS only). Set on its own for requests that
    /// a TLS proxy marks with `X-Forwarded-Proto: https`.
    #[arg(long, env = "ADVMIX_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Hours a browser stays logged in.
    #[arg(long, env = "ADVMIX_SESSION_HOURS", default_value_t = 24 * 7)]
    pub session_hours: u64,
    #[command(flatten)]
    pub slurm: SlurmArgs,
}

/// How long connections may take and how many may be open: an idle or
/// slow client must not hold the server's memory.
#[derive(clap::Args, Clone, Debug)]
pub struct ConnectionArgs {
    /// Seconds a client has to send a request's headers, counted from when
    /// the connection is ready for one: a kept-alive connection that waits
    /// this long for its next request is closed too.
    #[arg(long, env = "ADVMIX_HEADER_TIMEOUT", default_value_t = 10)]
    pub header_timeout: u64,
    /// Seconds a response may go with no byte moving (a client that stopped
    /// reading a download) before the connection is closed. Live pages'
    /// event streams send a heartbeat and stay open.
    #[arg(long, env = "ADVMIX_IDLE_TIMEOUT", default_value_t = 60)]
    pub idle_timeout: u64,
    /// Connections open at once; more wait in the kernel's queue.
    #[arg(long, env = "ADVMIX_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
}

impl ConnectionArgs {
    pub fn limits(&self) -> crate::listen::Limits {
        crate::listen::Limits {
            header_timeout: std::time::Duration::from_secs(self.header_timeout.max(1)),
            idle_timeout: std::time::Duration::from_secs(self.idle_timeout.max(1)),
            max_connections: self.max_connections.max(1),
        }
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecutorKind {
    Local,
    Slurm,
}

/// `--executor slurm`: what every job asks for (a sweep's `resources` may
/// override gres, time, partition and qos).
#[derive(clap::Args, Clone, Debug)]
pub struct SlurmArgs {
    #[arg(long, env = "ADVMIX_SLURM_PARTITION")]
    pub slurm_partition: Option<String>,
    /// Generic resources per job; empty for CPU partitions.
    #[arg(long, env = "ADVMIX_SLURM_GRES", default_value = "gpu:1")]
    pub slurm_gres: String,
    /// Time limit per job (`4:00:00`); the job checkpoints and requeues itself
    /// shortly before it.
    #[arg(long, env = "ADVMIX_SLURM_TIME")]
    pub slurm_time: Option<String>,
    #[arg(long, env = "ADVMIX_SLURM_ACCOUNT")]
    pub slurm_account: Option<String>,
    #[arg(long, env = "ADVMIX_SLURM_QOS")]
    pub slurm_qos: Option<String>,
    /// More sbatch options, verbatim, e.g. "--mem=32G --constraint=a100".
    #[arg(long, env = "ADVMIX_SLURM_EXTRA", allow_hyphen_values = true)]
    pub slurm_extra: Option<String>,
    /// How many jobs advmix keeps submitted at once.
    #[arg(long, env = "ADVMIX_SLURM_MAX_JOBS", default_value_t = 64)]
    pub slurm_max_jobs: usize,
    /// Seconds before the time limit at which a job checkpoints and requeues.
    #[arg(long, env = "ADVMIX_SLURM_SIGNAL_SECONDS", default_value_t = 120)]
    pub slurm_signal_seconds: u32,
    /// Start without checking that the compute nodes see --data-dir.
    #[arg(long, env = "ADVMIX_SLURM_SKIP_PROBE")]
    pub slurm_skip_probe: bool,
    /// How long the start-up probe job may take to write its file.
    #[arg(long, env = "ADVMIX_SLURM_PROBE_TIMEOUT", default_value_t = 300)]
    pub slurm_probe_timeout: u64,
}

impl SlurmArgs {
    pub fn config(&self) -> crate::runner::executor::slurm::SlurmConfig {
        let some = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
        crate::runner::executor::slurm::SlurmConfig {
            partition: some(&self.slurm_partition),
            gres: Some(self.slurm_gres.clone()).filter(|g| !g.trim().is_empty()),
            time: some(&self.slurm_time),
            account: some(&self.slurm_account),
            qos: some(&self.slurm_qos),
            extra: self.slurm_extra.iter().flat_map(|e| e.split_whitespace().map(str::to_owned)).collect(),
            max_jobs: self.slurm_max_jobs.max(1),
            signal_seconds: self.slurm_signal_seconds,
            conf: None,
        }
    }
}

impl ServeArgs {
    /// The token from --token, ADVMIX_TOKEN or --token-file, if any.
    pub fn access_token(&self) -> anyhow::Result<Option<String>> {
        if let Some(file) = &self.token_file {
            let text = std::fs::read_to_string(file)
                .map_err(|e| anyhow::anyhow!("cannot read the token file {}: {e}", file.display()))?;
            let token = text.lines().next().unwrap_or("").trim().to_owned();
            if token.is_empty() {
                anyhow::bail!("the token file {} is empty: put the access token on its first line", file.display());
            }
            crate::auth::token::check_token(&token).map_err(|e| anyhow::anyhow!("{e} (in {})", file.display()))?;
            return Ok(Some(token));
        }
        // Set but blank is a mistake, not "no token": say so rather than
        // serve without one.
        match self.token.as_deref() {
            None | Some("") => Ok(None),
            Some(token) => {
                crate::auth::token::check_token(token).map_err(|e| anyhow::anyhow!("{e} (ADVMIX_TOKEN or --token)"))?;
                Ok(Some(token.trim().to_owned()))
            }
        }
    }

    pub fn addr(&self) -> anyhow::Result<SocketAddr> {
        if !self.host.is_loopback() && self.access_token()?.is_none() {
            anyhow::bail!(
                "refusing to listen on {} without an access token: set ADVMIX_TOKEN (or --token-file), \
                 or keep the default --host 127.0.0.1 and reach it through `ssh -L 8080:127.0.0.1:8080`",
                self.host
            );
        }
        Ok(SocketAddr::new(self.host, self.port))
    }
}
