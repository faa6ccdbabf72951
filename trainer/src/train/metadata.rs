//! What a model checkpoint says about itself, under the safetensors metadata
//! key `advmix` (a JSON string, as safetensors metadata values are strings).
//!
//! A collaborator who loads `best.safetensors` into PyTorch must not have to
//! ask which normalization, input range or threat model it was trained for:
//! feeding [0,1] images to a network that expects normalized ones gives a
//! silently wrong model. `python/advmix_torch.py` reads these fields; files
//! written before `format_version` 2 carry only the run's config, and readers
//! fall back on the dataset's known constants.

use std::collections::HashMap;

use advmix_protocol::events::CheckpointKind;
use advmix_protocol::{Dataset, Method, Model, RunConfig};
use serde::{Deserialize, Serialize};

pub const METADATA_KEY: &str = "advmix";
pub const FORMAT_VERSION: u32 = 2;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ModelMetadata {
    /// Absent in files written before the fields below existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_version: Option<u32>,
    /// Completed epochs behind these weights.
    pub epoch: u32,
    pub kind: CheckpointKind,
    pub model: Model,
    pub dataset: Dataset,
    pub method: Method,
    pub advmix_version: String,
    /// Everything `advmix-trainer eval` needs to rebuild the model.
    pub config: RunConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Input>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_classes: Option<i64>,
    /// Null for a dataset whose classes have no names.
    #[serde(default)]
    pub class_names: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threat_model: Option<ThreatModel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub splits: Option<Splits>,
    /// The evaluations of exactly these weights known when the file was
    /// written: the epoch's PGD evaluation, none for mid-epoch weights.
    #[serde(default)]
    pub evaluations: Vec<Evaluation>,
}

/// What the model's `forward` takes: images in `range`, NCHW, normalized by
/// `(x - mean) / std` inside the model, as RobustBench models are.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Input {
    /// Channels, height, width.
    pub shape: [i64; 3],
    pub range: [f64; 2],
    pub mean: [f64; 3],
    pub std: [f64; 3],
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ThreatModel {
    /// `Linf`, as RobustBench names it: the only norm advmix trains for.
    pub norm: String,
    /// In [0,1] pixel units.
    pub epsilon: f64,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Splits {
    pub train: usize,
    pub test: usize,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub attack: String,
    pub steps: u32,
    pub step_size: f64,
    pub restarts: u32,
    pub epsilon: f64,
    /// Test points evaluated: the run's seeded subset.
    pub n: usize,
    pub epoch: u32,
    pub clean_acc: f64,
    pub robust_acc: f64,
}

/// The parts of the metadata that hold for every checkpoint of a run.
#[derive(Clone, Debug)]
pub struct Describe {
    pub input: Input,
    pub num_classes: i64,
    pub splits: Splits,
}

impl ModelMetadata {
    pub fn new(
        config: &RunConfig,
        describe: &Describe,
        epoch: u32,
        kind: CheckpointKind,
        evaluations: Vec<Evaluation>,
    ) -> ModelMetadata {
        ModelMetadata {
            format_version: Some(FORMAT_VERSION),
            epoch,
            kind,
            model: config.model,
            dataset: config.dataset,
            method: config.method,
            advmix_version: advmix_protocol::ADVMIX_VERSION.to_owned(),
            config: config.clone(),
            input: Some(describe.input.clone()),
            num_classes: Some(describe.num_classes),
            class_names: config.dataset.class_names().map(|names| names.iter().map(|&n| n.to_owned()).collect()),
            threat_model: Some(ThreatModel { norm: "Linf".to_owned(), epsilon: config.epsilon }),
            splits: Some(describe.splits),
            evaluations,
        }
    }

    /// The safetensors metadata map: PyTorch's `format` marker beside ours.
    pub fn to_map(&self) -> HashMap<String, String> {
        HashMap::from([
            ("format".to_owned(), "pt".to_owned()),
            (METADATA_KEY.to_owned(), serde_json::to_string(self).expect("the metadata serializes")),
        ])
    }

    /// `Err` says what is wrong, for a message that names the file.
    pub fn from_map(map: &HashMap<String, String>) -> Result<ModelMetadata, String> {
        let Some(text) = map.get(METADATA_KEY) else {
            return Err(if map.contains_key("advmix.resume") {
                "it is a resume file; use best.safetensors or last.safetensors instead".to_owned()
            } else {
                "it has no advmix metadata: use a checkpoint written by advmix-trainer".to_owned()
            });
        };
        serde_json::from_str(text)
            .map_err(|e| format!("its advmix metadata cannot be read ({e}); it was written by another advmix version"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe() -> Describe {
        Describe {
            input: Input { shape: [3, 32, 32], range: [0.0, 1.0], mean: [0.3051; 3], std: [0.3762; 3] },
            num_classes: 10,
            splits: Splits { train: 1_437, test: 360 },
        }
    }

    #[test]
    fn metadata_round_trips_through_the_string_map() {
        let config = RunConfig { dataset: Dataset::Digits, ..RunConfig::default() };
        let evaluation = Evaluation {
            attack: "pgd".into(),
            steps: 10,
            step_size: 2.0 / 255.0,
            restarts: 1,
            epsilon: config.epsilon,
            n: 360,
            epoch: 3,
            clean_acc: 0.9,
            robust_acc: 0.5,
        };
        let written = ModelMetadata::new(&config, &describe(), 3, CheckpointKind::Best, vec![evaluation]);
        let map = written.to_map();
        assert_eq!(map["format"], "pt");
        let read = ModelMetadata::from_map(&map).unwrap();
        assert_eq!(read, written);
        assert_eq!(read.class_names.as_deref().map(<[String]>::len), Some(10));
        assert_eq!(read.threat_model.unwrap().norm, "Linf");
    }

    #[test]
    fn metadata_of_older_files_reads_with_the_new_fields_absent() {
        let config = RunConfig::default();
        let legacy = serde_json::json!({
            "epoch": 4, "kind": "last", "model": config.model, "dataset": config.dataset,
            "method": config.method, "advmix_version": "0.1.0", "config": config,
        });
        let map = HashMap::from([(METADATA_KEY.to_owned(), legacy.to_string())]);
        let read = ModelMetadata::from_map(&map).unwrap();
        assert_eq!((read.format_version, read.epoch, read.input, read.evaluations.len()), (None, 4, None, 0));
    }

    #[test]
    fn a_resume_file_or_a_foreign_file_is_named_as_such() {
        let resume = HashMap::from([("advmix.resume".to_owned(), "{}".to_owned())]);
        assert!(ModelMetadata::from_map(&resume).unwrap_err().contains("resume file"));
        assert!(ModelMetadata::from_map(&HashMap::new()).unwrap_err().contains("no advmix metadata"));
    }
}
