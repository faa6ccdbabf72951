//! The launch page: the form as rendered, what a submission creates (or does
//! not), the live preview, clones and pasted specs.

mod common;

use advmix_protocol::RunConfig;
use advmix_protocol::config::{Dataset, Method, Model};
use advmix_server::AppState;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use sqlx::SqlitePool;
use tower::ServiceExt;

struct Reply {
    status: StatusCode,
    location: Option<String>,
    set_cookie: Option<String>,
    body: String,
}

async fn send(state: &AppState, request: Request<Body>) -> Reply {
    let response = advmix_server::app(state.clone()).oneshot(request).await.unwrap();
    let header = |name| response.headers().get(name).map(|v: &header::HeaderValue| v.to_str().unwrap().to_owned());
    let (status, location, set_cookie) = (response.status(), header(header::LOCATION), header(header::SET_COOKIE));
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply { status, location, set_cookie, body: String::from_utf8(body.to_vec()).unwrap() }
}

async fn get(state: &AppState, uri: &str) -> Reply {
    send(state, Request::get(uri).body(Body::empty()).unwrap()).await
}

/// The page as a browser first sees it, and the CSRF token its cookie holds.
async fn open(state: &AppState) -> (String, String) {
    let page = get(state, "/launch").await;
    assert_eq!(page.status, StatusCode::OK);
    let cookie = page.set_cookie.expect("the page issues a CSRF cookie");
    let token = cookie.strip_prefix("advmix_csrf=").unwrap().split(';').next().unwrap().to_owned();
    (page.body, token)
}

fn encode(pairs: &[(String, String)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap()
}

async fn post_form(state: &AppState, uri: &str, cookie: Option<&str>, pairs: &[(String, String)]) -> Reply {
    let mut request = Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(token) = cookie {
        request = request.header(header::COOKIE, format!("advmix_csrf={token}"));
    }
    send(state, request.body(Body::from(encode(pairs))).unwrap()).await
}

async fn preview(state: &AppState, pairs: &[(String, String)]) -> Value {
    let reply = post_form(state, "/launch/preview", None, pairs).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    serde_json::from_str(&reply.body).unwrap()
}

fn unescape(text: &str) -> String {
    [("&#34;", "\""), ("&quot;", "\""), ("&#39;", "'"), ("&#60;", "<"), ("&lt;", "<"), ("&#62;", ">"), ("&gt;", ">")]
        .iter()
        .fold(text.to_owned(), |t, (from, to)| t.replace(from, to))
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

fn attribute<'t>(tag: &'t str, name: &str) -> Option<&'t str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(&tag[start..start + tag[start..].find('"')?])
}

/// What the browser would submit for the page as rendered: text inputs,
/// checked boxes and radios, the hidden token and the textarea.
fn submitted(html: &str) -> Vec<(String, String)> {
    let form = &html[html.find("<form id=\"launch\"").unwrap()..html.find("</form>").unwrap()];
    let mut pairs = Vec::new();
    for piece in form.split("<input").skip(1) {
        let tag = &piece[..piece.find('>').unwrap()];
        let Some(name) = attribute(tag, "name") else { continue };
        let kind = attribute(tag, "type").unwrap_or("text");
        if matches!(kind, "checkbox" | "radio") && !tag.contains(" checked") {
            continue;
        }
        pairs.push((name.to_owned(), unescape(attribute(tag, "value").unwrap_or(""))));
    }
    let textarea = &form[form.find("<textarea").unwrap()..];
    let text = &textarea[textarea.find('>').unwrap() + 1..textarea.find("</textarea>").unwrap()];
    pairs.push(("yaml".to_owned(), unescape(text)));
    pairs
}

/// `pairs` with every value of `name` replaced by `values`, in place.
fn with(mut pairs: Vec<(String, String)>, name: &str, values: &[&str]) -> Vec<(String, String)> {
    let at = pairs.iter().position(|(k, _)| k == name).unwrap_or(pairs.len());
    pairs.retain(|(k, _)| k != name);
    for (i, value) in values.iter().enumerate() {
        pairs.insert((at + i).min(pairs.len()), (name.to_owned(), (*value).to_owned()));
    }
    pairs
}

