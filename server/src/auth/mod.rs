//! Access token. Off on loopback unless a token is set; required (the server
//! refuses to start without one) on any other address. The API takes it as
//! `Authorization: Bearer TOKEN`; browsers log in once through `/login` and
//! carry an HttpOnly, SameSite=Strict cookie holding the token's hash.

//!
//! `token` is the token type and its session cookie, `middleware` the checks
//! every request passes, `login` the login page, `hosts` the Host check
//! against DNS rebinding.

pub mod hosts;
pub mod login;
pub mod middleware;
pub mod token;

pub use token::Auth;
