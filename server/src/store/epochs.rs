//! The epochs table: one row per run and epoch, its metric columns named by
//! `EpochMetrics::FIELDS` (the migration creates the same columns; a test
//! checks that they agree).

use std::collections::HashMap;

use advmix_protocol::events::EpochMetrics;
use futures_util::TryStreamExt;
use serde::Serialize;
use sqlx::{AssertSqlSafe, QueryBuilder, Sqlite, SqliteConnection, SqlitePool};

/// The metric columns, in order.
pub const METRICS: [&str; 11] = EpochMetrics::FIELDS;

/// Rows per multi-row INSERT: 13 parameters a row stays far below SQLite's
/// limit of 32,766, and a few statements per burst instead of one per line
/// is what makes a replay of a long file fast.
const ROWS_PER_INSERT: usize = 500;

/// One stored epoch: the trainer's own event, so that the API's JSON, the
/// templates' field names and the CSV all follow `EpochMetrics`.
#[derive(Clone, Debug, Serialize)]
#[serde(transparent)]
pub struct EpochRow(pub EpochMetrics);

impl std::ops::Deref for EpochRow {
    type Target = EpochMetrics;
    fn deref(&self) -> &EpochMetrics {
        &self.0
    }
}

impl<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> for EpochRow {
    fn from_row(row: &'r sqlx::sqlite::SqliteRow) -> sqlx::Result<Self> {
        use sqlx::Row;
        // Built by name from FIELDS, so no column list is written out here.
        let mut fields = serde_json::Map::with_capacity(1 + METRICS.len());
        fields.insert("epoch".into(), row.try_get::<i64, _>("epoch")?.into());
        for name in METRICS {
            fields.insert(name.into(), row.try_get::<f64, _>(name)?.into());
        }
        serde_json::from_value(serde_json::Value::Object(fields))
            .map(EpochRow)
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))
    }
}

/// A run's epochs, oldest first.
pub async fn of_run(db: &SqlitePool, run_id: i64) -> sqlx::Result<Vec<EpochRow>> {
    let query = format!("SELECT epoch, {} FROM epochs WHERE run_id = ? ORDER BY epoch", METRICS.join(", "));
    sqlx::query_as(AssertSqlSafe(query)).bind(run_id).fetch_all(db).await
}

/// The epochs of every run in sweep `sweep_id` up to `through` (all when
/// None), by run, oldest first: what early termination compares at a rung,
/// and what its replay reads.
pub async fn of_sweep(db: &SqlitePool, sweep_id: i64, through: Option<u32>) -> sqlx::Result<HashMap<i64, Vec<EpochMetrics>>> {
    let query = format!(
        "SELECT e.run_id, e.epoch, {} FROM epochs e JOIN runs r ON r.id = e.run_id
         WHERE r.sweep_id = ? AND e.epoch <= ? ORDER BY e.run_id, e.epoch",
        METRICS.iter().map(|m| format!("e.{m}")).collect::<Vec<_>>().join(", ")
    );
    let mut rows = sqlx::query(AssertSqlSafe(query)).bind(sweep_id).bind(through.map_or(i64::MAX, i64::from)).fetch(db);
    let mut runs: HashMap<i64, Vec<EpochMetrics>> = HashMap::new();
    while let Some(row) = rows.try_next().await? {
        use sqlx::{FromRow, Row};
        let run_id: i64 = row.try_get("run_id")?;
        runs.entry(run_id).or_default().push(EpochRow::from_row(&row)?.0);
    }
    Ok(runs)
}

/// When each epoch of each run in sweep `sweep_id` was recorded (Unix
/// seconds), by run and epoch; epochs from before the time was stored are
/// left out.
pub async fn times_of_sweep(db: &SqlitePool, sweep_id: i64) -> sqlx::Result<HashMap<(i64, u32), f64>> {
    let rows: Vec<(i64, i64, f64)> = sqlx::query_as(
        "SELECT e.run_id, e.epoch, e.recorded_at FROM epochs e JOIN runs r ON r.id = e.run_id
         WHERE r.sweep_id = ? AND e.recorded_at IS NOT NULL",
    )
    .bind(sweep_id)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|(run, epoch, time)| ((run, u32::try_from(epoch).unwrap_or(0)), time)).collect())
}

