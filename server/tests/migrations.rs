//! Migrations that rewrite stored data, run on rows written before them.

use std::borrow::Cow;

use advmix_protocol::sweep::SweepSpec;
use advmix_server::store::MIGRATOR;
use sqlx::SqlitePool;
use sqlx::migrate::Migrator;

/// The schema as it was before migration `version`.
async fn migrate_before(db: &SqlitePool, version: i64) {
    let before = MIGRATOR.migrations.iter().filter(|m| m.version < version).cloned().collect::<Vec<_>>();
    let old = Migrator {
        migrations: Cow::Owned(before),
        table_name: MIGRATOR.table_name.clone(),
        create_schemas: MIGRATOR.create_schemas.clone(),
        ..Migrator::DEFAULT
    };
    old.run(db).await.unwrap();
}

/// Before migration 12, advmix's `log_uniform` took the values themselves;
/// a spec stored then must keep drawing those values, not e^min..e^max.
#[sqlx::test(migrations = false)]
async fn a_stored_log_uniform_spec_keeps_drawing_the_values_it_drew(db: SqlitePool) {
    migrate_before(&db, 20261203000012).await;
    // As advmix wrote it then: compact JSON, `log_uniform` over values, next
    // to a key that already says `log_uniform_values`.
    let spec = SweepSpec::parse(
        "method: random\ncount: 50\nparameters:\n  lr_max: {distribution: log_uniform_values, min: 0.001, max: 0.1}\n  \
         weight_decay: {distribution: log_uniform_values, min: 0.0001, max: 0.001}",
    )
    .unwrap();
    let new = serde_json::to_string(&spec).unwrap();
    let old = new.replacen(r#""distribution":"log_uniform_values""#, r#""distribution":"log_uniform""#, 1);
    assert_ne!(old, new, "the old spelling is in the stored text");
    let sweep: i64 = sqlx::query_scalar("INSERT INTO sweeps (name, spec) VALUES ('old', ?) RETURNING id").bind(&old).fetch_one(&db).await.unwrap();
    sqlx::query("INSERT INTO sweep_changes (sweep_id, summary, change, spec) VALUES (?, 'grew', '{}', ?)")
        .bind(sweep)
        .bind(&old)
        .execute(&db)
        .await
        .unwrap();

    MIGRATOR.run(&db).await.unwrap();
    for table in ["sweeps", "sweep_changes"] {
        let query = format!("SELECT spec FROM {table}");
        let stored: String = sqlx::query_scalar(sqlx::AssertSqlSafe(query)).fetch_one(&db).await.unwrap();
        assert_eq!(stored, new, "{table}");
        let runs = SweepSpec::from_json(&stored).unwrap().expand(1000).unwrap();
        assert_eq!(runs.len(), 50);
        for run in runs {
            let lr = run.config.lr_max;
            assert!((0.001..=0.1).contains(&lr), "{table}: lr_max {lr} drawn outside the values");
        }
    }
}
