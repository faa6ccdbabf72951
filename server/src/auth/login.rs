//! The login page: the token in, the session cookie out.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::token::{Auth, COOKIE, same};
use crate::render::render;

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

pub async fn form(axum::extract::Query(q): axum::extract::Query<NextQuery>) -> Response {
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

pub async fn submit(State(auth): State<Auth>, Form(form): Form<LoginForm>) -> Response {
    let next = safe_next(form.next);
    match &auth.token {
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
