//! Access token. Off on loopback unless a token is set; required (the server
//! refuses to start without one) on any other address. The API takes it as
//! `Authorization: Bearer TOKEN`; browsers log in once through `/login` and
//! carry an HttpOnly, SameSite=Strict cookie holding the token's hash.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::pages::render;
use crate::state::AppState;

pub const COOKIE: &str = "advmix_session";

#[derive(Clone, Default)]
pub struct Auth {
    token: Option<Arc<str>>,
}

impl Auth {
    pub fn new(token: Option<String>) -> Auth {
        Auth { token: token.filter(|t| !t.is_empty()).map(Into::into) }
    }

    pub fn enabled(&self) -> bool {
        self.token.is_some()
    }

    fn session(token: &str) -> String {
        hex::encode(Sha256::digest(format!("advmix-session:{token}")))
    }

    fn accepts(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.token else { return true };
        // The scheme name is case-insensitive (RFC 9110).
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, credentials)| credentials);
        if bearer.is_some_and(|b| same(b.trim(), token)) {
            return true;
        }
        let session = Self::session(token);
        cookie(headers, COOKIE).is_some_and(|value| same(value, &session))
    }
}

/// The value of the request's cookie `name`, if it sent one.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
}

/// Compares without stopping at the first difference, so response times do
/// not reveal how much of a guess was right.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn open_path(path: &str) -> bool {
    path == "/healthz" || path == "/login" || path.starts_with("/static/")
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

pub async fn require(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if open_path(path) || state.auth.accepts(request.headers()) {
        return next.run(request).await;
    }
    if path.starts_with("/api/") {
        let body = json!({ "error": "missing or wrong access token: send `Authorization: Bearer TOKEN`" });
        return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    }
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    Redirect::to(&format!("/login?next={}", urlencode(target))).into_response()
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

#[derive(Template)]
#[template(path = "login.html")]
struct Login {
    next: String,
    error: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only same-site paths: `next` must not send the user elsewhere. Browsers
/// drop tabs and newlines inside URLs (`/<TAB>/evil` is `//evil`), so no
/// control characters either.
fn safe_next(next: Option<String>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && !n.contains(char::is_control))
        .unwrap_or_else(|| "/".into())
}

pub async fn login_form(axum::extract::Query(q): axum::extract::Query<NextQuery>) -> Response {
    match render(&Login { next: safe_next(q.next), error: None }) {
        Ok(html) => html.into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
    next: Option<String>,
}

pub async fn login(State(state): State<AppState>, Form(form): Form<LoginForm>) -> Response {
    let next = safe_next(form.next);
    match &state.auth.token {
        Some(token) if same(form.token.trim(), token) => {
            let cookie = format!("{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/", Auth::session(token));
            ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
        }
        Some(_) => match render(&Login { next, error: Some("That is not the access token. Check ADVMIX_TOKEN on the server.") }) {
            Ok(html) => (StatusCode::UNAUTHORIZED, html).into_response(),
            Err(e) => e.into_response(),
        },
        None => Redirect::to(&next).into_response(),
    }
}
