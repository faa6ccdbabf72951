//! The results table a paper needs: runs grouped by chosen parameters, with
//! mean ± std over seeds of clean, best and final PGD and AutoAttack
//! accuracy, the robust-overfitting gap and the best epoch, next to the
//! published figures for the same threat model. One builder serves the sweep
//! page, the compare page, the API and (through the API) `advmix table`.
//!
//! Only finished runs count: a running run's accuracies are not final, and a
//! failed one's never will be. Groups never mix datasets or ε: robust
//! accuracy under two threat models is not one quantity.

pub mod format;
pub mod published;

use serde::Serialize;
use serde_json::{Map, Value};

use sqlx::SqlitePool;

use advmix_protocol::SweepSpec;

use crate::error::AppError;
use crate::store::{self, RunStatus};
use crate::store::runs::ResultRow;
use published::Published;

/// Mean and sample standard deviation of one metric over a group's runs.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    /// None for a single run: one seed says nothing about the spread.
    pub std: Option<f64>,
}

pub fn summarize(values: &[f64]) -> Option<Summary> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let std = (n > 1).then(|| (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt());
    Some(Summary { n, mean, std })
}

impl Summary {
    /// As a percentage for tables: `45.2 ± 1.3`, or `45.2` for one run.
    pub fn percent(&self) -> String {
        match self.std {
            Some(std) => format!("{:.1} ± {:.1}", self.mean * 100.0, std * 100.0),
            None => format!("{:.1}", self.mean * 100.0),
        }
    }
}

/// The distinct values a parameter takes. Numbers are sorted, so that a
/// random sweep's draws read in order; anything else keeps the order of
/// first appearance, which for a grid is the spec's order.
pub fn distinct<'a>(values: impl IntoIterator<Item = &'a Value>) -> Vec<Value> {
    let mut seen: Vec<Value> = Vec::new();
    for value in values {
        if !seen.contains(value) {
            seen.push(value.clone());
        }
    }
    if seen.iter().all(Value::is_number) {
        seen.sort_by(|a, b| a.as_f64().partial_cmp(&b.as_f64()).unwrap_or(std::cmp::Ordering::Equal));
    }
    seen
}

/// A parameter value as it reads in run names (`method=aom`): strings bare,
/// everything else as JSON; a run without the parameter reads as a dash.
pub fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "—".to_owned(),
        other => other.to_string(),
    }
}

/// ε as papers write it: `8/255` when it is a whole number of 255ths.
pub fn epsilon_text(epsilon: f64) -> String {
    let k = epsilon * 255.0;
    if (k - k.round()).abs() < 1e-6 && k.round() > 0.0 { format!("{}/255", k.round()) } else { format!("{epsilon}") }
}

/// One run as the table reads it.
#[derive(Clone, Debug)]
pub struct Entry {
    pub id: i64,
    pub name: String,
    pub status: RunStatus,
    pub dataset: String,
    pub model: String,
    pub epsilon: f64,
    /// The swept values, then the whole config, for looking up a key.
    pub params: Map<String, Value>,
    pub config: Value,
    pub clean: Option<f64>,
    pub best_pgd: Option<f64>,
    pub final_pgd: Option<f64>,
    pub best_epoch: Option<i64>,
    pub autoattack: Option<AutoAttack>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AutoAttack {
    pub acc: f64,
    pub n: i64,
    pub suite: String,
}

impl Entry {
    pub fn from_row(row: ResultRow) -> Entry {
        let config: Value = serde_json::from_str(&row.config).unwrap_or(Value::Null);
        Entry {
            epsilon: config["epsilon"].as_f64().unwrap_or(f64::NAN),
            params: serde_json::from_str(&row.params).unwrap_or_default(),
            config,
            id: row.id,
            name: row.name,
            status: row.status,
            dataset: row.dataset,
            model: row.model,
            clean: row.final_clean_acc,
            best_pgd: row.best_robust_acc,
            final_pgd: row.final_robust_acc,
            best_epoch: row.best_epoch,
            autoattack: match (row.autoattack_acc, row.autoattack_n, row.autoattack_suite) {
                (Some(acc), Some(n), Some(suite)) => Some(AutoAttack { acc, n, suite }),
                _ => None,
            },
        }
    }

