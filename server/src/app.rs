use axum::Router;
use axum::routing::get;
use tower_http::trace::TraceLayer;

use crate::state::AppState;
use crate::{api, pages, static_files};

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(pages::home::show))
        .route("/healthz", get(api::health::check))
        .route("/static/{file}", get(static_files::serve))
        .fallback(pages::not_found)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
