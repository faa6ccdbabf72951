//! Access token. Off on loopback unless a token is set; required (the server
//! refuses to start without one of 16 characters or more) on any other
//! address. The API takes it as `Authorization: Bearer TOKEN`; browsers log
//! in once through `/login` and carry an HttpOnly, SameSite=Strict cookie
//! naming a random session kept here, which expires and ends at `/logout`.
//!
//! `token` is the token and what a request shows for it, `session` the
//! sessions, `limit` the wrong tokens counted per address, `middleware` the
//! checks every request passes, `login` the login and logout pages, `hosts`
//! the Host check against DNS rebinding.

pub mod hosts;
pub mod limit;
pub mod login;
pub mod middleware;
pub mod session;
pub mod token;

pub use token::Auth;