    /// A swept parameter's value, else the config's at a dotted path
    /// (`aom.labels`); Null when the run has neither.
    pub fn value(&self, key: &str) -> Value {
        if let Some(v) = self.params.get(key) {
            return v.clone();
        }
        key.split('.').try_fold(&self.config, |v, part| v.get(part)).cloned().unwrap_or(Value::Null)
    }
}

/// The metrics, in column order.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Clean,
    BestPgd,
    FinalPgd,
    Gap,
    Autoattack,
    BestEpoch,
}

impl Metric {
    pub const ALL: [Metric; 6] =
        [Metric::Clean, Metric::BestPgd, Metric::FinalPgd, Metric::Gap, Metric::Autoattack, Metric::BestEpoch];

    pub fn title(self) -> &'static str {
        match self {
            Metric::Clean => "Clean",
            Metric::BestPgd => "PGD best",
            Metric::FinalPgd => "PGD final",
            Metric::Gap => "Gap",
            Metric::Autoattack => "AutoAttack",
            Metric::BestEpoch => "Best epoch",
        }
    }

    /// The CSV column stem.
    pub fn key(self) -> &'static str {
        match self {
            Metric::Clean => "clean_acc",
            Metric::BestPgd => "pgd_best_acc",
            Metric::FinalPgd => "pgd_final_acc",
            Metric::Gap => "gap",
            Metric::Autoattack => "autoattack_acc",
            Metric::BestEpoch => "best_epoch",
        }
    }

    /// Which way is better, for the bold best value; None where neither is.
    pub fn higher_is_better(self) -> Option<bool> {
        match self {
            Metric::Gap => Some(false),
            Metric::BestEpoch => None,
            _ => Some(true),
        }
    }

    pub fn is_accuracy(self) -> bool {
        self != Metric::BestEpoch
    }
}

/// One group of finished runs that share the `by` values (and the threat model).
#[derive(Serialize, Clone, Debug)]
pub struct Group {
    pub dataset: String,
    pub epsilon: f64,
    /// The `by` values, in `by` order.
    pub key: Vec<Value>,
    /// The finished runs, whose count is the number of seeds.
    pub runs: Vec<i64>,
    pub stats: Stats,
    /// Finished runs whose AutoAttack result is missing or not comparable
    /// with the rest (fewer points or a weaker suite), left out of its mean.
    pub autoattack_left_out: Vec<LeftOut>,
}

#[derive(Serialize, Clone, Debug, Default)]
pub struct Stats {
    pub clean: Option<Summary>,
    pub best_pgd: Option<Summary>,
    pub final_pgd: Option<Summary>,
    /// Best − final PGD accuracy: robust overfitting.
    pub gap: Option<Summary>,
    pub autoattack: Option<Summary>,
    pub best_epoch: Option<Summary>,
}

impl Stats {
    fn from_fn(mut f: impl FnMut(Metric) -> Option<Summary>) -> Stats {
        Stats {
            clean: f(Metric::Clean),
            best_pgd: f(Metric::BestPgd),
            final_pgd: f(Metric::FinalPgd),
            gap: f(Metric::Gap),
            autoattack: f(Metric::Autoattack),
            best_epoch: f(Metric::BestEpoch),
        }
    }

