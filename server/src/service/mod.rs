//! The actions, shared by the API and the pages: stop, resume, re-run,
//! delete and annotate runs; submit sweeps; queue evaluations. Each checks
//! its input (the same words for both callers), changes the store, wakes
//! the runner or asks it to cancel, and announces the change.

pub mod evals;
pub mod results;
pub mod runs;
pub mod sweeps;
