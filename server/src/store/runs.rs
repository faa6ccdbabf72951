//! The runs table (and its tags): the queue, the lifecycle columns, the
//! list the pages and the API read.

use advmix_protocol::{FieldError, RunConfig};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{AssertSqlSafe, QueryBuilder, Sqlite, SqliteConnection, SqlitePool};

use super::{NOW, RunStatus};

const RUN_COLUMNS: &str = "r.id, r.sweep_id, r.name, r.status, r.method, r.dataset, r.model, r.epochs, r.epochs_done,
    r.priority, r.slot, r.device, r.handle, r.attempt, r.created_at, r.started_at, r.finished_at, r.exit_code,
    r.error, r.note, r.params, r.best_robust_acc, r.best_epoch, r.final_clean_acc, r.final_robust_acc,
    r.autoattack_acc, r.autoattack_epoch, r.pruned, r.continued, r.proposal,
    CASE WHEN r.status = 'running' THEN r.progress END AS progress,
    (SELECT group_concat(tag, ',') FROM run_tags t WHERE t.run_id = r.id) AS tags";

/// Sortable columns, by their API names; anything else is refused.
pub const SORTABLE: &[&str] = &[
    "id", "name", "status", "method", "dataset", "model", "epochs_done", "priority", "created_at",
    "best_robust_acc", "final_clean_acc", "final_robust_acc", "autoattack_acc", "sweep_id",
];
pub const MAX_PER_PAGE: i64 = 500;

/// A run the executor has a job for: running, or queued in the executor's
/// own queue (a Slurm job still PENDING). Both are followed and stopped
/// through their job; only a queued run without a handle is the runner's
/// to start or to take out of the queue.
const HAS_JOB: &str = "(status = 'running' OR (status = 'queued' AND handle IS NOT NULL))";
pub const DEFAULT_PER_PAGE: i64 = 50;

#[derive(Serialize, sqlx::FromRow, Clone, Debug)]
pub struct RunSummary {
    pub id: i64,
    pub sweep_id: Option<i64>,
    pub name: String,
    pub status: RunStatus,
    pub method: String,
    pub dataset: String,
    pub model: String,
    pub epochs: i64,
    pub epochs_done: i64,
    pub priority: i64,
    pub slot: Option<String>,
    pub device: Option<String>,
    /// The executor's handle of the current attempt (`local:12345`).
    pub handle: Option<String>,
    pub attempt: i64,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub exit_code: Option<i64>,
    pub error: Option<String>,
    pub note: String,
    #[serde(serialize_with = "raw_json")]
    pub params: String,
    pub best_robust_acc: Option<f64>,
    pub best_epoch: Option<i64>,
    pub final_clean_acc: Option<f64>,
    pub final_robust_acc: Option<f64>,
    pub autoattack_acc: Option<f64>,
    /// The epoch of the weights behind `autoattack_acc`.
    pub autoattack_epoch: Option<i64>,
    /// Where early termination cut the run (protocol's `Cut`): set when it
    /// decided, so also while the run is being stopped.
    #[serde(serialize_with = "raw_json_opt")]
    pub pruned: Option<String>,
    /// "Continue anyway": early termination leaves it alone.
    pub continued: bool,
    /// Its proposal in a bayes sweep, in order of proposal.
    pub proposal: Option<i64>,
    /// The trainer's newest `progress` event line while the run is running.
    #[serde(serialize_with = "raw_json_opt")]
    pub progress: Option<String>,
    #[serde(serialize_with = "tag_list")]
    pub tags: Option<String>,
}

impl RunSummary {
    /// Whether the executor has a job for it (see `HAS_JOB`): such a run is
    /// stopped through its job and cannot be deleted.
    pub fn has_job(&self) -> bool {
        self.status == RunStatus::Running || (self.status == RunStatus::Queued && self.handle.is_some())
    }

    /// The tags, sorted.
    pub fn tag_list(&self) -> Vec<&str> {
        sorted_tags(&self.tags)
    }
}