    pub fn get(&self, metric: Metric) -> Option<&Summary> {
        match metric {
            Metric::Clean => self.clean.as_ref(),
            Metric::BestPgd => self.best_pgd.as_ref(),
            Metric::FinalPgd => self.final_pgd.as_ref(),
            Metric::Gap => self.gap.as_ref(),
            Metric::Autoattack => self.autoattack.as_ref(),
            Metric::BestEpoch => self.best_epoch.as_ref(),
        }
    }
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct LeftOut {
    pub run: i64,
    pub reason: String,
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Unfinished {
    pub run: i64,
    pub name: String,
    pub status: RunStatus,
}

impl Group {
    pub fn stat(&self, metric: Metric) -> Option<&Summary> {
        self.stats.get(metric)
    }
}

/// A (dataset, ε) part of a table: groups and the published rows that
/// compare with them.
#[derive(Serialize, Clone, Debug)]
pub struct Section {
    pub dataset: String,
    pub epsilon: f64,
    pub groups: Vec<Group>,
    /// The AutoAttack evaluation the section's means are over.
    pub autoattack_reference: Option<(String, i64)>,
    pub published: Vec<Published>,
}

#[derive(Serialize, Clone, Debug)]
pub struct Table {
    pub by: Vec<String>,
    pub sections: Vec<Section>,
    /// Runs not counted, with their status: unfinished ones are not final.
    pub left_out: Vec<Unfinished>,
}

/// Why a table cannot be built as asked; the message suits the `by` field.
#[derive(Debug, PartialEq)]
pub struct UnknownKey(pub String);

pub const NO_AUTOATTACK: &str = "no AutoAttack evaluation";

/// A sweep's table, grouped by `by` (a comma list) or else by its swept
/// parameters.
pub async fn of_sweep(db: &SqlitePool, sweep: i64, by: Option<&str>, with_published: bool) -> Result<Table, AppError> {
    let head = store::sweeps::head(db, sweep).await?.ok_or(AppError::NotFound)?;
    let by = match by {
        Some(text) => parse_by(text),
        None => default_by(&SweepSpec::from_json(&head.spec).map(|s| s.varying()).unwrap_or_default()),
    };
    let entries: Vec<Entry> =
        store::runs::results_of_sweep(db, sweep).await?.into_iter().map(Entry::from_row).collect();
    build(&entries, &by, with_published).map_err(|e| AppError::field("by", e.0))
}

/// A table of hand-picked runs, grouped by `by` or else by the config keys
/// whose values differ between them.
pub async fn of_runs(db: &SqlitePool, ids: &[i64], by: Option<&str>, with_published: bool) -> Result<Table, AppError> {
    let entries: Vec<Entry> = store::runs::results_of(db, ids).await?.into_iter().map(Entry::from_row).collect();
    let missing: Vec<String> =
        ids.iter().filter(|id| !entries.iter().any(|e| e.id == **id)).map(|id| format!("#{id}")).collect();
    if !missing.is_empty() {
        return Err(AppError::field("runs", format!("no run {}: pick runs that exist", missing.join(", "))));
    }
    let by = match by {
        Some(text) => parse_by(text),
        None => default_by(&differing(&entries)),
    };
    build(&entries, &by, with_published).map_err(|e| AppError::field("by", e.0))
}

/// Hand-picked runs in one table, as the compare page allows.
pub const MAX_RUNS: usize = 500;

/// The config's leaves as dotted keys (`aom.labels`).
fn leaves(prefix: &str, value: &Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                leaves(&key, v, out);
            }
        }
        other => out.push((prefix.to_owned(), other.clone())),
    }
}

/// The config keys whose values are not the same in every entry.
pub fn differing(entries: &[Entry]) -> Vec<String> {
    let all: Vec<Vec<(String, Value)>> = entries
        .iter()
        .map(|e| {
            let mut out = Vec::new();
            leaves("", &e.config, &mut out);
            out
        })
        .collect();
    let mut keys: Vec<String> = Vec::new();
    for (key, _) in all.iter().flatten() {
        if keys.contains(key) {
            continue;
        }
        let values: Vec<Option<&Value>> =
            all.iter().map(|leaves| leaves.iter().find(|(k, _)| k == key).map(|(_, v)| v)).collect();
        if values.windows(2).any(|w| w[0] != w[1]) {
            keys.push(key.clone());
        }
    }
    keys
}

/// `method,aom.labels` as keys; blanks are dropped.
pub fn parse_by(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned).collect()
}

/// What a table groups by unless told: the swept parameters, as seeds are
/// what it averages over.
pub fn default_by(varying: &[String]) -> Vec<String> {
    varying.iter().filter(|k| *k != "seed").cloned().collect()
}

