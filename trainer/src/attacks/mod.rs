//! Adversarial attacks under an L∞ threat model, on images in [0,1].

mod pgd;

pub use pgd::{Pgd, project, random_delta};
