//! A sweep's `early_terminate`: stopping runs that are behind at set epochs
//! (rungs), decided from the per-epoch metrics as they arrive.
//!
//! ```yaml
//! early_terminate: {type: asha, min_epochs: 1, eta: 3}      # rungs at 1, 3, 9, ...
//! early_terminate: {type: hyperband, min_iter: 3}           # W&B's keys, W&B's bands
//! ```

use serde::{Deserialize, Serialize};

use super::Goal;

/// One of the two schemes; both map onto the same rungs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EarlyTerminate {
    Asha(Asha),
    Hyperband(Hyperband),
}

/// Asynchronous successive halving in its stopping form (Li et al. 2020).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Asha {
    /// A per-epoch metric (`test_pgd_acc` when left out), or `best_` and
    /// one, for its best value so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<Goal>,
    /// The first rung.
    pub min_epochs: u32,
    /// The reduction factor; 3 when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<u32>,
    /// No rung at or past this epoch; the runs' own epochs when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_epochs: Option<u32>,
    /// How many runs must have reached a rung before it stops any; `eta`
    /// when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_runs: Option<usize>,
}

/// W&B's `hyperband` early termination, with W&B's keys and meaning.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Hyperband {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_iter: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iter: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    /// advmix's additions, as for `asha`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<Goal>,
}