fn sorted_tags(tags: &Option<String>) -> Vec<&str> {
    let mut list: Vec<&str> = tags.as_deref().map(|t| t.split(',').collect()).unwrap_or_default();
    list.sort_unstable();
    list
}

fn raw_json<S: serde::Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    serde_json::from_str::<Value>(text).unwrap_or(Value::Null).serialize(s)
}

fn raw_json_opt<S: serde::Serializer>(text: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    text.as_deref().and_then(|t| serde_json::from_str::<Value>(t).ok()).serialize(s)
}

fn tag_list<S: serde::Serializer>(tags: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    sorted_tags(tags).serialize(s)
}

/// The run list's filters, sort and page: the API's query string, and what
/// the Runs page builds from its form.
#[derive(Deserialize, Default, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub status: Option<String>,
    pub sweep: Option<i64>,
    pub method: Option<String>,
    pub tag: Option<String>,
    /// Free text, matched against the name and the note.
    pub q: Option<String>,
    pub sort: Option<String>,
    pub order: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

impl ListQuery {
    pub fn sort(&self) -> &str {
        self.sort.as_deref().unwrap_or("id")
    }

    pub fn descending(&self) -> bool {
        self.order.as_deref() != Some("asc")
    }

    pub fn page(&self) -> i64 {
        self.page.unwrap_or(1)
    }

    pub fn per_page(&self) -> i64 {
        self.per_page.unwrap_or(DEFAULT_PER_PAGE)
    }

    /// Every problem with the query, each at its parameter, so that a form
    /// can point at all of them at once.
    pub fn problems(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        let mut problem = |field: &str, message: String| problems.push(FieldError { field: field.to_owned(), message });
        if let Some(status) = self.status.as_deref().filter(|s| RunStatus::parse(s).is_none()) {
            problem("status", format!("unknown status `{status}`; use one of {}", RunStatus::names()));
        }
        if !SORTABLE.contains(&self.sort()) {
            problem("sort", format!("cannot sort by `{}`; use one of {}", self.sort(), SORTABLE.join(", ")));
        }
        if let Some(other) = self.order.as_deref().filter(|o| !matches!(*o, "asc" | "desc")) {
            problem("order", format!("`{other}` is not asc or desc"));
        }
        if !(1..=MAX_PER_PAGE).contains(&self.per_page()) {
            problem("per_page", format!("must be between 1 and {MAX_PER_PAGE}"));
        }
        if self.page() < 1 {
            problem("page", "pages count from 1".to_owned());
        }
        problems
    }
}

