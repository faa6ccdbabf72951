//! Live events as server-sent events: one stream per run, and one for all
//! runs. `run` carries an ingested event, `status` a run's new status (the
//! run as `GET /runs/{id}` shows it), `eval_status` an evaluation job's row.
//! Streams end when the server shuts down, so a graceful stop is not held
//! open by browsers; EventSource clients reconnect by themselves, and the
//! pages catch up by reading the run again when they do.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use serde_json::json;
use tokio_stream::wrappers::BroadcastStream;

use crate::error::AppError;
use crate::runner::bus::BusEvent;
use crate::runner::context::until_shutdown;
use crate::state::AppState;
use crate::store;

fn sse_event(event: &BusEvent) -> Event {
    let (name, data) = match event {
        BusEvent::Event(e) => ("run", json!({ "run_id": e.run_id, "event": e.line })),
        BusEvent::Status(change) => ("status", json!({ "run_id": change.run.id, "run": change })),
        BusEvent::EvalStatus(row) => ("eval_status", json!({ "run_id": row.run_id, "eval": row })),
    };
    Event::default().event(name).data(data.to_string())
}

fn stream(state: &AppState, run: Option<i64>) -> impl Stream<Item = Result<Event, Infallible>> + use<> {
    let mut shutdown = state.shutdown.clone();
    let ended = async move { until_shutdown(&mut shutdown).await };
    BroadcastStream::new(state.bus.subscribe())
        .filter_map(move |item| {
            // A lagging subscriber skips what it missed; pages reload metrics.
            let event = item.ok().filter(|e| run.is_none_or(|id| id == e.run_id())).map(|e| Ok(sse_event(&e)));
            std::future::ready(event)
        })
        .take_until(Box::pin(ended))
}

pub async fn run(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    store::runs::fetch(&state.db, id).await?;
    Ok(Sse::new(stream(&state, Some(id))).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

pub async fn all(State(state): State<AppState>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    Sse::new(stream(&state, None)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
