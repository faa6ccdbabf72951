//! Published results (`server/data/published.json`), shown beside a table's
//! runs where they are comparable: the same dataset, the same threat model
//! and the same model family. They are reference rows, never statistics.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
pub struct Published {
    pub paper: String,
    /// Where the figures were read: a leaderboard entry or a repository's log.
    pub source: String,
    pub dataset: String,
    pub norm: String,
    /// ε in 1/255 pixel units, as the papers state it.
    pub epsilon_255: f64,
    pub model: String,
    /// The advmix model it is comparable with (`preact_resnet18`, `wide_resnet`).
    pub family: String,
    pub method: String,
    /// Percentages, as published.
    pub clean: f64,
    #[serde(default)]
    pub robust_best: Option<f64>,
    #[serde(default)]
    pub robust_final: Option<f64>,
    #[serde(default)]
    pub autoattack: Option<f64>,
    /// The attack behind the robust figures (`PGD-10`, `AutoAttack`).
    pub attack: String,
}

#[derive(Deserialize)]
struct File {
    rows: Vec<Published>,
}

static ROWS: LazyLock<Vec<Published>> = LazyLock::new(|| {
    let file: File = serde_json::from_str(include_str!("../../../data/published.json"))
        .expect("server/data/published.json parses (a unit test holds it)");
    file.rows
});

pub fn all() -> &'static [Published] {
    &ROWS
}

impl Published {
    pub fn epsilon(&self) -> f64 {
        self.epsilon_255 / 255.0
    }

    /// Whether runs on `dataset` with this `model` at L∞ `epsilon` may be
    /// compared with this row. advmix trains for L∞ only.
    pub fn comparable(&self, dataset: &str, model: &str, epsilon: f64) -> bool {
        self.norm == "Linf" && self.dataset == dataset && self.family == model && (self.epsilon() - epsilon).abs() < 1e-6
    }

    /// How a table or a chart legend names it.
    pub fn label(&self) -> String {
        format!("{}, {} ({}; {})", self.paper, self.model, self.method, self.source)
    }
}

/// The rows comparable with runs on `dataset` at `epsilon` using any of `models`.
pub fn matching<'a>(dataset: &str, epsilon: f64, models: &[&str]) -> Vec<&'static Published> {
    all().iter().filter(|p| models.iter().any(|m| p.comparable(dataset, m, epsilon))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_rows_parse_and_each_names_its_source() {
        assert_eq!(all().len(), 8);
        for row in all() {
            assert!(!row.source.is_empty() && !row.paper.is_empty(), "{row:?}");
            assert!(row.robust_best.is_some() || row.autoattack.is_some(), "{row:?} has a robust figure");
            assert!(["preact_resnet18", "wide_resnet"].contains(&row.family.as_str()), "{row:?}");
        }
    }

    #[test]
    fn only_the_same_dataset_threat_model_and_family_match() {
        let eps = 8.0 / 255.0;
        let c10 = matching("cifar10", eps, &["preact_resnet18"]);
        assert_eq!(c10.len(), 3, "two PGD-10 rows and Wong2020Fast");
        assert!(c10.iter().all(|p| p.dataset == "cifar10" && p.family == "preact_resnet18"));
        assert_eq!(matching("cifar100", eps, &["preact_resnet18"]).len(), 2);
        assert_eq!(matching("cifar10", eps, &["wide_resnet", "preact_resnet18"]).len(), 6);
        assert!(matching("cifar10", 4.0 / 255.0, &["preact_resnet18"]).is_empty(), "another ε is another threat model");
        assert!(matching("digits", eps, &["preact_resnet18"]).is_empty());
        assert!(matching("cifar10", eps, &["small_cnn"]).is_empty());
    }
}
