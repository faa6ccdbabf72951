//! Adversarial attacks under an L∞ threat model, on images in [0,1].

pub mod apgd;
pub mod autoattack;
pub mod fab;
mod pgd;
pub mod square;
pub mod verify;

pub use pgd::{Pgd, project, random_delta};