/// Adds the list filters to a query that already has a WHERE clause.
fn push_filters(qb: &mut QueryBuilder<Sqlite>, q: &ListQuery) {
    if let Some(status) = q.status.as_deref().and_then(RunStatus::parse) {
        qb.push(" AND r.status = ").push_bind(status);
    }
    if let Some(sweep) = q.sweep {
        qb.push(" AND r.sweep_id = ").push_bind(sweep);
    }
    if let Some(method) = &q.method {
        qb.push(" AND r.method = ").push_bind(method.clone());
    }
    if let Some(tag) = &q.tag {
        qb.push(" AND EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = r.id AND t.tag = ").push_bind(tag.clone()).push(")");
    }
    if let Some(text) = q.q.as_deref().filter(|t| !t.is_empty()) {
        let pattern = format!("%{}%", text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        qb.push(" AND (r.name LIKE ").push_bind(pattern.clone()).push(" ESCAPE '\\' OR r.note LIKE ");
        qb.push_bind(pattern).push(" ESCAPE '\\')");
    }
}

/// One page of the run list and how many runs match in all. The query must
/// have passed [`ListQuery::problems`]: its sort is spliced into the text.
pub async fn list(db: &SqlitePool, q: &ListQuery) -> sqlx::Result<(i64, Vec<RunSummary>)> {
    debug_assert!(q.problems().is_empty());
    let sort = if SORTABLE.contains(&q.sort()) { q.sort() } else { "id" };
    let mut count = QueryBuilder::new("SELECT count(*) FROM runs r WHERE 1 = 1");
    push_filters(&mut count, q);
    let total: i64 = count.build_query_scalar().fetch_one(db).await?;

    let mut select = QueryBuilder::new(format!("SELECT {RUN_COLUMNS} FROM runs r WHERE 1 = 1"));
    push_filters(&mut select, q);
    // NULLs (no result yet) last either way; written as NULLS LAST, not
    // `x IS NULL`, so that an index on the column can serve the order.
    let direction = if q.descending() { "DESC" } else { "ASC" };
    select.push(format!(" ORDER BY r.{sort} {direction} NULLS LAST, r.id {direction} LIMIT "));
    // Capped far past any real list: SQLite adds LIMIT to OFFSET, and a sum
    // that overflows would return the first page for a page far past the end.
    let offset = (q.page() - 1).saturating_mul(q.per_page()).min(1 << 53);
    select.push_bind(q.per_page()).push(" OFFSET ").push_bind(offset);
    let runs: Vec<RunSummary> = select.build_query_as().fetch_all(db).await?;
    Ok((total, runs))
}

/// One run; `RowNotFound` when there is none.
pub async fn fetch(db: &SqlitePool, id: i64) -> sqlx::Result<RunSummary> {
    sqlx::query_as(AssertSqlSafe(format!("SELECT {RUN_COLUMNS} FROM runs r WHERE r.id = ?"))).bind(id).fetch_one(db).await
}

/// Every run of a sweep, in id order.
pub async fn of_sweep(db: &SqlitePool, sweep_id: i64) -> sqlx::Result<Vec<RunSummary>> {
    sqlx::query_as(AssertSqlSafe(format!("SELECT {RUN_COLUMNS} FROM runs r WHERE r.sweep_id = ? ORDER BY r.id")))
        .bind(sweep_id)
        .fetch_all(db)
        .await
}

/// A run as a results table reads it: its config and every accuracy, with
/// the AutoAttack evaluation behind `autoattack_acc`.
#[derive(sqlx::FromRow, Clone, Debug)]
pub struct ResultRow {
    pub id: i64,
    pub name: String,
    pub status: RunStatus,
    pub dataset: String,
    pub model: String,
    pub config: String,
    pub params: String,
    pub best_robust_acc: Option<f64>,
    pub best_epoch: Option<i64>,
    pub final_clean_acc: Option<f64>,
    pub final_robust_acc: Option<f64>,
    pub autoattack_acc: Option<f64>,
    pub autoattack_n: Option<i64>,
    pub autoattack_suite: Option<String>,
}

const RESULT_COLUMNS: &str = "id, name, status, dataset, model, config, params, best_robust_acc, best_epoch,
    final_clean_acc, final_robust_acc, autoattack_acc, autoattack_n, autoattack_suite";

pub async fn results_of_sweep(db: &SqlitePool, sweep_id: i64) -> sqlx::Result<Vec<ResultRow>> {
    sqlx::query_as(AssertSqlSafe(format!("SELECT {RESULT_COLUMNS} FROM runs WHERE sweep_id = ? ORDER BY id")))
        .bind(sweep_id)
        .fetch_all(db)
        .await
}

/// The runs among `ids` that exist, in id order.
pub async fn results_of(db: &SqlitePool, ids: &[i64]) -> sqlx::Result<Vec<ResultRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = super::with_ids(&format!("SELECT {RESULT_COLUMNS} FROM runs WHERE id IN"), ids, " ORDER BY id");
    query.build_query_as().fetch_all(db).await
}

/// The run's stored config, as JSON text.
pub async fn config(db: &SqlitePool, id: i64) -> sqlx::Result<String> {
    sqlx::query_scalar("SELECT config FROM runs WHERE id = ?").bind(id).fetch_one(db).await
}

/// Every run's resolved config (JSON) in sweep `sweep_id`, by id.
pub async fn configs_of_sweep(db: &SqlitePool, sweep_id: i64) -> sqlx::Result<Vec<(i64, String)>> {
    sqlx::query_as("SELECT id, config FROM runs WHERE sweep_id = ? ORDER BY id").bind(sweep_id).fetch_all(db).await
}

