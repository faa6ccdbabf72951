//! The sweep page's forms: pause, resume, stop all, cancel the queued runs,
//! the sweep's priority, and grow. Each calls the same core
//! as its API endpoint and redirects (303) back to the sweep page with a
//! notice; a refused grow comes back with its message at the field at fault.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::csrf::CsrfForm;
use crate::error::AppError;
use crate::pages::not_found;
use crate::service::evals;
use crate::service::sweeps::{self, grow::Grow};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct Plain {}

/// The grow form: which addition (`what`), and the fields it reads.
#[derive(Deserialize, Debug, Default)]
pub struct GrowForm {
    #[serde(default)]
    what: String,
    #[serde(default)]
    seeds: String,
    #[serde(default)]
    top: String,
    #[serde(default)]
    param: String,
    #[serde(default)]
    values: String,
    #[serde(default)]
    count: String,
}

/// Back to the sweep page with `notice`, at the grow form when `field` says
/// which of its fields is at fault.
fn back(id: i64, notice: &str, field: Option<&str>) -> Response {
    let mut pairs = vec![("notice", notice)];
    if let Some(field) = field {
        pairs.push(("kind", "error"));
        pairs.push(("field", field));
    }
    let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
    let anchor = match field {
        Some("priority" | "evaluate" | "eval_n" | "eval_top") => "#sweep-actions",
        Some(_) => "#sweep-grow",
        None => "",
    };
    Redirect::to(&format!("/sweeps/{id}?{query}{anchor}")).into_response()
}

async fn finish(id: i64, result: Result<Response, AppError>) -> Response {
    match result {
        Ok(done) => done,
        Err(AppError::NotFound) => not_found().await,
        Err(AppError::Conflict(reason)) => back(id, &reason, None),
        Err(AppError::Invalid(errors)) => {
            let field = errors.first().map(|e| form_field(&e.field)).unwrap_or("grow");
            let reason = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
            back(id, &reason, Some(field))
        }
        Err(other) => other.into_response(),
    }
}

/// The form field an API field's error belongs to.
fn form_field(api: &str) -> &'static str {
    let head = api.split(['.', ':']).next().unwrap_or_default();
    match head {
        "seeds" => "seeds",
        "top" => "top",
        "values" => "values",
        "count" => "count",
        _ => "grow",
    }
}

pub async fn pause(State(state): State<AppState>, Path(id): Path<i64>, CsrfForm(_): CsrfForm<Plain>) -> Response {
    let result = sweeps::pause(&state.db, &state.runner, id, true)
        .await
        .map(|()| back(id, "Paused: queued runs wait until you resume; running ones go on.", None));
    finish(id, result).await
}

pub async fn resume(State(state): State<AppState>, Path(id): Path<i64>, CsrfForm(_): CsrfForm<Plain>) -> Response {
    let result = sweeps::pause(&state.db, &state.runner, id, false)
        .await
        .map(|()| back(id, "Resumed: its queued runs start as slots free up.", None));
    finish(id, result).await
}

pub async fn stop(State(state): State<AppState>, Path(id): Path<i64>, CsrfForm(_): CsrfForm<Plain>) -> Response {
    let result = sweeps::halt(&state.db, &state.runner, id, sweeps::Halt::All).await.map(|done| {
        let notice = format!(
            "Stopping the sweep: {} runs save a checkpoint and stop, {} were taken out of the queue. The sweep is paused; resume it, or resume runs one by one.",
            done.stopping, done.cancelled
        );
        back(id, &notice, None)
    });
    finish(id, result).await
}

pub async fn cancel(State(state): State<AppState>, Path(id): Path<i64>, CsrfForm(_): CsrfForm<Plain>) -> Response {
    let result = sweeps::halt(&state.db, &state.runner, id, sweeps::Halt::Queued).await.map(|done| {
        let notice = format!("Took {} queued runs out of the queue; running ones go on. The sweep is paused until you resume it.", done.cancelled);
        back(id, &notice, None)
    });
    finish(id, result).await
}

#[derive(Deserialize)]
pub struct PriorityForm {
    #[serde(default)]
    priority: String,
}

pub async fn priority(State(state): State<AppState>, Path(id): Path<i64>, CsrfForm(form): CsrfForm<PriorityForm>) -> Response {
    let text = form.priority.trim();
    let Ok(priority) = text.parse::<i64>() else {
        return back(id, &format!("`{text}` is not a priority; give a whole number (higher starts first, 0 is the default)"), Some("priority"));
    };
    let result = sweeps::set_priority(&state.db, &state.runner, id, priority)
        .await
        .map(|n| back(id, &format!("Priority {priority}: {n} queued runs reordered, and the sweep's later runs get it too."), None));
    finish(id, result).await
}

#[derive(Deserialize)]
pub struct EvaluateForm {
    #[serde(default)]
    attack: String,
    #[serde(default)]
    n: String,
    #[serde(default)]
    top: String,
}