/// Mean epoch time and epoch count of each of `ids`, for ETAs.
pub async fn mean_seconds(db: &SqlitePool, ids: &[i64]) -> sqlx::Result<HashMap<i64, (f64, i64)>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut qb = super::with_ids("SELECT run_id, avg(epoch_seconds), count(*) FROM epochs WHERE run_id IN", ids, " GROUP BY run_id");
    let rows: Vec<(i64, f64, i64)> = qb.build_query_as().fetch_all(db).await?;
    Ok(rows.into_iter().map(|(id, mean, n)| (id, (mean, n))).collect())
}

/// One metric of many runs: each run's name and params, and its points
/// (epoch, value) in epoch order; runs that do not exist are left out.
pub async fn series(
    db: &SqlitePool,
    ids: &[i64],
    metric: &str,
) -> sqlx::Result<HashMap<i64, (String, String, Vec<(i64, f64)>)>> {
    // Only a known column name is ever spliced into the text.
    let metric = METRICS.iter().find(|m| **m == metric).copied().unwrap_or("test_pgd_acc");
    // The ids travel as one JSON array, so a thousand runs are one query with
    // one list. Each run's name and params come once, in a row of their own,
    // rather than repeated on every epoch row; points are sorted afterwards,
    // which is cheaper than an ORDER BY over every epoch.
    let query = format!(
        "SELECT r.id, r.name, r.params, NULL, NULL FROM json_each(?) AS j JOIN runs r ON r.id = j.value
         UNION ALL
         SELECT e.run_id, NULL, NULL, e.epoch, e.{metric} FROM json_each(?) AS j JOIN epochs e ON e.run_id = j.value"
    );
    let ids_json = serde_json::to_string(&ids).expect("ids serialize");
    let mut rows =
        sqlx::query_as::<_, (i64, Option<String>, Option<String>, Option<i64>, Option<f64>)>(AssertSqlSafe(query))
            .bind(&ids_json)
            .bind(&ids_json)
            .fetch(db);
    let mut runs: HashMap<i64, (String, String, Vec<(i64, f64)>)> = HashMap::new();
    let mut points: HashMap<i64, Vec<(i64, f64)>> = HashMap::new();
    while let Some((run_id, name, params, epoch, value)) = rows.try_next().await? {
        match (name, params, epoch, value) {
            (Some(name), Some(params), ..) => {
                runs.insert(run_id, (name, params, Vec::new()));
            }
            (_, _, Some(epoch), Some(value)) if value.is_finite() => points.entry(run_id).or_default().push((epoch, value)),
            _ => {}
        }
    }
    for (id, run) in &mut runs {
        let mut p = points.remove(id).unwrap_or_default();
        p.sort_unstable_by_key(|p| p.0);
        run.2 = p;
    }
    Ok(runs)
}

/// Upserts epochs, several rows per statement.
/// Each with the time its line was written.
pub(super) async fn upsert(conn: &mut SqliteConnection, run_id: i64, epochs: &[(f64, &EpochMetrics)]) -> sqlx::Result<()> {
    let columns = METRICS.join(", ");
    let updates = METRICS.iter().map(|m| format!("{m} = excluded.{m}")).collect::<Vec<_>>().join(", ");
    for chunk in epochs.chunks(ROWS_PER_INSERT) {
        let mut insert = QueryBuilder::<Sqlite>::new(format!("INSERT INTO epochs (run_id, epoch, recorded_at, {columns}) "));
        insert.push_values(chunk, |mut row, &(time, m)| {
            row.push_bind(run_id).push_bind(m.epoch).push_bind(time);
            for value in m.values() {
                row.push_bind(value);
            }
        });
        insert.push(format!(" ON CONFLICT (run_id, epoch) DO UPDATE SET recorded_at = excluded.recorded_at, {updates}"));
        insert.build().execute(&mut *conn).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use sqlx::SqlitePool;

    use super::METRICS;

    /// The migrations are the fifth place that lists the metrics; this holds
    /// them to the one list.
    #[sqlx::test(migrations = "../migrations")]
    async fn the_epochs_table_has_one_column_per_metric(db: SqlitePool) {
        let columns: Vec<String> =
            sqlx::query_scalar(
                "SELECT name FROM pragma_table_info('epochs') WHERE name NOT IN ('run_id', 'epoch', 'recorded_at') ORDER BY cid",
            )
                .fetch_all(&db)
                .await
                .unwrap();
        assert_eq!(columns, METRICS);
    }
}
