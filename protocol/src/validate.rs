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