/// When each run of sweep `sweep_id` started its current attempt, as Unix
/// seconds; runs that never started are left out.
pub async fn started_seconds(db: &SqlitePool, sweep_id: i64) -> sqlx::Result<Vec<(i64, f64)>> {
    sqlx::query_as(
        "SELECT id, (julianday(started_at) - 2440587.5) * 86400.0 FROM runs
         WHERE sweep_id = ? AND started_at IS NOT NULL ORDER BY id",
    )
    .bind(sweep_id)
    .fetch_all(db)
    .await
}

/// The newest run id, 0 when there has never been a run.
pub async fn max_id(db: &SqlitePool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM runs").fetch_one(db).await
}

/// What the run page shows beside the summary.
#[derive(sqlx::FromRow)]
pub struct RunDetail {
    pub config: String,
    pub resume: bool,
    /// Wall time of all its attempts, the current one up to now.
    pub seconds: Option<f64>,
    /// Wall time of the attempts before the current one.
    pub seconds_before: f64,
    pub sweep_name: Option<String>,
}

/// An attempt's span in seconds: to its end, to now while the run runs it,
/// and nothing for one that neither ended nor runs (waiting in a queue).
const ATTEMPT_SECONDS: &str = "(julianday(coalesce(a.finished_at, CASE WHEN r.status = 'running' AND a.attempt = r.attempt THEN 'now' END))
     - julianday(a.started_at)) * 86400.0";

/// The current attempt's span from the runs row alone: for a row written
/// without its attempts (before they were kept, or by hand).
const CURRENT_SECONDS: &str = "(julianday(coalesce(r.finished_at, CASE WHEN r.status = 'running' THEN 'now' END))
     - julianday(r.started_at)) * 86400.0";

pub async fn detail(db: &SqlitePool, id: i64) -> sqlx::Result<RunDetail> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT r.config, r.resume,
                coalesce((SELECT sum({ATTEMPT_SECONDS}) FROM attempts a WHERE a.run_id = r.id), {CURRENT_SECONDS}) AS seconds,
                coalesce((SELECT sum({ATTEMPT_SECONDS}) FROM attempts a WHERE a.run_id = r.id AND a.attempt < r.attempt), 0.0)
                    AS seconds_before,
                s.name AS sweep_name
         FROM runs r LEFT JOIN sweeps s ON s.id = r.sweep_id WHERE r.id = ?"
    )))
    .bind(id)
    .fetch_one(db)
    .await
}

/// The config and wall time (all attempts, the current one to now) of a
/// run, for the compare page.
pub async fn config_and_seconds(db: &SqlitePool, id: i64) -> sqlx::Result<(String, Option<f64>)> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT r.config, coalesce((SELECT sum({ATTEMPT_SECONDS}) FROM attempts a WHERE a.run_id = r.id), {CURRENT_SECONDS})
         FROM runs r WHERE r.id = ?"
    )))
    .bind(id)
    .fetch_one(db)
    .await
}

/// One attempt of a run: when it ran and how it ended.
#[derive(sqlx::FromRow, Serialize, Clone, Debug)]
pub struct Attempt {
    pub attempt: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// The run's status when it ended, or `restarted`; None while it runs.
    pub status: Option<String>,
    pub error: Option<String>,
    pub seconds: Option<f64>,
}

/// A run's attempts, first first.
pub async fn attempts(db: &SqlitePool, id: i64) -> sqlx::Result<Vec<Attempt>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT a.attempt, a.started_at, a.finished_at, a.status, a.error, {ATTEMPT_SECONDS} AS seconds
         FROM attempts a JOIN runs r ON r.id = a.run_id WHERE a.run_id = ? ORDER BY a.attempt"
    )))
    .bind(id)
    .fetch_all(db)
    .await
}

