//! JSON endpoints.

pub mod health;