/// A quick digits sweep, as the browser test fills it.
fn digits(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    let pairs = with(pairs, "dataset", &["digits"]);
    let pairs = with(pairs, "model", &["small_cnn"]);
    let pairs = with(pairs, "epochs", &["2"]);
    with(pairs, "eval.n", &["100"])
}

/// The markup of one field's wrapper, up to the next field.
fn field<'h>(html: &'h str, name: &str) -> &'h str {
    let start = html.find(&format!("id=\"field-{name}\"")).unwrap_or_else(|| panic!("no #field-{name}"));
    let rest = &html[start..];
    let end = rest[1..].find("id=\"field-").map_or(rest.len(), |i| i + 1);
    &rest[..end]
}

async fn count(db: &SqlitePool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}"))).fetch_one(db).await.unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_form_renders_with_the_defaults(db: SqlitePool) {
    let state = common::ready(db);
    let (html, token) = open(&state).await;
    assert!(html.contains("<form id=\"launch\""));
    assert!(html.contains(&format!("name=\"csrf\" value=\"{token}\"")));
    assert!(field(&html, "epsilon").contains("value=\"8/255\""), "ε as a fraction of 255");
    assert!(field(&html, "epochs").contains("value=\"200\""));
    assert!(field(&html, "lr_max").contains("value=\"0.1\""));
    assert!(field(&html, "method").contains("value=\"pgd_at\" checked"));
    assert!(!field(&html, "method").contains("value=\"aom\" checked"));
    assert!(field(&html, "eval.n").contains("value=\"1000\""));
    assert!(field(&html, "aom.labels").contains("value=\"ratio\" checked"));
    assert!(html.contains("id=\"group-aom\""));
    assert!(html.contains("id=\"run-count\">1 run<"), "the defaults are one run");
    assert!(html.contains("id=\"launch-submit\""));
    assert!(html.contains("/static/launch.js"));
    assert!(html.contains("0.001..0.1 x3 log"), "the value syntax is explained");
    assert!(html.contains("cpu/0"), "where runs go");
    assert!(!html.contains("field-error"));

    let js = get(&state, "/static/launch.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.body.contains("/launch/preview") && js.body.contains("run-count"));
}

