//! CSRF tokens for the pages' forms. A logged-in browser's token is its
//! session's, kept by the server: a cookie planted by a sibling subdomain
//! changes nothing. Without a token to log in with (loopback), it is a
//! per-browser double-submit cookie.
//!
//! `same_origin` already refuses posts that browsers mark as cross-site; the
//! token also covers browsers and proxies that send neither `Sec-Fetch-Site`
//! nor `Origin`. Every page response makes sure the browser holds a random
//! token in an HttpOnly, SameSite=Strict cookie; forms carry the same value
//! in a hidden `csrf` field, and [`CsrfForm`] accepts a post only when the two
//! match. A site that cannot read the cookie cannot forge the field.

use askama::Template;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::auth::middleware::SessionCsrf;
use crate::auth::session::random_hex;
use crate::auth::token::{cookie, same};
use crate::render::render;

pub const COOKIE: &str = "advmix_csrf";
/// The hidden form field that must repeat the cookie.
pub const FIELD: &str = "csrf";

/// This browser's token, for templates: `<input type="hidden" name="csrf" value="{{ csrf }}">`.
/// Handlers take it as `Extension<CsrfToken>`; the [`ensure`] middleware puts it there.
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

impl std::fmt::Display for CsrfToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn valid(token: &str) -> bool {
    token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The token a session holds, when the request came with one.
fn of_session(request: &Request) -> Option<String> {
    request.extensions().get::<SessionCsrf>().map(|s| s.0.clone())
}

/// Gives every request a [`CsrfToken`] extension: its session's, or the
/// browser's cookie, issuing a new cookie when the browser has none.
pub async fn ensure(mut request: Request, next: Next) -> Response {
    if let Some(token) = of_session(&request) {
        request.extensions_mut().insert(CsrfToken(token));
        return next.run(request).await;
    }
    let existing = cookie(request.headers(), COOKIE).filter(|t| valid(t)).map(str::to_owned);
    let issued = existing.is_none();
    let token = existing.unwrap_or_else(|| random_hex(16));
    request.extensions_mut().insert(CsrfToken(token.clone()));
    let mut response = next.run(request).await;
    if issued {
        let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/");
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

#[derive(Template)]
#[template(path = "csrf_refused.html")]
struct Refused;

/// A urlencoded form whose `csrf` field matches the browser's cookie. `T`
/// sees the whole form, `csrf` included, so it must not deny unknown fields;
/// `Vec<(String, String)>` gets the raw pairs in order (repeated names kept).
pub struct CsrfForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let expected = of_session(&req).or_else(|| cookie(req.headers(), COOKIE).map(str::to_owned));
        let body = axum::body::Bytes::from_request(req, state).await.map_err(IntoResponse::into_response)?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
            .map_err(|e| (StatusCode::BAD_REQUEST, format!("the form could not be read: {e}")).into_response())?;
        let sent = pairs.iter().find(|(k, _)| k == FIELD).map(|(_, v)| v.as_str());
        let matches = matches!((expected.as_deref(), sent), (Some(e), Some(s)) if same(e, s));
        if !matches {
            let page = render(&Refused).map_err(IntoResponse::into_response)?;
            return Err((StatusCode::FORBIDDEN, page).into_response());
        }
        let value = serde_urlencoded::from_bytes(&body)
            .map_err(|e| (StatusCode::BAD_REQUEST, format!("the form could not be read: {e}")).into_response())?;
        Ok(CsrfForm(value))
    }
}