/// Suites from the weakest: a stronger suite's result is a different number.
fn suite_rank(suite: &str) -> u8 {
    match suite {
        "aa-standard" => 2,
        "aa-fast" => 1,
        _ => 0,
    }
}

/// Groups `entries` by their values of `by`, within each (dataset, ε).
/// `with_published` adds the comparable published rows to each section.
pub fn build(entries: &[Entry], by: &[String], with_published: bool) -> Result<Table, UnknownKey> {
    for key in by {
        if !entries.is_empty() && !entries.iter().any(|e| !e.value(key).is_null()) {
            return Err(UnknownKey(format!(
                "no run here has `{key}`: group by swept parameters or config keys such as method, epsilon, aom.labels"
            )));
        }
    }
    let (finished, unfinished): (Vec<&Entry>, Vec<&Entry>) =
        entries.iter().partition(|e| e.status == RunStatus::Succeeded);
    let left_out = unfinished.iter().map(|e| Unfinished { run: e.id, name: e.name.clone(), status: e.status }).collect();

    let mut threats: Vec<(String, f64)> = Vec::new();
    for e in &finished {
        if !threats.iter().any(|(d, eps)| *d == e.dataset && same_epsilon(*eps, e.epsilon)) {
            threats.push((e.dataset.clone(), e.epsilon));
        }
    }
    threats.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal)));

    let sections = threats
        .into_iter()
        .map(|(dataset, epsilon)| {
            let members: Vec<&Entry> =
                finished.iter().copied().filter(|e| e.dataset == dataset && same_epsilon(e.epsilon, epsilon)).collect();
            section(&members, by, dataset, epsilon, with_published)
        })
        .collect();
    Ok(Table { by: by.to_vec(), sections, left_out })
}

fn same_epsilon(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 || (a.is_nan() && b.is_nan())
}

