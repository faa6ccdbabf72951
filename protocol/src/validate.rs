//! Field-level validation errors, shared by the trainer (exit code 2), the API
//! (a 4xx naming the field) and the launch form (a message at the field).

use std::fmt;

use serde::{Deserialize, Serialize};

/// One problem with one field: `field` is the dotted config path
/// (`aom.lambda_min`), `message` says what is wrong and what to do.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A run's or sweep's name: 1 to 200 characters, none of them control
/// characters (a NUL or newline breaks logs, file names and terminals).
pub fn name_problem(name: &str) -> Option<&'static str> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Some("give it a name of 1 to 200 characters");
    }
    if name.contains(char::is_control) {
        return Some("has a control character (NUL, newline, tab…); use printable characters only");
    }
    None
}

/// Collects every error instead of stopping at the first.
#[derive(Default)]
pub(crate) struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError { field: field.to_owned(), message: message.into() });
    }

    pub fn at_least(&mut self, field: &str, value: u32, min: u32) {
        if value < min {
            self.error(field, format!("is {value}; it must be at least {min}"));
        }
    }

    pub fn positive(&mut self, field: &str, value: f64) {
        if !(value.is_finite() && value > 0.0) {
            self.error(field, format!("is {value}; it must be a number above 0"));
        }
    }

    pub fn non_negative(&mut self, field: &str, value: f64) {
        if !(value.is_finite() && value >= 0.0) {
            self.error(field, format!("is {value}; it must be a number ≥ 0"));
        }
    }

    pub fn in_range(&mut self, field: &str, value: f64, min: f64, max: f64) {
        if !(value.is_finite() && (min..=max).contains(&value)) {
            self.error(field, format!("is {value}; it must lie in [{min}, {max}]"));
        }
    }

    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.errors.is_empty() { Ok(()) } else { Err(self.errors) }
    }
}

#[cfg(test)]
mod name_tests {
    use super::name_problem;

    #[test]
    fn names_are_printable_and_bounded() {
        assert!(name_problem("aom eps=0.1 (seed 3)").is_none());
        for bad in ["", "   ", "a\0b", "two\nlines", "tab\there", &"x".repeat(201)] {
            assert!(name_problem(bad).is_some(), "{bad:?}");
        }
    }
}
