//! The sweep page: what varies, progress, ranking, grouping with mean ± std,
//! empty states and escaping, through the router.

mod common;

use axum::http::StatusCode;
use common::{create_sweep, get, ready};
use serde_json::{Value, json};
use sqlx::SqlitePool;

fn spec(name: &str) -> Value {
    json!({
        "name": name,
        "method": "grid",
        "base": {"model": "small_cnn", "dataset": "digits", "epochs": 3},
        "parameters": {"epsilon": {"values": [0.01, 0.03]}, "lr_max": {"value": 0.05}},
        "seeds": [0, 1],
    })
}

struct Outcome {
    status: &'static str,
    epochs_done: i64,
    best: Option<f64>,
    best_epoch: Option<i64>,
    clean: Option<f64>,
    robust: Option<f64>,
    autoattack: Option<f64>,
}

async fn set(db: &SqlitePool, name: &str, o: Outcome) {
    let id: i64 = sqlx::query_scalar(
        "UPDATE runs SET status = ?, epochs_done = ?, best_robust_acc = ?, best_epoch = ?, final_clean_acc = ?,
                final_robust_acc = ?, autoattack_acc = ?,
                autoattack_n = iif(? IS NULL, NULL, 1000), autoattack_suite = iif(? IS NULL, NULL, 'aa-fast')
         WHERE name = ? RETURNING id",
    )
    .bind(o.status)
    .bind(o.epochs_done)
    .bind(o.best)
    .bind(o.best_epoch)
    .bind(o.clean)
    .bind(o.robust)
    .bind(o.autoattack)
    .bind(o.autoattack)
    .bind(o.autoattack)
    .bind(name)
    .fetch_one(db)
    .await
    .unwrap();
    for epoch in 1..=o.epochs_done {
        sqlx::query(
            "INSERT INTO epochs (run_id, epoch, lr, train_loss, train_acc, train_clean_loss, train_clean_acc,
                                 test_clean_loss, test_clean_acc, test_pgd_loss, test_pgd_acc, epoch_seconds, images_per_second)
             VALUES (?, ?, 0.05, 1, 0.5, 1, 0.5, 1, 0.5, 1, ?, 1, 100)",
        )
        .bind(id)
        .bind(epoch)
        .bind(o.best.unwrap_or(0.0))
        .execute(db)
        .await
        .unwrap();
    }
}

/// Four runs: ε = 0.01 finished for both seeds, ε = 0.03 one running and one queued.
async fn partly_done(db: &SqlitePool) -> i64 {
    let id = create_sweep(db, spec("eps-sweep")).await;
    let done = |best, clean, robust, aa| Outcome {
        status: "succeeded",
        epochs_done: 3,
        best: Some(best),
        best_epoch: Some(2),
        clean: Some(clean),
        robust: Some(robust),
        autoattack: Some(aa),
    };
    set(db, "epsilon=0.01,seed=0", done(0.30, 0.80, 0.28, 0.25)).await;
    set(db, "epsilon=0.01,seed=1", done(0.50, 0.90, 0.44, 0.41)).await;
    let running = Outcome {
        status: "running",
        epochs_done: 1,
        best: Some(0.40),
        best_epoch: Some(1),
        clean: Some(0.70),
        robust: Some(0.40),
        autoattack: None,
    };
    set(db, "epsilon=0.03,seed=0", running).await;
    id
}

fn section<'a>(body: &'a str, start: &str, end: &str) -> &'a str {
    let from = body.find(start).unwrap_or_else(|| panic!("no {start} in {body}"));
    let to = from + body[from..].find(end).unwrap();
    &body[from..to]
}

fn position(body: &str, needle: &str) -> usize {
    body.find(needle).unwrap_or_else(|| panic!("no {needle}"))
}

