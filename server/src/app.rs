use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};
use tower_http::trace::TraceLayer;

use crate::api::{archive, evals, events, files, health, metrics, runs, samples, series, sweeps, tables};
use crate::state::AppState;
use crate::{auth, csrf, pages, static_files};

pub use crate::api::MAX_BODY_BYTES;

pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/sweeps", get(sweeps::list).post(sweeps::create))
        .route("/sweeps/preview", post(sweeps::preview))
        .route("/sweeps/{id}", get(sweeps::get).patch(sweeps::patch))
        .route("/sweeps/{id}/table", get(tables::sweep))
        .route("/sweeps/{id}/grow", post(sweeps::grow))
        .route("/sweeps/{id}/pause", post(sweeps::pause))
        .route("/sweeps/{id}/resume", post(sweeps::resume))
        .route("/sweeps/{id}/stop", post(sweeps::stop))
        .route("/sweeps/{id}/cancel", post(sweeps::cancel))
        .route("/sweeps/{id}/evaluate", post(evals::sweep))
        .route("/sweeps/{id}/replay", post(sweeps::replay))
        .route("/table", get(tables::runs))
        .route("/runs", get(runs::list).post(runs::create))
        .route("/runs/{id}", get(runs::get).patch(runs::patch).delete(runs::delete))
        .route("/runs/{id}/stop", post(runs::stop))
        .route("/runs/{id}/resume", post(runs::resume))
        .route("/runs/{id}/rerun", post(runs::rerun))
        .route("/runs/{id}/metrics", get(metrics::json))
        .route("/runs/{id}/metrics.csv", get(metrics::csv))
        .route("/runs/{id}/checkpoints", get(files::list))
        .route("/runs/{id}/log", get(files::log))
        .route("/runs/{id}/samples", get(samples::list))
        .route("/runs/{id}/samples/{sample}", get(samples::image))
        .route("/runs/{id}/archive", get(archive::download))
        .route("/runs/{id}/events", get(events::run))
        .route("/checkpoints/{id}/download", get(files::download))
        .route("/checkpoints/{id}/evaluate", post(evals::create))
        .route("/runs/{id}/evals", get(evals::for_run))
        .route("/evals/{id}", get(evals::get))
        .route("/series", get(series::get))
        .route("/events", get(events::all))
        .fallback(crate::api::not_found);
    // Pages: one route block per page module, each with its form actions.
    let pages = Router::new()
        .route("/", get(pages::home::show))
        .route("/runs.csv", get(pages::home::csv))
        .route("/launch", get(pages::launch::show).post(pages::launch::submit))
        .route("/launch/preview", post(pages::launch::preview))
        .route("/compare", get(pages::compare::show))
        .route("/compare.csv", get(pages::compare::csv))
        .route("/sweeps/{id}", get(pages::sweep::show))
        .route("/sweeps/{id}/runs.csv", get(pages::sweep::csv))
        .route("/sweeps/{id}/pause", post(pages::sweep::actions::pause))
        .route("/sweeps/{id}/resume", post(pages::sweep::actions::resume))
        .route("/sweeps/{id}/grow", post(pages::sweep::actions::grow))
        .route("/sweeps/{id}/stop", post(pages::sweep::actions::stop))
        .route("/sweeps/{id}/cancel", post(pages::sweep::actions::cancel))
        .route("/sweeps/{id}/priority", post(pages::sweep::actions::priority))
        .route("/sweeps/{id}/evaluate", post(pages::sweep::actions::evaluate))
        .route("/runs/{id}", get(pages::run::show))
        .route("/runs/{id}/log.txt", get(pages::run::log_text))
        .route("/runs/{id}/job.sbatch", get(pages::run::job_script))
        .route("/runs/{id}/stop", post(pages::run::actions::stop))
        .route("/runs/{id}/resume", post(pages::run::actions::resume))
        .route("/runs/{id}/rerun", post(pages::run::actions::rerun))
        .route("/runs/{id}/delete", post(pages::run::actions::delete))
        .route("/runs/{id}/annotate", post(pages::run::actions::annotate))
        .route("/checkpoints/{id}/evaluate", post(pages::run::actions::evaluate))
        .layer(middleware::from_fn(csrf::ensure));
    Router::new()
        .merge(pages)
        // Outside the CSRF layer: the login form sets only the session cookie.
        .route("/login", get(auth::login::form).post(auth::login::submit))
        .route("/logout", get(auth::login::logout_form).post(auth::login::logout))
        .route("/healthz", get(health::check))
        .route("/static/{file}", get(static_files::serve))
        .nest("/api/v1", api)
        .fallback(pages::not_found)
        .layer(middleware::from_fn_with_state(state.auth.clone(), auth::middleware::require))
        .layer(middleware::from_fn_with_state(state.paths.clone(), crate::error::name_data_dir))
        .layer(middleware::from_fn(auth::middleware::same_origin))
        .layer(middleware::from_fn_with_state(state.hosts.clone(), auth::hosts::check))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
