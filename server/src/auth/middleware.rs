//! The access checks every request passes: same-origin for state-changing
//! requests, then the token (or its session cookie).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use std::net::SocketAddr;

use axum::extract::ConnectInfo;

use super::limit;
use super::token::{Access, Auth};

fn open_path(path: &str) -> bool {
    path == "/healthz" || path == "/login" || path == "/logout" || path.starts_with("/static/")
}

/// Refuses state-changing requests that a browser sent from another site:
/// without this, any web page could POST to a server on 127.0.0.1 (stop
/// runs, queue sweeps), token or not. Browsers mark such requests with
/// `Sec-Fetch-Site` and `Origin`; the CLI and curl send neither.
pub async fn same_origin(request: Request, next: Next) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if safe || !cross_site(request.headers()) {
        return next.run(request).await;
    }
    let body = json!({ "error": "cross-site request refused: use the advmix pages or the API directly" });
    (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
}

fn cross_site(headers: &HeaderMap) -> bool {
    let header = |name| headers.get(name).and_then(|v: &axum::http::HeaderValue| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    match (header("origin"), header("host")) {
        (Some(origin), Some(host)) => origin.split_once("://").map(|(_, authority)| authority) != Some(host),
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// The session a page request came with: its forms carry the session's
/// CSRF token (see `csrf`).
#[derive(Clone)]
pub struct SessionCsrf(pub String);

pub async fn require(State(auth): State<Auth>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if open_path(path) {
        return next.run(request).await;
    }
    let address = limit::address(request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0));
    let guessing = request.headers().contains_key(axum::http::header::AUTHORIZATION);
    if auth.enabled()
        && guessing
        && let Some(wait) = auth.blocked(address)
    {
        return too_many(wait);
    }
    match auth.check(request.headers()) {
        Access::Open | Access::Bearer => return next.run(request).await,
        Access::Session(session) => {
            request.extensions_mut().insert(SessionCsrf(session.csrf.clone()));
            return next.run(request).await;
        }
        Access::Refused { guessed } => {
            if guessed {
                auth.failed(address);
            }
        }
    }
    if path.starts_with("/api/") {
        let body = json!({ "error": "missing or wrong access token: send `Authorization: Bearer TOKEN`" });
        return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    }
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    Redirect::to(&format!("/login?next={}", urlencode(target))).into_response()
}

/// 429 for an address that sent too many wrong tokens.
pub fn too_many(wait: std::time::Duration) -> Response {
    let seconds = wait.as_secs() + 1;
    let body = json!({
        "error": format!("too many wrong access tokens from your address: wait {seconds} s, then try again with the right one")
    });
    (StatusCode::TOO_MANY_REQUESTS, [(axum::http::header::RETRY_AFTER, seconds.to_string())], axum::Json(body)).into_response()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (axum::http::HeaderName::from_static(k), v.parse().unwrap())).collect()
    }

    #[test]
    fn cross_site_requests_are_recognized() {
        assert!(!cross_site(&headers(&[])), "curl and the CLI send no Origin");
        assert!(!cross_site(&headers(&[("origin", "http://127.0.0.1:8080"), ("host", "127.0.0.1:8080")])));
        assert!(cross_site(&headers(&[("origin", "https://evil.example"), ("host", "127.0.0.1:8080")])));
        assert!(cross_site(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(cross_site(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(!cross_site(&headers(&[("sec-fetch-site", "same-origin"), ("origin", "https://x")])));
    }
}

