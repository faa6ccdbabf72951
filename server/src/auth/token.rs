//! The access token and the session cookie that stands for it.

use std::sync::Arc;

use axum::http::{HeaderMap, header};
use sha2::{Digest, Sha256};

pub const COOKIE: &str = "advmix_session";

#[derive(Clone, Default)]
pub struct Auth {
    pub(super) token: Option<Arc<str>>,
}

impl Auth {
    pub fn new(token: Option<String>) -> Auth {
        Auth { token: token.filter(|t| !t.is_empty()).map(Into::into) }
    }

    pub fn enabled(&self) -> bool {
        self.token.is_some()
    }

    pub(super) fn session(token: &str) -> String {
        hex::encode(Sha256::digest(format!("advmix-session:{token}")))
    }

    pub(super) fn accepts(&self, headers: &HeaderMap) -> bool {
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