pub async fn evaluate(State(state): State<AppState>, Path(id): Path<i64>, CsrfForm(form): CsrfForm<EvaluateForm>) -> Response {
    let whole = |field: &'static str, text: &str| -> Result<Option<usize>, (&'static str, String)> {
        match text.trim() {
            "" => Ok(None),
            t => t.parse::<usize>().map(Some).map_err(|_| (field, format!("`{t}` is not a whole number"))),
        }
    };
    let (n, top) = match (whole("eval_n", &form.n), whole("eval_top", &form.top)) {
        (Ok(n), Ok(top)) => (n, top),
        (Err((field, message)), _) | (_, Err((field, message))) => return back(id, &message, Some(field)),
    };
    let request = evals::Request { suite: form.attack, n: n.map(|n| i64::try_from(n).unwrap_or(i64::MAX)), epsilon: None };
    let result = evals::sweep_best(&state.db, &state.runner, id, &request, top).await.map(|done| {
        let already = if done.already > 0 { format!("; {} already had it", done.already) } else { String::new() };
        back(id, &format!("Queued {} evaluations of best checkpoints{already}. The tables fill in as they finish.", done.queued.len()), None)
    });
    match result {
        // The form's own fields, rather than the grow form's.
        Err(AppError::Invalid(errors)) => {
            let field = match errors.first().map(|e| e.field.as_str()) {
                Some("n") => "eval_n",
                Some("top") => "eval_top",
                _ => "evaluate",
            };
            let reason = errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; ");
            back(id, &reason, Some(field))
        }
        Err(AppError::Conflict(reason)) => back(id, &reason, Some("evaluate")),
        other => finish(id, other).await,
    }
}

pub async fn grow(State(state): State<AppState>, Path(id): Path<i64>, CsrfForm(form): CsrfForm<GrowForm>) -> Response {
    let ask = match parse(&form) {
        Ok(ask) => ask,
        Err((field, message)) => return back(id, &message, Some(field)),
    };
    let result = sweeps::grow::grow(&state.db, &state.runner, state.max_sweep_runs, id, &ask).await.map(|grown| {
        let later = if grown.to_propose > 0 { format!(", {} more to be proposed as runs finish", grown.to_propose) } else { String::new() };
        back(id, &format!("Grown: {} ({} runs queued{later}).", grown.summary, grown.added), None)
    });
    match result {
        // A grow's refusal belongs at the grow form.
        Err(AppError::Conflict(reason)) => back(id, &reason, Some("grow")),
        other => finish(id, other).await,
    }
}

/// The form as the API's [`Grow`], or the field at fault and why.
fn parse(form: &GrowForm) -> Result<Grow, (&'static str, String)> {
    let list = |text: &str| text.split([',', ' ']).map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect::<Vec<_>>();
    match form.what.as_str() {
        "seeds" => {
            let seeds = list(&form.seeds)
                .iter()
                .map(|s| s.parse::<u64>().map_err(|_| ("seeds", format!("`{s}` is not a seed; give whole numbers such as 3, 4"))))
                .collect::<Result<Vec<_>, _>>()?;
            let top = match form.top.trim() {
                "" => None,
                t => Some(t.parse::<usize>().map_err(|_| ("top", format!("`{t}` is not a count; give a whole number, or leave it empty for all configs")))?),
            };
            Ok(Grow { seeds: Some(seeds), top, ..Grow::default() })
        }
        "values" => {
            let param = form.param.trim();
            if param.is_empty() {
                return Err(("values", "choose the parameter whose values to extend".to_owned()));
            }
            // Each value reads as JSON (numbers, true/false), else as a string (a method name).
            let values: Vec<Value> = list(&form.values)
                .into_iter()
                .map(|v| serde_json::from_str(&v).unwrap_or(Value::String(v)))
                .collect();
            let mut map = Map::new();
            map.insert(param.to_owned(), Value::Array(values));
            Ok(Grow { values: Some(map), ..Grow::default() })
        }
        "count" => {
            let t = form.count.trim();
            let count = t.parse::<usize>().map_err(|_| ("count", format!("`{t}` is not a count; give how many more configs to add")))?;
            Ok(Grow { count: Some(count), ..Grow::default() })
        }
        _ => Err(("grow", "choose what to add: seeds, values or configs".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(what: &str) -> GrowForm {
        GrowForm { what: what.into(), ..GrowForm::default() }
    }

    #[test]
    fn the_form_reads_as_the_apis_grow() {
        let f = GrowForm { seeds: "3, 4 5".into(), top: "2".into(), ..form("seeds") };
        let g = parse(&f).unwrap();
        assert_eq!((g.seeds, g.top), (Some(vec![3, 4, 5]), Some(2)));
        let f = GrowForm { param: "method".into(), values: "trades, 0.2, true".into(), ..form("values") };
        let g = parse(&f).unwrap();
        assert_eq!(g.values.unwrap()["method"], serde_json::json!(["trades", 0.2, true]));
        let g = parse(&GrowForm { count: "4".into(), ..form("count") }).unwrap();
        assert_eq!(g.count, Some(4));
    }

    #[test]
    fn bad_fields_are_named() {
        assert_eq!(parse(&GrowForm { seeds: "x".into(), ..form("seeds") }).unwrap_err().0, "seeds");
        assert_eq!(parse(&GrowForm { seeds: "1".into(), top: "-1".into(), ..form("seeds") }).unwrap_err().0, "top");
        assert_eq!(parse(&form("values")).unwrap_err().0, "values");
        assert_eq!(parse(&form("count")).unwrap_err().0, "count");
        assert_eq!(parse(&form("")).unwrap_err().0, "grow");
        assert_eq!(form_field("values.epsilon"), "values");
        assert_eq!(form_field("count: parameters.lr"), "count");
    }
}
