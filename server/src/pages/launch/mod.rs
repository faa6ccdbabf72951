//! The launch page: a sweep built from form fields or pasted as a spec,
//! checked and stored exactly as `POST /api/v1/sweeps` does.

pub mod form;

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form, Json};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use advmix_protocol::sweep::{SweepRun, SweepSpec};
use advmix_protocol::{FieldError, RunConfig};

use self::form::{FormValues, GROUPS, Group};
use super::render;
use crate::service::sweeps;
use crate::store;
use crate::csrf::{CsrfForm, CsrfToken};
use crate::error::AppError;
use crate::state::AppState;

/// Where errors that belong to no input go (too many runs, say).
const WHOLE_FORM: &str = "form";
/// The preview lists this many values of a varying field, then a count.
const SHOWN_VALUES: usize = 12;

#[derive(Serialize, Debug)]
pub struct Varies {
    field: String,
    values: Vec<String>,
    /// How many more distinct values there are beyond `values`.
    more: usize,
}

/// What the form would launch: the run count (when it can be counted), what
/// varies, and every problem at its input's name.
#[derive(Serialize, Debug)]
pub struct Preview {
    runs: Option<usize>,
    varies: Vec<Varies>,
    errors: Vec<FieldError>,
    /// What to know before launching that is not an error (an unfair rung).
    warnings: Vec<String>,
}

impl Preview {
    fn of(spec: &SweepSpec, runs: &[SweepRun]) -> Preview {
        let varies = spec
            .varying()
            .into_iter()
            .map(|field| {
                let mut values: Vec<String> = Vec::new();
                for run in runs {
                    let value = form::display_param(&field, run.params.get(&field).unwrap_or(&Value::Null));
                    if !values.contains(&value) {
                        values.push(value);
                    }
                }
                let more = values.len().saturating_sub(SHOWN_VALUES);
                values.truncate(SHOWN_VALUES);
                Varies { field, values, more }
            })
            .collect();
        // A bayes sweep expands to its first proposal; the count is all of them.
        let count = sweeps::count(spec, runs).unwrap_or(sweeps::Count { runs: runs.len(), merged: 0 });
        let warnings = sweeps::warnings(spec, runs, count);
        Preview { runs: Some(count.runs), varies, errors: Vec::new(), warnings }
    }

    fn count_text(&self) -> String {
        match self.runs {
            Some(1) => "1 run".into(),
            Some(n) => format!("{n} runs"),
            None => "? runs".into(),
        }
    }
}

/// The spec the form describes, every run generated and validated; or the
/// errors, each at the input it concerns, with the run count if it is known.
async fn check(form: &FormValues, state: &AppState) -> Result<(SweepSpec, Vec<SweepRun>), Preview> {
    let refused = |errors, runs| Preview { runs, varies: Vec::new(), errors, warnings: Vec::new() };
    let spec = if form.is_yaml() {
        SweepSpec::parse(form.text("yaml")).map_err(|e| refused(at_inputs(form, e.errors), None))?
    } else {
        form::to_spec(form).map_err(|errors| refused(errors, None))?
    };
    let runs = sweeps::expand(&spec, state.max_sweep_runs)
        .map_err(|e| refused(at_inputs(form, e.errors), spec.run_count().ok()))?;
    match sweeps::placeable(&state.runner, &runs).await {
        Ok(()) => Ok((spec, runs)),
        Err(e) => Err(refused(at_inputs(form, vec![e]), Some(runs.len()))),
    }
}

/// Moves each expansion error to the input it concerns. A pasted spec's
/// errors all belong to its textarea, named by their field in the spec.
fn at_inputs(form: &FormValues, errors: Vec<FieldError>) -> Vec<FieldError> {
    let moved = |input: &str, message: String| FieldError { field: input.to_owned(), message };
    errors
        .into_iter()
        .map(|e| {
            if form.is_yaml() {
                let message = if e.field == "spec" { e.message } else { format!("{}: {}", e.field, e.message) };
                moved("yaml", message)
            } else {
                match form::input_for(&e.field) {
                    Some(input) => moved(input, e.message),
                    None => moved(WHOLE_FORM, format!("{}: {}", e.field, e.message)),
                }
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "launch.html")]
struct Launch<'a> {
    csrf: String,
    groups: &'static [Group],
    form: &'a FormValues,
    /// Input name → its messages, joined.
    errors: HashMap<String, String>,
    preview: &'a Preview,
    /// The scheduler's slots, which decide where runs train.
    slots: String,
    /// The run this form was cloned from: id and name.
    cloned: Option<(i64, String)>,
    /// A refused submission, rather than a first view.
    submitted: bool,
    /// Why the blank form starts where it does, when not at the defaults.
    starts: Vec<String>,
}

impl Launch<'_> {
    fn error(&self, input: &str) -> Option<&str> {
        self.errors.get(input).map(String::as_str)
    }
}

