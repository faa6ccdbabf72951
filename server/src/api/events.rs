//! Live events as server-sent events: one stream per run, and one for all
//! runs. Streams end when the server shuts down, so a graceful stop is not
//! held open by browsers; EventSource clients reconnect by themselves.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use tokio_stream::wrappers::BroadcastStream;

use super::runs;
use crate::error::AppError;
use crate::ingest::RunEvent;
use crate::scheduler::until_shutdown;
use crate::state::AppState;

fn stream(state: &AppState, run: Option<i64>) -> impl Stream<Item = Result<Event, Infallible>> + use<> {
    let mut shutdown = state.shutdown.clone();
    let ended = async move { until_shutdown(&mut shutdown).await };
    BroadcastStream::new(state.events.subscribe())
        .filter_map(move |item| {
            // A lagging subscriber skips what it missed; pages reload metrics.
            let event = item.ok().filter(|e: &RunEvent| run.is_none_or(|id| id == e.run_id)).map(|e| {
                let data = serde_json::json!({ "run_id": e.run_id, "event": e.line });
                Ok(Event::default().event("run").data(data.to_string()))
            });
            std::future::ready(event)
        })
        .take_until(Box::pin(ended))
}

pub async fn run(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    runs::fetch(&state.db, id).await?;
    Ok(Sse::new(stream(&state, Some(id))).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

pub async fn all(State(state): State<AppState>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    Sse::new(stream(&state, None)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
