//! Command-line flags and environment variables of `advmix serve`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

#[derive(clap::Args, Clone, Debug)]
pub struct ServeArgs {
    /// Address to bind. Only loopback addresses are accepted until access
    /// tokens exist: reach a remote server through an SSH tunnel.
    #[arg(long, env = "ADVMIX_HOST", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,
    #[arg(long, env = "ADVMIX_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Where the database, run directories and datasets live.
    #[arg(long, env = "ADVMIX_DATA_DIR", default_value = "var")]
    pub data_dir: PathBuf,
    /// The trainer binary; by default the `advmix-trainer` beside this one.
    #[arg(long, env = "ADVMIX_TRAINER")]
    pub trainer: Option<PathBuf>,
}

impl ServeArgs {
    pub fn addr(&self) -> anyhow::Result<SocketAddr> {
        if !self.host.is_loopback() {
            anyhow::bail!(
                "refusing to bind {}: advmix has no access control yet, so it only listens on \
                 loopback. Use --host 127.0.0.1 and reach it through `ssh -L 8080:127.0.0.1:8080`",
                self.host
            );
        }
        Ok(SocketAddr::new(self.host, self.port))
    }
}
