//! The login page (the token in, a session cookie out) and logout.

use std::net::SocketAddr;

use askama::Template;
use axum::{Extension, Form};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::limit;
use super::middleware::too_many;
use super::token::{Auth, COOKIE, cookie};
use crate::render::render;

#[derive(Template)]
#[template(path = "login.html")]
struct Login {
    next: String,
    error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "logout.html")]
struct Logout {
    enabled: bool,
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

fn page(status: StatusCode, template: &impl Template) -> Response {
    match render(template) {
        Ok(html) => (status, html).into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn form(axum::extract::Query(q): axum::extract::Query<NextQuery>) -> Response {
    page(StatusCode::OK, &Login { next: safe_next(q.next), error: None })
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
    next: Option<String>,
}

pub async fn submit(
    State(auth): State<Auth>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next);
    if !auth.enabled() {
        return Redirect::to(&next).into_response();
    }
    let address = limit::address(peer.map(|p| p.0.0));
    if let Some(wait) = auth.blocked(address) {
        return too_many(wait);
    }
    if auth.is_token(&form.token) {
        let id = auth.sessions.start();
        return ([(header::SET_COOKIE, auth.session_cookie(Some(&id), &headers))], Redirect::to(&next)).into_response();
    }
    auth.failed(address);
    page(StatusCode::UNAUTHORIZED, &Login { next, error: Some("That is not the access token. Check ADVMIX_TOKEN on the server.") })
}

/// A page with the logout button: logging out changes state, so it is a
/// POST, and a link can only lead here.
pub async fn logout_form(State(auth): State<Auth>) -> Response {
    page(StatusCode::OK, &Logout { enabled: auth.enabled() })
}

/// Ends the browser's session here and in its cookie jar.
pub async fn logout(State(auth): State<Auth>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, COOKIE) {
        auth.sessions.end(id);
    }
    let target = if auth.enabled() { "/login" } else { "/" };
    ([(header::SET_COOKIE, auth.session_cookie(None, &headers))], Redirect::to(target)).into_response()
}
