//! The access token, and what a request shows for it: the token itself as
//! a bearer header, or the cookie of a session that logging in started.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, header};

use super::limit::Failures;
use super::session::{Session, Sessions};

pub const COOKIE: &str = "advmix_session";

/// A token shorter than this is guessable whatever the rate limit.
pub const MIN_TOKEN_CHARS: usize = 16;

/// Refuses a token that is too short to be secret.
pub fn check_token(token: &str) -> Result<(), String> {
    let chars = token.chars().filter(|c| !c.is_whitespace()).count();
    if chars < MIN_TOKEN_CHARS {
        return Err(format!(
            "the access token has {chars} characters besides spaces; use at least {MIN_TOKEN_CHARS}, \
             e.g. from `openssl rand -hex 16`"
        ));
    }
    Ok(())
}

#[derive(Clone)]
pub struct Auth {
    pub(super) token: Option<Arc<str>>,
    pub(super) sessions: Arc<Sessions>,
    pub(super) failures: Arc<Failures>,
    /// Cookies only over HTTPS, even when the request does not say it came
    /// through TLS.
    secure: bool,
}

impl Default for Auth {
    fn default() -> Auth {
        Auth::new(None)
    }
}

/// What a request showed for the token.
pub enum Access {
    /// No token is required.
    Open,
    /// The token itself, as a bearer header.
    Bearer,
    /// A session's cookie.
    Session(Arc<Session>),
    /// Nothing valid; `guessed` when it sent a bearer token that was wrong.
    Refused { guessed: bool },
}

impl Auth {
    pub fn new(token: Option<String>) -> Auth {
        Auth {
            token: token.filter(|t| !t.trim().is_empty()).map(Into::into),
            sessions: Arc::new(Sessions::new(Duration::from_secs(7 * 24 * 3600))),
            failures: Arc::default(),
            secure: false,
        }
    }

    /// How long a login lasts.
    pub fn session_ttl(mut self, ttl: Duration) -> Auth {
        self.sessions = Arc::new(Sessions::new(ttl));
        self
    }

    pub fn secure_cookies(mut self, secure: bool) -> Auth {
        self.secure = secure;
        self
    }

    pub fn enabled(&self) -> bool {
        self.token.is_some()
    }

    pub(super) fn is_token(&self, candidate: &str) -> bool {
        self.token.as_deref().is_some_and(|token| same(candidate.trim(), token))
    }

    pub(super) fn check(&self, headers: &HeaderMap) -> Access {
        if self.token.is_none() {
            return Access::Open;
        }
        // The scheme name is case-insensitive (RFC 9110).
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, credentials)| credentials);
        if bearer.is_some_and(|b| self.is_token(b)) {
            return Access::Bearer;
        }
        if let Some(session) = cookie(headers, COOKIE).and_then(|id| self.sessions.get(id)) {
            return Access::Session(session);
        }
        Access::Refused { guessed: headers.contains_key(header::AUTHORIZATION) }
    }

    pub(super) fn blocked(&self, address: IpAddr) -> Option<Duration> {
        self.failures.blocked(address)
    }

    pub(super) fn failed(&self, address: IpAddr) {
        tracing::warn!(%address, "wrong access token");
        self.failures.fail(address);
    }

    /// The cookie that carries session `id` (or, with `None`, ends it).
    pub(super) fn session_cookie(&self, id: Option<&str>, headers: &HeaderMap) -> String {
        let secure = if self.secure || behind_tls(headers) { "; Secure" } else { "" };
        match id {
            Some(id) => format!(
                "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
                self.sessions.ttl().as_secs()
            ),
            None => format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}"),
        }
    }
}

/// Whether a TLS-terminating proxy says the browser came over HTTPS.
pub fn behind_tls(headers: &HeaderMap) -> bool {
    let forwarded_proto = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok());
    let forwarded = headers.get(header::FORWARDED).and_then(|v| v.to_str().ok());
    forwarded_proto.is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
        || forwarded.is_some_and(|f| f.split([';', ',']).any(|part| part.trim().eq_ignore_ascii_case("proto=https")))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_or_blank_tokens_are_refused() {
        assert!(check_token("                    ").is_err());
        assert!(check_token("s3cret").is_err());
        assert!(check_token("a b c d e f g h i j k l m n o").is_err(), "15 characters besides spaces");
        assert!(check_token("0123456789abcdef").is_ok());
    }

    #[test]
    fn tls_is_recognized_from_the_proxy_headers() {
        let mut headers = HeaderMap::new();
        assert!(!behind_tls(&headers));
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        assert!(behind_tls(&headers));
        let mut headers = HeaderMap::new();
        headers.insert(header::FORWARDED, "for=192.0.2.60;proto=https;by=203.0.113.43".parse().unwrap());
        assert!(behind_tls(&headers));
    }
}