fn page(
    state: &AppState,
    csrf: CsrfToken,
    form: &FormValues,
    preview: &Preview,
    cloned: Option<(i64, String)>,
    submitted: bool,
    starts: Vec<String>,
) -> Result<Response, AppError> {
    let mut errors: HashMap<String, String> = HashMap::new();
    for e in &preview.errors {
        errors.entry(e.field.clone()).and_modify(|m| *m = format!("{m}; {}", e.message)).or_insert_with(|| e.message.clone());
    }
    let slots = state.runner.slots().iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
    let page = Launch { csrf: csrf.0, groups: GROUPS, form, errors, preview, slots, cloned, submitted, starts };
    Ok(render(&page)?.into_response())
}

async fn preview_of(form: &FormValues, state: &AppState) -> Preview {
    match check(form, state).await {
        Ok((spec, runs)) => Preview::of(&spec, &runs),
        Err(preview) => preview,
    }
}

/// The blank form's config: the paper set-up where this machine can run
/// it, else something that finishes here, with why it differs.
fn starting_config(state: &AppState) -> (RunConfig, Vec<String>) {
    let mut config = RunConfig::default();
    let mut why = Vec::new();
    if state.runner.check_dataset(config.dataset).is_err() {
        config.dataset = advmix_protocol::Dataset::Digits;
        why.push(
            "The form starts on digits, which is built in: CIFAR-10 is not in the data directory              (the README's Datasets section says how to add it)."
                .to_owned(),
        );
    }
    let gpu = state.compute.report().is_some_and(|r| !r.cuda_devices.is_empty());
    if !gpu {
        config.model = advmix_protocol::Model::SmallCnn;
        config.epochs = SHORT_EPOCHS;
        config.eval.n = advmix_protocol::config::EvalSize::Count(500);
        config.eval.final_n = advmix_protocol::config::EvalSize::Count(200);
        why.push(format!(
            "No GPU here, so the form starts with a short run: small_cnn for {SHORT_EPOCHS} epochs, evaluated on 500 points              (the paper set-up is preact_resnet18 for 200 epochs)."
        ));
    }
    (config, why)
}

/// Epochs of the blank form's run on a machine without a GPU: minutes, not days.
const SHORT_EPOCHS: u32 = 10;

#[derive(Deserialize)]
pub struct LaunchQuery {
    /// A run id to clone.
    from: Option<String>,
}

/// The form with the defaults, or with a run's config (`?from=RUN_ID`).
pub async fn show(
    State(state): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    Query(query): Query<LaunchQuery>,
) -> Result<Response, AppError> {
    let Some(from) = query.from.filter(|f| !f.is_empty()) else {
        let (config, starts) = starting_config(&state);
        let form = FormValues::from_config(&config, "");
        return page(&state, csrf, &form, &preview_of(&form, &state).await, None, false, starts);
    };
    let Ok(id) = from.parse::<i64>() else { return Ok(super::not_found().await) };
    let (name, config) = match store::runs::fetch(&state.db, id).await {
        Ok(run) => (run.name, store::runs::config(&state.db, id).await?),
        Err(sqlx::Error::RowNotFound) => return Ok(super::not_found().await),
        Err(e) => return Err(e.into()),
    };
    let sweep_name = format!("clone of run {id}");
    match serde_json::from_str::<RunConfig>(&config) {
        Ok(config) => {
            let form = FormValues::from_config(&config, &sweep_name);
            page(&state, csrf, &form, &preview_of(&form, &state).await, Some((id, name)), false, Vec::new())
        }
        // A config from an older version of advmix: say so rather than launch something else.
        Err(e) => {
            let form = FormValues::from_config(&RunConfig::default(), &sweep_name);
            let message = format!("run {id}'s stored config cannot be read by this version ({e}); the form shows the defaults");
            let errors = vec![FieldError { field: WHOLE_FORM.into(), message }];
            let preview = Preview { runs: None, varies: Vec::new(), errors, warnings: Vec::new() };
            page(&state, csrf, &form, &preview, Some((id, name)), false, Vec::new())
        }
    }
}

/// Creates the sweep and goes to it; a refused form comes back as typed, 422.
pub async fn submit(
    State(state): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let form = FormValues::from_pairs(pairs);
    match check(&form, &state).await {
        Ok((spec, runs)) => {
            let created = sweeps::submit(&state.db, &state.runner, &spec, &runs).await?;
            Ok(Redirect::to(&format!("/sweeps/{}", created.id)).into_response())
        }
        Err(preview) => {
            let mut response = page(&state, csrf, &form, &preview, None, true, Vec::new())?;
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
    }
}

/// The run count and errors for launch.js, as the form stands. It creates
/// nothing, so it needs no CSRF token.
pub async fn preview(State(state): State<AppState>, Form(pairs): Form<Vec<(String, String)>>) -> Json<Preview> {
    Json(preview_of(&FormValues::from_pairs(pairs), &state).await)
}