#[sqlx::test(migrations = "../migrations")]
async fn two_values_of_epsilon_make_a_sweep_of_two_runs(db: SqlitePool) {
    let state = common::ready(db.clone());
    let (html, token) = open(&state).await;
    let pairs = with(digits(submitted(&html)), "epsilon", &["4/255, 8/255"]);
    let pairs = with(pairs, "name", &["eps pair"]);
    let reply = post_form(&state, "/launch", Some(&token), &pairs).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let (id, name): (i64, String) = sqlx::query_as("SELECT id, name FROM sweeps").fetch_one(&db).await.unwrap();
    assert_eq!(reply.location.as_deref(), Some(format!("/sweeps/{id}").as_str()));
    assert_eq!(name, "eps pair");

    let runs: Vec<(String, String, String)> =
        sqlx::query_as("SELECT name, config, status FROM runs WHERE sweep_id = ? ORDER BY id").bind(id).fetch_all(&db).await.unwrap();
    assert_eq!(runs.len(), 2);
    let configs: Vec<RunConfig> = runs.iter().map(|(_, c, _)| serde_json::from_str(c).unwrap()).collect();
    assert_eq!(configs[0].epsilon, 4.0 / 255.0);
    assert_eq!(configs[1].epsilon, 8.0 / 255.0);
    assert!(configs.iter().all(|c| c.dataset == Dataset::Digits && c.model == Model::SmallCnn && c.epochs == 2));
    assert!(runs[0].0.starts_with("epsilon=0.0156"), "{}", runs[0].0);
    assert!(runs.iter().all(|(_, _, status)| status == "queued"));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_preview_counts_runs_and_lists_what_varies(db: SqlitePool) {
    let state = common::ready(db.clone());
    let (html, _) = open(&state).await;
    let base = digits(submitted(&html));

    let p = preview(&state, &with(base.clone(), "epsilon", &["4/255, 8/255"])).await;
    assert_eq!(p["runs"], 2);
    assert_eq!(p["errors"], serde_json::json!([]));
    assert_eq!(p["varies"][0]["field"], "epsilon");
    assert_eq!(p["varies"][0]["values"], serde_json::json!(["4/255", "8/255"]));

    let p = preview(&state, &with(base.clone(), "lr_max", &["0.01..0.1 x4"])).await;
    assert_eq!(p["runs"], 4);
    assert_eq!(p["varies"][0]["values"], serde_json::json!(["0.01", "0.04", "0.07", "0.1"]));

    let two_methods = with(base.clone(), "method", &["pgd_at", "aom"]);
    let p = preview(&state, &with(two_methods, "seeds", &["0, 1, 2"])).await;
    assert_eq!(p["runs"], 6);
    let fields: Vec<&str> = p["varies"].as_array().unwrap().iter().map(|v| v["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["method", "seed"]);

    let random = with(base.clone(), "search", &["random"]);
    let random = with(random, "count", &["5"]);
    let random = with(random, "lr_max", &["0.01..0.1 log"]);
    let p = preview(&state, &with(random.clone(), "seeds", &["0..2"])).await;
    assert_eq!(p["runs"], 15, "{p}");
    assert_eq!(p["varies"][0]["field"], "lr_max");

    let p = preview(&state, &with(random, "count", &["0"])).await;
    assert_eq!(p["errors"][0]["field"], "count", "{p}");

    let p = preview(&state, &with(base.clone(), "epsilon", &["1.5"])).await;
    assert_eq!(p["runs"], 1);
    assert_eq!(p["errors"][0]["field"], "epsilon");
    assert!(p["errors"][0]["message"].as_str().unwrap().contains("[0, 1]"), "{p}");

    let huge = with(base.clone(), "lr_max", &["0.01..0.1 x100"]);
    let p = preview(&state, &with(huge, "momentum", &["0.5..0.9 x100"])).await;
    assert_eq!(p["runs"], 10_000);
    assert_eq!(p["errors"][0]["field"], "form", "too many runs is the whole form's problem");
    assert!(p["errors"][0]["message"].as_str().unwrap().contains("limit of 1000"), "{p}");

    let yaml = "method: grid\nparameters:\n  epsilon: {values: [0.01, 0.02, 0.03]}\n";
    let p = preview(&state, &with(base, "yaml", &[yaml])).await;
    assert_eq!(p["runs"], 3);
    assert_eq!(count(&db, "sweeps").await + count(&db, "runs").await, 0, "a preview creates nothing");
}

#[sqlx::test(migrations = "../migrations")]
async fn bayes_and_early_termination_from_the_fields_with_a_warning_for_unfair_rungs(db: SqlitePool) {
    let state = common::ready(db.clone());
    let (html, token) = open(&state).await;
    let base = digits(submitted(&html));
    assert!(html.contains(r#"value="bayes""#) && html.contains(r#"name="et""#), "the form offers both");

    let bayes = with(base.clone(), "search", &["bayes"]);
    let bayes = with(bayes, "count", &["6"]);
    let bayes = with(bayes, "lr_max", &["0.01..0.1 log"]);
    let p = preview(&state, &bayes).await;
    assert_eq!((p["runs"].as_u64(), p["errors"].as_array().map(Vec::len)), (Some(6), Some(0)), "all proposals count: {p}");

    // Early termination while the schedule varies: a warning, not an error,
    // that names the best-so-far metric.
    let early = with(base.clone(), "et", &["asha"]);
    let varied = with(early.clone(), "epochs", &["3, 9"]);
    let p = preview(&state, &varied).await;
    assert_eq!(p["errors"], serde_json::json!([]), "{p}");
    let warning = p["warnings"][0].as_str().unwrap_or_else(|| panic!("a warning: {p}"));
    assert!(warning.contains("best_test_pgd_acc"), "{warning}");
    let fair = with(varied, "et_metric", &["best_test_pgd_acc"]);
    assert_eq!(preview(&state, &fair).await["warnings"], serde_json::json!([]));
    // Nothing varies the schedule (a peak learning rate decays at the same epochs): no warning.
    assert_eq!(preview(&state, &with(early.clone(), "epsilon", &["4/255, 8/255"])).await["warnings"], serde_json::json!([]));
    assert_eq!(preview(&state, &with(early.clone(), "lr_max", &["0.01, 0.1"])).await["warnings"], serde_json::json!([]));

    // Its errors land on its fields.
    let p = preview(&state, &with(early.clone(), "et_eta", &["1"])).await;
    assert_eq!(p["errors"][0]["field"], "et_eta", "{p}");
    let p = preview(&state, &with(early.clone(), "et_first", &["x"])).await;
    assert_eq!(p["errors"][0]["field"], "et_first", "{p}");

    // Launched, the spec carries the rule.
    let pairs = with(with(early, "epochs", &["4"]), "et_eta", &["2"]);
    let reply = post_form(&state, "/launch", Some(&token), &pairs).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let spec: String = sqlx::query_scalar("SELECT spec FROM sweeps").fetch_one(&db).await.unwrap();
    let spec: Value = serde_json::from_str(&spec).unwrap();
    assert_eq!(spec["early_terminate"], serde_json::json!({"type": "asha", "min_epochs": 1, "eta": 2}));
}

#[sqlx::test(migrations = "../migrations")]
async fn an_invalid_epsilon_comes_back_at_its_field_with_every_value_kept(db: SqlitePool) {
    let state = common::ready(db.clone());
    let (html, token) = open(&state).await;
    let pairs = with(digits(submitted(&html)), "epsilon", &["0.01, 1.5"]);
    let pairs = with(pairs, "name", &["kept name"]);
    let pairs = with(pairs, "lr_max", &["0.01..0.1 x2"]);
    let pairs = with(pairs, "method", &["mixup", "aom"]);
    let reply = post_form(&state, "/launch", Some(&token), &pairs).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = reply.body;
    let epsilon = field(&html, "epsilon");
    assert!(epsilon.contains("class=\"field-error\""), "{epsilon}");
    assert!(epsilon.contains("it must lie in [0, 1]"), "{epsilon}");
    assert!(epsilon.contains("value=\"0.01, 1.5\""), "{epsilon}");
    assert!(field(&html, "name").contains("value=\"kept name\""));
    assert!(field(&html, "lr_max").contains("value=\"0.01..0.1 x2\""));
    assert!(field(&html, "dataset").contains("value=\"digits\" checked"));
    assert!(field(&html, "method").contains("value=\"aom\" checked"));
    assert!(!field(&html, "method").contains("value=\"pgd_at\" checked"));
    assert!(!field(&html, "lr_max").contains("field-error"), "only the field at fault is marked");
    assert!(html.contains("Nothing was launched"));
    assert_eq!(count(&db, "sweeps").await, 0);
    assert_eq!(count(&db, "runs").await, 0);

    // A value the form cannot read at all is refused before expansion, at its field too.
    let pairs = with(pairs, "epsilon", &["lots"]);
    let reply = post_form(&state, "/launch", Some(&token), &pairs).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(field(&reply.body, "epsilon").contains("`lots` is not a number"), "{}", reply.body);
    assert_eq!(count(&db, "sweeps").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_missing_or_wrong_csrf_token_is_refused(db: SqlitePool) {
    let state = common::ready(db.clone());
    let (html, token) = open(&state).await;
    let pairs = digits(submitted(&html));

    let reply = post_form(&state, "/launch", None, &pairs).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let other = "0123456789abcdef0123456789abcdef";
    assert_ne!(other, token);
    let reply = post_form(&state, "/launch", Some(other), &pairs).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let no_field: Vec<_> = pairs.iter().filter(|(k, _)| k != "csrf").cloned().collect();
    let reply = post_form(&state, "/launch", Some(&token), &no_field).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(count(&db, "sweeps").await + count(&db, "runs").await, 0);

    let reply = post_form(&state, "/launch", Some(&token), &pairs).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "the same form with the token goes through");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_clone_starts_from_the_runs_config(db: SqlitePool) {
    let mut config = RunConfig {
        method: Method::Aom,
        dataset: Dataset::Digits,
        model: Model::SmallCnn,
        epochs: 7,
        epsilon: 16.0 / 255.0,
        lr_max: 0.05,
        seed: 3,
        ..RunConfig::default()
    };
    config.aom.lambda_min = 0.2;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO runs (name, config, method, dataset, model, epochs) VALUES (?, ?, 'aom', 'digits', 'small_cnn', 7) RETURNING id",
    )
    .bind("<b>bold</b> run")
    .bind(serde_json::to_string(&config).unwrap())
    .fetch_one(&db)
    .await
    .unwrap();
    let state = common::ready(db.clone());

    let page = get(&state, &format!("/launch?from={id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = &page.body;
    assert!(field(html, "epsilon").contains("value=\"16/255\""));
    assert!(field(html, "epochs").contains("value=\"7\""));
    assert!(field(html, "lr_max").contains("value=\"0.05\""));
    assert!(field(html, "aom.lambda_min").contains("value=\"0.2\""));
    assert!(field(html, "seeds").contains("value=\"3\""));
    assert!(field(html, "method").contains("value=\"aom\" checked"));
    assert!(!field(html, "method").contains("value=\"pgd_at\" checked"));
    assert!(field(html, "name").contains(&format!("value=\"clone of run {id}\"")));
    assert!(!html.contains("<b>bold</b>"), "the run's name is text");

    // Submitting the clone unchanged launches the same config.
    let cookie = page.set_cookie.unwrap();
    let token = cookie.strip_prefix("advmix_csrf=").unwrap().split(';').next().unwrap();
    let reply = post_form(&state, "/launch", Some(token), &submitted(html)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let stored: String =
        sqlx::query_scalar("SELECT config FROM runs WHERE sweep_id IS NOT NULL").fetch_one(&db).await.unwrap();
    assert_eq!(serde_json::from_str::<RunConfig>(&stored).unwrap(), config);

    for missing in ["/launch?from=999", "/launch?from=abc"] {
        let page = get(&state, missing).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{missing}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_pasted_spec_replaces_the_fields(db: SqlitePool) {
    let state = common::ready(db.clone());
    let (html, token) = open(&state).await;
    let yaml = "name: from yaml\nmethod: grid\nbase: {dataset: digits, model: small_cnn, epochs: 1}\n\
                parameters:\n  epsilon: {values: [0.01, 0.02, 0.03]}\n";
    // The fields are ignored, even an invalid one.
    let pairs = with(submitted(&html), "epsilon", &["nonsense"]);
    let reply = post_form(&state, "/launch", Some(&token), &with(pairs.clone(), "yaml", &[yaml])).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let (name, spec): (String, String) = sqlx::query_as("SELECT name, spec FROM sweeps").fetch_one(&db).await.unwrap();
    assert_eq!(name, "from yaml");
    assert!(spec.contains("\"epsilon\""));
    assert_eq!(count(&db, "runs").await, 3);

    let json = r#"{"method": "grid", "parameters": {"epsilon": {"values": [0.1, 2.0]}}}"#;
    let reply = post_form(&state, "/launch", Some(&token), &with(pairs.clone(), "yaml", &[json])).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let at_yaml = field(&reply.body, "yaml");
    assert!(at_yaml.contains("class=\"field-error\"") && at_yaml.contains("epsilon: is 2"), "{at_yaml}");
    assert!(at_yaml.contains("&#34;values&#34;") || at_yaml.contains("&quot;values&quot;"), "the spec is kept: {at_yaml}");
    assert!(reply.body.contains("id=\"yaml-section\" open"));

    let reply = post_form(&state, "/launch", Some(&token), &with(pairs, "yaml", &["method: bayes"])).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(field(&reply.body, "yaml").contains("bayes"));
    assert_eq!(count(&db, "sweeps").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_refused_form_shows_user_text_as_text(db: SqlitePool) {
    let state = common::ready(db.clone());
    let (html, token) = open(&state).await;
    let evil = "<script>alert(1)</script>";
    let pairs = with(submitted(&html), "name", &[evil]);
    let pairs = with(pairs, "epsilon", &["\"><script>alert(2)</script>"]);
    let reply = post_form(&state, "/launch", Some(&token), &pairs).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!reply.body.contains("<script>alert"), "{}", reply.body);
    assert!(reply.body.contains("&#60;script&#62;alert(1)") || reply.body.contains("&lt;script&gt;alert(1)"));
    assert_eq!(count(&db, "sweeps").await, 0);
}

/// On a laptop (no GPU, no CIFAR) the blank form starts with something that
/// runs there, and says why it is not the paper set-up.
#[sqlx::test(migrations = "../migrations")]
async fn without_a_gpu_or_cifar_the_form_starts_with_a_short_digits_run(db: SqlitePool) {
    let data = tempfile::tempdir().unwrap();
    let mut report = common::gpu_report();
    report.cuda_devices.clear();
    report.cuda_available = false;
    let compute = advmix_server::compute::Compute::Ready { trainer: "/opt/advmix/advmix-trainer".into(), report };
    let (state, _stop) = common::harness(db, compute, "/nonexistent/advmix-trainer".into(), data.path(), 1);
    let (html, _) = open(&state).await;
    assert!(field(&html, "dataset").contains("value=\"digits\" checked"), "{}", field(&html, "dataset"));
    assert!(field(&html, "model").contains("value=\"small_cnn\" checked"));
    assert!(field(&html, "epochs").contains("value=\"10\""));
    assert!(html.contains("id=\"launch-starts\""));
    assert!(html.contains("CIFAR-10 is not in the data directory") && html.contains("No GPU here"), "{html}");
    // And it launches as it stands: no field is in error.
    assert!(html.contains("id=\"run-count\">1 run<") && !html.contains("field-error"));

    // Where the machine has both, the paper set-up, and no such note.
    let (html, _) = open(&common::ready(sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap())).await;
    assert!(field(&html, "epochs").contains("value=\"200\"") && !html.contains("id=\"launch-starts\""));
}

/// A step size relative to ε follows ε across a sweep, is stored with its
/// value, and a step that cannot reach ε is warned about before launching.
#[sqlx::test(migrations = "../migrations")]
async fn step_sizes_relative_to_epsilon_follow_each_runs_epsilon(db: SqlitePool) {
    let state = common::ready(db.clone());
    let (html, token) = open(&state).await;
    let pairs = with(digits(submitted(&html)), "epsilon", &["4/255, 16/255"]);
    let pairs = with(pairs, "pgd_step", &["2.5*eps/steps"]);

    // At ε = 32/255 the training attack's 10 steps of 2/255 fall short (the
    // evaluation's 20 do not): a warning names it.
    let short = with(with(pairs.clone(), "pgd_step", &["2/255"]), "epsilon", &["4/255, 32/255"]);
    let p = preview(&state, &short).await;
    let warnings = p["warnings"].to_string();
    assert!(warnings.contains("pgd_step: 10 steps of 0.00784 reach only 0.07843, short of ε = 0.12549"), "{warnings}");
    assert!(!warnings.contains("eval.pgd_step"), "{warnings}");

    let p = preview(&state, &pairs).await;
    assert!(!p["warnings"].to_string().contains("pgd_step:"), "{}", p["warnings"]);
    let typo = preview(&state, &with(pairs.clone(), "pgd_step", &["eps^2"])).await;
    assert!(typo["errors"].to_string().contains("pgd_step") && typo["errors"].to_string().contains("unexpected `^2`"), "{typo}");

    let reply = post_form(&state, "/launch", Some(&token), &pairs).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let configs: Vec<String> = sqlx::query_scalar("SELECT config FROM runs ORDER BY id").fetch_all(&db).await.unwrap();
    let stored: Vec<Value> = configs.iter().map(|c| serde_json::from_str(c).unwrap()).collect();
    for (json, eps) in stored.iter().zip([4.0 / 255.0, 16.0 / 255.0]) {
        assert_eq!(json["pgd_step"]["expr"], "2.5*eps/steps");
        let value = json["pgd_step"]["value"].as_f64().unwrap();
        assert!((value - 2.5 * eps / 10.0).abs() < 1e-12, "{json}");
        // A stored config reads back as the same run.
        let config: RunConfig = serde_json::from_value(json.clone()).unwrap();
        assert!(config.clone().checked().is_ok());
        assert!((config.pgd_step.value() - value).abs() < 1e-15);
    }
}