fn section(members: &[&Entry], by: &[String], dataset: String, epsilon: f64, with_published: bool) -> Section {
    // Means are over one evaluation: the strongest suite present, on the
    // most points any run of it has.
    let reference = members
        .iter()
        .filter_map(|e| e.autoattack.as_ref())
        .max_by_key(|aa| (suite_rank(&aa.suite), aa.n))
        .map(|aa| (aa.suite.clone(), aa.n));

    // Each `by` key's values in `distinct` order; groups sort by them.
    let orders: Vec<Vec<Value>> =
        by.iter().map(|k| distinct(&members.iter().map(|e| e.value(k)).collect::<Vec<_>>())).collect();
    let mut keys: Vec<Vec<Value>> = Vec::new();
    for e in members {
        let key: Vec<Value> = by.iter().map(|k| e.value(k)).collect();
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let position = |key: &Vec<Value>| -> Vec<usize> {
        key.iter().zip(&orders).map(|(v, order)| order.iter().position(|o| o == v).unwrap_or(usize::MAX)).collect()
    };
    keys.sort_by_key(|k| position(k));

    let groups = keys
        .into_iter()
        .map(|key| {
            let runs: Vec<&Entry> =
                members.iter().copied().filter(|e| by.iter().map(|k| e.value(k)).eq(key.iter().cloned())).collect();
            group(&runs, key, &dataset, epsilon, reference.as_ref())
        })
        .collect();

    let published = if with_published {
        let mut models: Vec<&str> = members.iter().map(|e| e.model.as_str()).collect();
        models.dedup();
        published::matching(&dataset, epsilon, &models).into_iter().cloned().collect()
    } else {
        Vec::new()
    };
    Section { dataset, epsilon, groups, autoattack_reference: reference, published }
}

fn group(runs: &[&Entry], key: Vec<Value>, dataset: &str, epsilon: f64, reference: Option<&(String, i64)>) -> Group {
    let over = |f: &dyn Fn(&Entry) -> Option<f64>| summarize(&runs.iter().filter_map(|e| f(e)).collect::<Vec<_>>());
    let comparable = |aa: &AutoAttack| reference.is_some_and(|(suite, n)| aa.suite == *suite && aa.n == *n);
    let mut autoattack_left_out = Vec::new();
    for e in runs {
        match (&e.autoattack, reference) {
            (None, _) => autoattack_left_out.push(LeftOut { run: e.id, reason: NO_AUTOATTACK.to_owned() }),
            (Some(aa), Some((suite, n))) if !comparable(aa) => autoattack_left_out
                .push(LeftOut { run: e.id, reason: format!("{} on {} points, not {suite} on {n}", aa.suite, aa.n) }),
            _ => {}
        }
    }
    let stats = Stats::from_fn(|m| match m {
                Metric::Clean => over(&|e| e.clean),
                Metric::BestPgd => over(&|e| e.best_pgd),
                Metric::FinalPgd => over(&|e| e.final_pgd),
                Metric::Gap => over(&|e| Some(e.best_pgd? - e.final_pgd?)),
                Metric::Autoattack => over(&|e| e.autoattack.as_ref().filter(|aa| comparable(aa)).map(|aa| aa.acc)),
        Metric::BestEpoch => over(&|e| e.best_epoch.map(|b| b as f64)),
    });
    Group {
        dataset: dataset.to_owned(),
        epsilon,
        key,
        runs: runs.iter().map(|e| e.id).collect(),
        stats,
        autoattack_left_out,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    pub(crate) fn entry(id: i64, params: Value, r: [Option<f64>; 4], aa: Option<(f64, i64)>) -> Entry {
        let params = params.as_object().unwrap().clone();
        let mut config = json!({"epsilon": 8.0 / 255.0, "dataset": "cifar10", "model": "preact_resnet18"});
        for (k, v) in &params {
            config[k] = v.clone();
        }
        Entry {
            id,
            name: format!("run {id}"),
            status: RunStatus::Succeeded,
            dataset: config["dataset"].as_str().unwrap().to_owned(),
            model: "preact_resnet18".into(),
            epsilon: config["epsilon"].as_f64().unwrap(),
            params,
            config,
            clean: r[0],
            best_pgd: r[1],
            final_pgd: r[2],
            best_epoch: r[3].map(|b| b as i64),
            autoattack: aa.map(|(acc, n)| AutoAttack { acc, n, suite: "aa-fast".into() }),
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn values_read_as_in_run_names() {
        assert_eq!(display(&json!("aom")), "aom");
        assert_eq!(display(&json!(0.03)), "0.03");
        assert_eq!(display(&json!(true)), "true");
        assert_eq!(display(&Value::Null), "—");
        assert_eq!((epsilon_text(8.0 / 255.0), epsilon_text(0.05)), ("8/255".to_owned(), "0.05".to_owned()));
    }

    #[test]
    fn numbers_sort_and_other_values_keep_their_order() {
        let values = [json!(0.1), json!(0.001), json!(0.1), json!(0.01)];
        assert_eq!(distinct(&values), [json!(0.001), json!(0.01), json!(0.1)]);
        let values = [json!("pgd_at"), json!("aom"), json!("pgd_at")];
        assert_eq!(distinct(&values), [json!("pgd_at"), json!("aom")]);
        assert!(distinct(&[]).is_empty());
    }

    #[test]
    fn summaries_use_the_sample_standard_deviation() {
        let s = summarize(&[0.40, 0.44, 0.48]).unwrap();
        assert_eq!(s.n, 3);
        assert!(close(s.mean, 0.44));
        // Deviations ±0.04 and 0: sqrt((0.0016 + 0 + 0.0016) / 2) = 0.04.
        assert!(close(s.std.unwrap(), 0.04));
        assert_eq!(s.percent(), "44.0 ± 4.0");
        let one = summarize(&[0.5]).unwrap();
        assert_eq!((one.std, one.percent()), (None, "50.0".to_owned()));
        assert_eq!(summarize(&[]), None);
    }

    #[test]
    fn table_statistics_match_hand_computed_values() {
        let entries = [
            entry(1, json!({"method": "pgd_at", "seed": 0}), [Some(0.80), Some(0.50), Some(0.44), Some(10.0)], Some((0.46, 1000))),
            entry(2, json!({"method": "pgd_at", "seed": 1}), [Some(0.82), Some(0.54), Some(0.46), Some(12.0)], Some((0.48, 1000))),
            // AutoAttack on fewer points: marked, not averaged in.
            entry(3, json!({"method": "pgd_at", "seed": 2}), [Some(0.84), Some(0.52), Some(0.48), Some(14.0)], Some((0.10, 500))),
            // One seed: no std. No AutoAttack at all.
            entry(4, json!({"method": "aom", "seed": 0}), [Some(0.78), Some(0.56), Some(0.50), Some(9.0)], None),
        ];
        let mut running = entry(5, json!({"method": "aom", "seed": 1}), [Some(0.99), Some(0.99), None, Some(1.0)], None);
        running.status = RunStatus::Running;
        let all: Vec<Entry> = entries.iter().cloned().chain([running]).collect();

        let table = build(&all, &["method".to_owned()], false).unwrap();
        let unfinished = Unfinished { run: 5, name: "run 5".to_owned(), status: RunStatus::Running };
        assert_eq!(table.left_out, [unfinished], "a running run is not final");
        assert_eq!(table.sections.len(), 1);
        let s = &table.sections[0];
        assert_eq!(s.autoattack_reference, Some(("aa-fast".to_owned(), 1000)));
        let [pgd, aom] = [&s.groups[0], &s.groups[1]];
        assert_eq!((pgd.key.as_slice(), aom.key.as_slice()), (&[json!("pgd_at")][..], &[json!("aom")][..]));
        assert_eq!(pgd.runs, [1, 2, 3]);

        let clean = pgd.stat(Metric::Clean).unwrap();
        assert!(close(clean.mean, 0.82) && close(clean.std.unwrap(), 0.02));
        // Gaps 0.06, 0.08, 0.04: mean 0.06, std 0.02.
        let gap = pgd.stat(Metric::Gap).unwrap();
        assert!(close(gap.mean, 0.06) && (gap.std.unwrap() - 0.02).abs() < 1e-12, "{gap:?}");
        let aa = pgd.stat(Metric::Autoattack).unwrap();
        assert_eq!(aa.n, 2);
        assert!(close(aa.mean, 0.47) && (aa.std.unwrap() - 0.0002f64.sqrt()).abs() < 1e-12);
        assert_eq!(pgd.autoattack_left_out, [LeftOut { run: 3, reason: "aa-fast on 500 points, not aa-fast on 1000".to_owned() }]);
        let epoch = pgd.stat(Metric::BestEpoch).unwrap();
        assert!(close(epoch.mean, 12.0) && close(epoch.std.unwrap(), 2.0));

        assert_eq!(aom.runs, [4]);
        assert_eq!(aom.stat(Metric::BestPgd).unwrap().std, None, "one seed has no spread");
        assert_eq!(aom.stat(Metric::Autoattack), None);
        assert_eq!(aom.autoattack_left_out, [LeftOut { run: 4, reason: NO_AUTOATTACK.to_owned() }]);
    }

    #[test]
    fn threat_models_are_never_grouped_together() {
        let mut a = entry(1, json!({"method": "pgd_at"}), [Some(0.8), Some(0.5), Some(0.4), Some(3.0)], None);
        let mut b = a.clone();
        b.id = 2;
        b.epsilon = 4.0 / 255.0;
        a.config["epsilon"] = json!(a.epsilon);
        let table = build(&[a, b], &["method".to_owned()], true).unwrap();
        let eps: Vec<String> = table.sections.iter().map(|s| epsilon_text(s.epsilon)).collect();
        assert_eq!(eps, ["4/255", "8/255"]);
        assert!(table.sections[0].published.is_empty(), "nothing published at 4/255");
        assert_eq!(table.sections[1].published.len(), 3);
    }

    #[test]
    fn a_key_no_run_has_is_refused_and_dotted_keys_read_the_config() {
        let mut e = entry(1, json!({"seed": 0}), [None; 4], None);
        e.config["aom"] = json!({"labels": "ratio"});
        assert_eq!(e.value("aom.labels"), json!("ratio"));
        let err = build(&[e], &["aom.perturb".to_owned()], false).unwrap_err();
        assert!(err.0.contains("no run here has `aom.perturb`"), "{}", err.0);
    }
}