/// Inserts a queued run; returns its id.
pub async fn insert(
    tx: &mut SqliteConnection,
    sweep_id: Option<i64>,
    name: &str,
    config: &RunConfig,
    params: &serde_json::Map<String, Value>,
    priority: i64,
    proposal: Option<i64>,
) -> sqlx::Result<i64> {
    let name_of = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let json = serde_json::to_value(config).expect("configs serialize");
    sqlx::query_scalar(
        "INSERT INTO runs (sweep_id, name, config, params, method, dataset, model, epochs, priority, proposal)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(sweep_id)
    .bind(name)
    .bind(json.to_string())
    .bind(Value::Object(params.clone()).to_string())
    .bind(name_of(&json["method"]))
    .bind(name_of(&json["dataset"]))
    .bind(name_of(&json["model"]))
    .bind(i64::from(config.epochs))
    .bind(priority)
    .bind(proposal)
    .fetch_one(&mut *tx)
    .await
}

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct QueuedRun {
    pub id: i64,
    pub config: String,
    pub resume: bool,
}

/// The next queued run that a slot on `device` (`cpu`, `cuda:N`) may take:
/// highest priority first, then first come. A paused sweep's runs wait.
pub async fn next_queued(db: &SqlitePool, device: &str) -> sqlx::Result<Option<QueuedRun>> {
    let kind = if device.starts_with("cuda") { "cuda" } else { "cpu" };
    sqlx::query_as(
        "SELECT id, config, resume FROM runs
         WHERE status = ? AND handle IS NULL AND coalesce(json_extract(config, '$.device'), 'auto') IN ('auto', ?)
           AND (sweep_id IS NULL OR sweep_id NOT IN (SELECT id FROM sweeps WHERE paused = 1))
         ORDER BY priority DESC, id LIMIT 1",
    )
    .bind(RunStatus::Queued)
    .bind(kind)
    .fetch_optional(db)
    .await
}

/// Moves a run from `queued` to `running` in `slot`. False when it is no
/// longer queued (stopped or deleted meanwhile): then it must not start.
pub async fn claim(db: &SqlitePool, id: i64, slot: &str, device: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(AssertSqlSafe(format!(
        "UPDATE runs SET status = ?, slot = ?, device = ?, handle = NULL, attempt = attempt + 1,
                started_at = {NOW}, finished_at = NULL, exit_code = NULL, error = NULL, resume = 0, progress = NULL
         WHERE id = ? AND status = ?"
    )))
    .bind(RunStatus::Running)
    .bind(slot)
    .bind(device)
    .bind(id)
    .bind(RunStatus::Queued)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes a run out of the queue; false if it is no longer queued.
pub async fn stop_queued(db: &SqlitePool, id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(AssertSqlSafe(format!(
        "UPDATE runs SET status = ?, error = 'stopped before it started', finished_at = {NOW}
         WHERE id = ? AND status = ? AND handle IS NULL"
    )))
    .bind(RunStatus::Stopped)
    .bind(id)
    .bind(RunStatus::Queued)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Puts an ended run back in the queue; `resume` says whether its next
/// attempt continues from its checkpoint. A pruned run that is put back
/// ("continue anyway") is left alone by early termination from then on.
/// False if it is live meanwhile.
pub async fn requeue(db: &SqlitePool, id: i64, resume: bool) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE runs SET status = ?, resume = ?, error = NULL, exit_code = NULL,
                continued = continued OR status = ?
         WHERE id = ? AND status NOT IN ('queued', 'running')",
    )
    .bind(RunStatus::Queued)
    .bind(resume)
    .bind(RunStatus::Pruned)
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The executor started a running run's job again by itself: a new attempt,
/// with why.
pub async fn new_attempt(db: &SqlitePool, id: i64, why: &str) -> sqlx::Result<()> {
    sqlx::query(AssertSqlSafe(format!(
        "UPDATE runs SET attempt = attempt + 1, started_at = {NOW}, error = ? WHERE id = ? AND {HAS_JOB}"
    )))
    .bind(why)
    .bind(id)
    .execute(db)
    .await
    .map(drop)
}

/// The job of a claimed run is submitted; `waiting` when it is in the
/// executor's queue rather than running yet.
pub async fn set_handle(db: &SqlitePool, id: i64, handle: &str, waiting: bool) -> sqlx::Result<()> {
    let status = if waiting { RunStatus::Queued } else { RunStatus::Running };
    sqlx::query("UPDATE runs SET handle = ?, status = ? WHERE id = ? AND status = ?")
        .bind(handle)
        .bind(status)
        .bind(id)
        .bind(RunStatus::Running)
        .execute(db)
        .await
        .map(drop)
}

/// A submitted run's job went into the executor's queue (`waiting`) or out
/// of it to run; false when it was there already.
pub async fn set_waiting(db: &SqlitePool, id: i64, waiting: bool) -> sqlx::Result<bool> {
    let (from, to, started) = if waiting {
        (RunStatus::Running, RunStatus::Queued, "started_at")
    } else {
        (RunStatus::Queued, RunStatus::Running, NOW)
    };
    let done = sqlx::query(AssertSqlSafe(format!(
        "UPDATE runs SET status = ?, started_at = {started} WHERE id = ? AND status = ? AND handle IS NOT NULL"
    )))
    .bind(to)
    .bind(id)
    .bind(from)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records how a running run ended; false when it was not running (settled
/// already by someone else).
pub async fn mark_ended(
    db: &SqlitePool,
    id: i64,
    status: RunStatus,
    exit_code: Option<i32>,
    error: Option<&str>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(AssertSqlSafe(format!(
        "UPDATE runs SET status = ?, exit_code = ?, error = ?, finished_at = {NOW}, handle = NULL, progress = NULL
         WHERE id = ? AND {HAS_JOB}"
    )))
    .bind(status)
    .bind(exit_code)
    .bind(error)
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records early termination's cut on a running run that it has not cut
/// before and that was not continued; false when it does not apply (then
/// nothing is to be stopped).
pub async fn mark_pruning(db: &SqlitePool, id: i64, cut: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(AssertSqlSafe(format!(
        "UPDATE runs SET pruned = ? WHERE id = ? AND pruned IS NULL AND continued = 0 AND {HAS_JOB}"
    )))
    .bind(cut)
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets a cut that did not take effect.
pub async fn clear_pruning(db: &SqlitePool, id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE runs SET pruned = NULL WHERE id = ?").bind(id).execute(db).await.map(drop)
}

/// A run the database says is running, as a restarted server finds it.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct RunningRun {
    pub id: i64,
    pub handle: Option<String>,
    pub slot: Option<String>,
}

/// The runs with a job to follow, running or in the executor's queue.
pub async fn running(db: &SqlitePool) -> sqlx::Result<Vec<RunningRun>> {
    sqlx::query_as(AssertSqlSafe(format!("SELECT id, handle, slot FROM runs WHERE {HAS_JOB} ORDER BY id")))
        .fetch_all(db)
        .await
}

/// A run's new priority, note and tags, each when given, in one transaction.
pub async fn annotate(
    db: &SqlitePool,
    id: i64,
    priority: Option<i64>,
    note: Option<&str>,
    tags: Option<&[String]>,
) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    if let Some(priority) = priority {
        sqlx::query("UPDATE runs SET priority = ? WHERE id = ?").bind(priority).bind(id).execute(&mut *tx).await?;
    }
    if let Some(note) = note {
        sqlx::query("UPDATE runs SET note = ? WHERE id = ?").bind(note).bind(id).execute(&mut *tx).await?;
    }
    if let Some(tags) = tags {
        sqlx::query("DELETE FROM run_tags WHERE run_id = ?").bind(id).execute(&mut *tx).await?;
        for tag in tags {
            sqlx::query("INSERT OR IGNORE INTO run_tags (run_id, tag) VALUES (?, ?)")
                .bind(id)
                .bind(tag.trim())
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await
}

/// Deletes a run that is not running, with its rows; false when it is
/// running (or gone).
pub async fn delete_ended(db: &SqlitePool, id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(AssertSqlSafe(format!("DELETE FROM runs WHERE id = ? AND NOT {HAS_JOB}")))
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}
