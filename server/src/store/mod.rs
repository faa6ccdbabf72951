//! All SQL of the server, split by table family. Everything above this
//! layer (runner, service, api, pages) calls these functions and never
//! writes a query of its own; statuses cross this boundary as the enums of
//! `status`, never as strings.

pub mod checkpoints;
pub mod epochs;
pub mod evals;
pub mod fault;
pub mod ingest;
pub mod runs;
pub mod status;
pub mod sweeps;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::SqlitePool;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use status::{EvalStatus, RunStatus};

pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

pub const DB_FILE: &str = "advmix.db";

/// SQLite's now, in the ISO form every timestamp column holds.
pub(crate) const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// Opens (creating if needed) `DATA_DIR/advmix.db` and applies migrations.
pub async fn open(data_dir: &Path) -> anyhow::Result<SqlitePool> {
    let path = data_dir.join(DB_FILE);
    let options = SqliteConnectOptions::from_str("sqlite:")?
        .filename(&path)
        .create_if_missing(true)
        // WAL lets the pages read while the ingest writes; NORMAL is durable
        // across process crashes in WAL mode, which is what we need.
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .after_release(|conn, _| Box::pin(async move { Ok(fault::clean(conn).await) }))
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open the database {}", path.display()))?;
    MIGRATOR
        .run(&pool)
        .await
        .with_context(|| format!("cannot apply migrations to {}", path.display()))?;
    Ok(pool)
}

/// A round trip to the database, for the health check.
pub async fn ping(db: &SqlitePool) -> sqlx::Result<()> {
    sqlx::query("SELECT 1").execute(db).await.map(drop)
}

/// `PREFIX (?, ?, …)SUFFIX` with one bound parameter per id.
pub(crate) fn with_ids(prefix: &str, ids: &[i64], suffix: &str) -> sqlx::QueryBuilder<sqlx::Sqlite> {
    let mut qb = sqlx::QueryBuilder::new(prefix);
    qb.push(" (");
    let mut each = qb.separated(", ");
    for id in ids {
        each.push_bind(*id);
    }
    qb.push(")").push(suffix);
    qb
}

/// SQLite integers are signed. No file reaches 2^63 bytes, so saturating
/// only guards against a corrupt line, which should not wedge the run.
pub(crate) fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