/// The page's chart data, as a browser reads the data attribute.
fn chart_data(body: &str) -> Value {
    let raw = section(body, "data-sweep=\"", "\">").trim_start_matches("data-sweep=\"");
    let text = raw.replace("&#34;", "\"").replace("&#39;", "'").replace("&#60;", "<").replace("&#62;", ">").replace("&#38;", "&");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[sqlx::test(migrations = "../migrations")]
async fn shows_what_varies_progress_and_runs_ranked_by_best_robust(db: SqlitePool) {
    let id = partly_done(&db).await;
    let (status, content_type, body) = get(ready(db), &format!("/sweeps/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(body.contains("<h1 id=\"sweep-heading\">eps-sweep</h1>"), "{body}");
    assert!(body.contains("<code>epsilon</code>: 0.01, 0.03"), "{body}");
    assert!(body.contains("<code>seed</code>: 0, 1"));
    assert!(!body.contains("<code>lr_max</code>"), "a fixed value does not vary");
    assert!(body.contains("<dd>grid</dd>"));
    assert!(body.contains(&format!("href=\"/?sweep={id}\"")));
    assert!(body.contains("<details class=\"sweep-spec\">") && body.contains("&#34;epsilon&#34;"), "the spec, pretty");

    let progress = section(&body, "id=\"sweep-progress\"", "</section>");
    for (key, n) in [("succeeded", 2), ("running", 1), ("queued", 1), ("failed", 0), ("stopped", 0)] {
        let item = section(progress, &format!("<li data-status=\"{key}\">"), "</li>");
        assert!(item.contains(&format!("<strong class=\"count\">{n}</strong>")), "{key}: {item}");
    }

    // Ranked within each ε: 0.50 and 0.30 at ε 0.01, then 0.40 and none at 0.03.
    let table = section(&body, "<div id=\"sweep-runs\">", "</section>");
    assert!(body.contains("Ranked within each dataset and ε"), "and says so");
    let order: Vec<usize> = ["digits, ε = 0.01", "data-run=\"2\"", "data-run=\"1\"", "digits, ε = 0.03", "data-run=\"3\"", "data-run=\"4\""]
        .iter()
        .map(|row| position(table, row))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{table}");
    assert!(section(table, "data-run=\"3\"", "</tr>").contains("<td class=\"num\">1</td>"), "first at its ε");
    let best = section(table, "data-run=\"2\"", "</tr>");
    assert!(best.contains("<td class=\"num\">1</td>"), "ranked first: {best}");
    assert!(best.contains("href=\"/runs/2\">epsilon=0.01,seed=1</a>"));
    assert!(best.contains("3/3") && best.contains("50.0") && best.contains("90.0") && best.contains("41.0"), "{best}");
    let queued = section(table, "data-run=\"4\"", "</tr>");
    assert!(queued.contains("<td class=\"num\">—</td>") && queued.contains("0/3"), "{queued}");
    assert!(table.contains("AutoAttack %"), "shown once a run has it");

    let data = chart_data(&body);
    assert_eq!(data["sweep"], id);
    assert_eq!(data["color"], "epsilon", "the first swept parameter colours by default");
    assert_eq!(data["runs"].as_array().unwrap().len(), 4);
    assert_eq!(data["runs"][0]["params"], json!({"epsilon": 0.01, "seed": 0}));
    assert_eq!(data["params"][0], json!({"name": "epsilon", "values": ["0.01", "0.03"], "numeric": true, "log": false}));
    assert!(!section(&body, "id=\"chart-robust\"", "</div>").contains("No epochs yet"));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_results_table_has_mean_and_sample_std_over_finished_seeds(db: SqlitePool) {
    let id = partly_done(&db).await;
    let (status, _, body) = get(ready(db.clone()), &format!("/sweeps/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    // By the swept parameters but the seed, by default.
    assert!(body.contains("<h2 id=\"results-heading\">Results by epsilon</h2>"), "{body}");
    let table = section(&body, "<table id=\"results-table\"", "</table>");
    let rows: Vec<&str> = table.split("<tr").skip(2).collect();
    assert_eq!(rows.len(), 1, "ε = 0.03 has no finished run: {table}");
    let small = rows[0];
    assert!(small.contains("<td>0.01</td>") && small.contains("<td class=\"num\">2</td>"), "{small}");
    // Final clean 0.80, 0.90: 85.0 ± 7.1; best 0.30, 0.50: 40.0 ± 14.1 (sample std);
    // final 0.28, 0.44: 36.0 ± 11.3; gap 0.02, 0.06: 4.0 ± 2.8; AutoAttack 0.25, 0.41: 33.0 ± 11.3.
    for cell in ["85.0<small class=\"pm\"> ± 7.1", "40.0<small class=\"pm\"> ± 14.1", "36.0<small class=\"pm\"> ± 11.3",
        "4.0<small class=\"pm\"> ± 2.8", "33.0<small class=\"pm\"> ± 11.3"] {
        assert!(small.contains(cell), "no {cell} in {small}");
    }
    assert!(!table.contains("70.0"), "a running run's accuracies are not final: {table}");
    let notes = section(&body, "<ul class=\"results-notes", "</ul>");
    assert!(notes.contains("Not counted: run #3") && notes.contains("(running)") && notes.contains("(queued)"), "{notes}");
    assert!(notes.contains("AutoAttack: aa-fast on 1000 points."), "{notes}");
    let latex = format!("href=\"/api/v1/sweeps/{id}/table?by=epsilon&#38;published=true&#38;format=latex\" download");
    assert!(body.contains(&latex), "no LaTeX download link in {body}");

    // Two keys at once; the seed splits the finished runs.
    let (_, _, body) = get(ready(db), &format!("/sweeps/{id}?by=epsilon&by=seed&color=seed")).await;
    assert!(body.contains("Results by epsilon × seed"));
    let table = section(&body, "<table id=\"results-table\"", "</table>");
    assert_eq!(table.split("<tr").count() - 2, 2, "{table}");
    assert!(body.contains("<input type=\"checkbox\" name=\"by\" value=\"epsilon\" checked>"), "{body}");
    assert_eq!(chart_data(&body)["chosen"], "epsilon", "the parameter chart follows the first key");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_unknown_parameter_falls_back_and_says_so(db: SqlitePool) {
    let id = partly_done(&db).await;
    let (status, _, body) = get(ready(db.clone()), &format!("/sweeps/{id}?by=%3Cb%3Enope&color=lr")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("No run here has `&#60;b&#62;nope`"), "{body}");
    assert!(body.contains("The table is grouped by epsilon instead."), "{body}");
    assert!(body.contains("`lr` is not a swept parameter of this sweep; coloured by `epsilon` instead."));
    assert_eq!(chart_data(&body)["color"], "epsilon");

    // An older link's `group=` still groups.
    let (status, _, body) = get(ready(db), &format!("/sweeps/{id}?group=seed&color=seed")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Results by seed"), "{body}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_new_sweep_lists_its_runs_and_says_no_epochs_yet(db: SqlitePool) {
    let id = create_sweep(&db, spec("fresh")).await;
    let (status, _, body) = get(ready(db), &format!("/sweeps/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let robust = section(&body, "id=\"chart-robust\"", "</div>");
    assert!(robust.contains("No epochs yet"), "{robust}");
    assert!(section(&body, "id=\"chart-tradeoff\"", "</div>").contains("No finished runs yet"));
    let table = section(&body, "<div id=\"sweep-runs\">", "</section>");
    assert_eq!(table.matches("<tr data-run=").count(), 4);
    assert!(!table.contains("AutoAttack"), "no run has AutoAttack yet");
    let progress = section(&body, "id=\"sweep-progress\"", "</section>");
    assert!(section(progress, "<li data-status=\"queued\">", "</li>").contains(">4</strong>"));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_sweep_without_swept_parameters_says_so(db: SqlitePool) {
    let id = create_sweep(&db, json!({"method": "grid", "base": {"dataset": "digits", "epochs": 1}})).await;
    let (status, _, body) = get(ready(db), &format!("/sweeps/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("no swept parameter: every run has the same config"), "{body}");
    assert!(body.contains("Results by nothing (all runs together)"), "{body}");
    assert!(!body.contains("id=\"sweep-controls\""));
    assert!(section(&body, "<div id=\"sweep-runs\">", "</table>").contains(">base</a>"));
    assert!(!body.contains("Ranked within each dataset"), "one threat model: nothing to say");
    assert_eq!(chart_data(&body)["color"], Value::Null);
}

#[sqlx::test(migrations = "../migrations")]
async fn unknown_sweeps_get_the_html_404(db: SqlitePool) {
    for uri in ["/sweeps/999", "/sweeps/abc"] {
        let (status, content_type, body) = get(ready(db.clone()), uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert!(content_type.starts_with("text/html"), "{uri}: {content_type}");
        assert!(body.contains("Page not found"), "{uri}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn user_text_is_escaped(db: SqlitePool) {
    let mut spec = spec("<script>alert(1)</script>");
    spec["parameters"] = json!({"aom.labels": {"values": ["ratio", "geometric"]}, "method": {"value": "aom"}});
    let id = create_sweep(&db, spec).await;
    let (status, _, body) = get(ready(db), &format!("/sweeps/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains("<script>alert(1)"), "{body}");
    assert!(body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    // The script data is in an attribute, so quotes are escaped too.
    assert!(!body.contains("data-sweep=\"{\""));
    assert_eq!(chart_data(&body)["params"][0]["values"], json!(["ratio", "geometric"]));
}

/// Posts one of the page's forms as a browser does: the CSRF cookie the page
/// set and the same token in the form. The reply's status and Location.
async fn submit(db: &SqlitePool, page_uri: &str, uri: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    use axum::body::Body;
    use axum::http::{Request, header};
    use tower::ServiceExt;
    let page = advmix_server::app(ready(db.clone())).oneshot(Request::get(page_uri).body(Body::empty()).unwrap()).await.unwrap();
    let cookie = page.headers().get(header::SET_COOKIE).unwrap().to_str().unwrap().to_owned();
    let token = cookie.strip_prefix("advmix_csrf=").unwrap().split(';').next().unwrap().to_owned();
    let mut all = vec![("csrf", token.as_str())];
    all.extend_from_slice(fields);
    let request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, format!("advmix_csrf={token}"))
        .body(Body::from(serde_urlencoded::to_string(&all).unwrap()))
        .unwrap();
    let reply = advmix_server::app(ready(db.clone())).oneshot(request).await.unwrap();
    let location = reply.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (reply.status(), location)
}

#[sqlx::test(migrations = "../migrations")]
async fn early_termination_shows_its_rungs_replays_any_rule_and_filters_pruned_runs(db: SqlitePool) {
    let mut with_rule = spec("et-sweep");
    with_rule["base"]["epochs"] = json!(9);
    with_rule["early_terminate"] = json!({"type": "asha", "min_epochs": 1, "eta": 3});
    let id = create_sweep(&db, with_rule).await;
    // Four finished runs, one far behind the others from epoch 1 on.
    let done = |best| Outcome { status: "succeeded", epochs_done: 9, best: Some(best), best_epoch: Some(9), clean: Some(0.8), robust: Some(best), autoattack: None };
    set(&db, "epsilon=0.01,seed=0", done(0.50)).await;
    set(&db, "epsilon=0.01,seed=1", done(0.45)).await;
    set(&db, "epsilon=0.03,seed=0", done(0.40)).await;
    set(&db, "epsilon=0.03,seed=1", done(0.05)).await;
    sqlx::query("UPDATE runs SET status = 'pruned', error = 'pruned at rung 1 (epoch 1): test_pgd_acc 5.0% was below the cut 40.0%' WHERE name = 'epsilon=0.03,seed=1'")
        .execute(&db)
        .await
        .unwrap();

    let (status, _, body) = get(ready(db.clone()), &format!("/sweeps/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("rungs at epochs 1, 3"), "the rule in a sentence");
    assert_eq!(chart_data(&body)["rungs"], json!([1, 3]), "the chart draws the rungs");
    assert!(body.contains("sweep-pruned-reason") && body.contains("below the cut 40.0%"), "the reason beside the status");

    let (_, _, only) = get(ready(db.clone()), &format!("/sweeps/{id}?status=pruned")).await;
    let table = section(&only, "id=\"sweep-runs\"", "</table>");
    assert_eq!(table.matches("<tr data-run").count(), 1, "{table}");

    // The replay of another rule: eta 2 from epoch 3, the epochs the page recorded.
    let (_, _, replayed) = get(ready(db.clone()), &format!("/sweeps/{id}?replay=1&et=asha&et_first=3&et_eta=2&et_metric=test_pgd_acc")).await;
    let result = section(&replayed, "id=\"replay-result\"", "</section>");
    assert!(result.contains("Rungs at epochs <strong>3, 6</strong>"), "{result}");
    assert!(result.contains("id=\"replay-stopped\">"), "{result}");
    assert_eq!(chart_data(&replayed)["rungs"], json!([3, 6]));
    // The sweep's own rule, exactly (here its default asha).
    let (_, _, own) = get(ready(db.clone()), &format!("/sweeps/{id}?replay=own")).await;
    assert!(section(&own, "id=\"replay-result\"", "</section>").contains("Rungs at epochs <strong>1, 3</strong>"));
    // A bad field comes back at that field.
    let (_, _, refused) = get(ready(db.clone()), &format!("/sweeps/{id}?replay=1&et=asha&et_first=1&et_eta=1")).await;
    assert!(refused.contains("id=\"et_eta-error\""), "{}", section(&refused, "id=\"sweep-replay\"", "</section>"));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_page_pauses_resumes_and_grows_the_sweep_with_errors_at_their_field(db: SqlitePool) {
    let id = create_sweep(&db, spec("grown")).await;
    let page = format!("/sweeps/{id}");
    let (status, location) = submit(&db, &page, &format!("/sweeps/{id}/pause"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, body) = get(ready(db.clone()), &location).await;
    assert!(body.contains("id=\"sweep-paused\"") && body.contains("Resume sweep") && body.contains("Paused: queued runs wait"));
    let (_, location) = submit(&db, &page, &format!("/sweeps/{id}/resume"), &[]).await;
    let (_, _, body) = get(ready(db.clone()), &location).await;
    assert!(!body.contains("id=\"sweep-paused\"") && body.contains("Pause sweep"));

    let (_, location) = submit(&db, &page, &format!("/sweeps/{id}/grow"), &[("what", "seeds"), ("seeds", "2, 3")]).await;
    let (_, _, body) = get(ready(db.clone()), &location).await;
    assert!(body.contains("4 runs queued"), "{}", section(&body, "class=\"notice\"", "</p>"));
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM runs WHERE sweep_id = ?").bind(id).fetch_one(&db).await.unwrap();
    assert_eq!(runs, 8);
    let history = section(&body, "id=\"sweep-history\"", "</section>");
    assert!(history.contains("paused") && history.contains("resumed") && history.contains("added seeds 2, 3"), "{history}");

    // A seed the sweep has: refused at the seeds field, nothing added.
    let (_, location) = submit(&db, &page, &format!("/sweeps/{id}/grow"), &[("what", "seeds"), ("seeds", "1")]).await;
    assert!(location.ends_with("#sweep-grow"), "{location}");
    let (_, _, body) = get(ready(db.clone()), &location).await;
    assert!(body.contains("id=\"grow-seeds-error\"") && body.contains("already runs"), "{}", section(&body, "id=\"sweep-grow\"", "</section>"));
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM runs WHERE sweep_id = ?").bind(id).fetch_one(&db).await.unwrap();
    assert_eq!(after, 8);
    let (_, location) = submit(&db, &page, &format!("/sweeps/{id}/grow"), &[("what", "values"), ("param", "epsilon"), ("values", "0.01")]).await;
    let (_, _, body) = get(ready(db.clone()), &location).await;
    assert!(body.contains("id=\"grow-values-error\""), "{}", section(&body, "id=\"sweep-grow\"", "</section>"));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_page_sets_the_priority_and_stops_the_whole_sweep(db: SqlitePool) {
    let id = create_sweep(&db, spec("whole")).await;
    let page = format!("/sweeps/{id}");
    let (_, _, body) = get(ready(db.clone()), &page).await;
    assert!(body.contains("data-action=\"stop-sweep\"") && body.contains("Cancel 4 queued"), "both actions offered");

    let (_, location) = submit(&db, &page, &format!("/sweeps/{id}/priority"), &[("priority", "high")]).await;
    assert!(location.ends_with("#sweep-actions"), "{location}");
    let (_, _, body) = get(ready(db.clone()), &location).await;
    assert!(body.contains("id=\"sweep-priority-error\"") && body.contains("`high` is not a priority"));
    let (_, location) = submit(&db, &page, &format!("/sweeps/{id}/priority"), &[("priority", "3")]).await;
    let (_, _, body) = get(ready(db.clone()), &location).await;
    assert!(body.contains("Priority 3: 4 queued runs reordered") && body.contains(r#"id="sweep-priority" value="3""#));

    // Evaluating best checkpoints before any run finished says why not, at the form.
    let (_, location) = submit(&db, &page, &format!("/sweeps/{id}/evaluate"), &[("attack", "aa-fast"), ("n", "many")]).await;
    let (_, _, body) = get(ready(db.clone()), &location).await;
    assert!(body.contains("id=\"sweep-eval_n-error\"") && body.contains("`many` is not a whole number"), "{location}");
    let (_, location) = submit(&db, &page, &format!("/sweeps/{id}/evaluate"), &[("attack", "aa-fast"), ("n", "100")]).await;
    let (_, _, body) = get(ready(db.clone()), &location).await;
    assert!(body.contains("id=\"sweep-evaluate-error\"") && body.contains("no finished run"), "{location}");

    let (_, location) = submit(&db, &page, &format!("/sweeps/{id}/stop"), &[]).await;
    let (_, _, body) = get(ready(db.clone()), &location).await;
    assert!(body.contains("4 were taken out of the queue") && body.contains("id=\"sweep-paused\""), "{}", section(&body, "<main", "sweep-controls"));
    assert!(!body.contains("data-action=\"stop-sweep\""), "nothing left to stop");
    let stopped: i64 = sqlx::query_scalar("SELECT count(*) FROM runs WHERE sweep_id = ? AND status = 'stopped'").bind(id).fetch_one(&db).await.unwrap();
    assert_eq!(stopped, 4);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_sweeps_runs_and_the_filtered_runs_list_export_as_csv(db: SqlitePool) {
    let id = partly_done(&db).await;
    let (status, content_type, csv) = get(ready(db.clone()), &format!("/sweeps/{id}/runs.csv")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "id,name,epsilon,seed,best_robust_acc,best_epoch,final_clean_acc,final_robust_acc,autoattack_acc,epochs_done,epochs,duration_seconds");
    assert_eq!(lines.len(), 5, "{csv}");
    // Ranked by best robust accuracy, with AutoAttack.
    assert!(lines[1].contains("epsilon=0.01,seed=1") && lines[1].contains(",0.41,"), "{csv}");

    // The runs list's filters choose the rows: the succeeded ones only.
    let (_, _, home) = get(ready(db.clone()), "/?status=succeeded").await;
    assert!(home.contains(r#"href="/runs.csv?status=succeeded"#), "the list links its CSV with its filters");
    let (status, _, csv) = get(ready(db.clone()), "/runs.csv?status=succeeded").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.lines().skip(1).all(|l| l.contains("epsilon=0.01")), "{csv}");
    let (_, _, all) = get(ready(db.clone()), "/runs.csv?status=succeeded&all=1").await;
    assert!(all.lines().next().unwrap().contains("lr_max") && all.lines().next().unwrap().contains("eval.n"), "every key with all=1");
}
