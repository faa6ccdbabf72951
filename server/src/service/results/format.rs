//! A results [`Table`] laid out once as a [`Grid`] of cells, then written as
//! Markdown, LaTeX (booktabs) or CSV, or rendered by the pages. The best
//! value of each column is bold; a mean over fewer runs than the group's
//! seeds is marked with † and explained in the notes.

use std::borrow::Cow;

use super::{Group, Metric, NO_AUTOATTACK, Section, Summary, Table, display, epsilon_text};
use super::published::Published;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Latex,
    Csv,
}

impl Format {
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "markdown" | "md" => Some(Format::Markdown),
            "latex" | "tex" => Some(Format::Latex),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    /// As `format=` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Markdown => "markdown",
            Format::Latex => "latex",
            Format::Csv => "csv",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Latex => "tex",
            Format::Csv => "csv",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Latex => "application/x-tex; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    pub fn write(self, table: &Table) -> String {
        match self {
            Format::Markdown => markdown(&Grid::new(table)),
            Format::Latex => latex(&Grid::new(table)),
            Format::Csv => csv(table),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Number { mean: String, std: Option<String>, bold: bool, marked: bool },
    Missing,
}

#[derive(Clone, Debug)]
pub struct Row {
    pub cells: Vec<Cell>,
    /// A published reference row, not one of the runs' groups.
    pub published: bool,
}

#[derive(Clone, Debug)]
pub struct Grid {
    pub header: Vec<String>,
    /// The leading text columns: the threat model's, then the `by` values.
    pub label_columns: usize,
    /// Dataset and ε columns, each present when the table spans several
    /// values of it that `by` does not already show.
    pub threat_columns: usize,
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

const MARK: &str = "†";

/// Rounded as displayed, so that values that read the same are bold together.
fn shown(value: f64, metric: Metric) -> i64 {
    let scale = if metric.is_accuracy() { 1000.0 } else { 10.0 };
    (value * scale).round() as i64
}

fn summary_cell(s: &Summary, metric: Metric, bold: bool, marked: bool) -> Cell {
    let (mean, std) = if metric.is_accuracy() { (s.mean * 100.0, s.std.map(|d| d * 100.0)) } else { (s.mean, s.std) };
    let precision = if metric.is_accuracy() || s.std.is_some() { 1 } else { 0 };
    Cell::Number {
        mean: format!("{mean:.precision$}"),
        std: std.map(|d| format!("{d:.1}")),
        bold,
        marked,
    }
}

/// Whether the group's AutoAttack mean leaves out some of its seeds (for a
/// group with none at all, the dash says so already).
fn autoattack_marked(g: &Group) -> bool {
    !g.autoattack_left_out.is_empty()
        && (g.stat(Metric::Autoattack).is_some()
            || g.autoattack_left_out.iter().any(|l| l.reason != NO_AUTOATTACK))
}

fn key_text(by: &[String], g: &Group) -> String {
    if by.is_empty() {
        return "all runs".to_owned();
    }
    by.iter().zip(&g.key).map(|(k, v)| format!("{k}={}", display(v))).collect::<Vec<_>>().join(", ")
}

fn published_cells(p: &Published) -> Vec<Cell> {
    let number = |v: Option<f64>| {
        v.map_or(Cell::Missing, |v| Cell::Number { mean: format!("{v:.1}"), std: None, bold: false, marked: false })
    };
    let gap = p.robust_best.zip(p.robust_final).map(|(b, f)| b - f);
    Metric::ALL
        .iter()
        .map(|m| match m {
            Metric::Clean => number(Some(p.clean)),
            Metric::BestPgd => number(p.robust_best),
            Metric::FinalPgd => number(p.robust_final),
            Metric::Gap => number(gap),
            Metric::Autoattack => number(p.autoattack),
            Metric::BestEpoch => Cell::Missing,
        })
        .collect()
}

impl Grid {
    pub fn new(table: &Table) -> Grid {
        let shown = |key: &str, differs: bool| differs && !table.by.iter().any(|b| b == key);
        let first = table.sections.first();
        let threat = Threat {
            dataset: shown("dataset", table.sections.iter().any(|s| Some(&s.dataset) != first.map(|f| &f.dataset))),
            epsilon: shown("epsilon", table.sections.iter().any(|s| first.is_some_and(|f| f.epsilon != s.epsilon))),
        };
        let mut header: Vec<String> = Vec::new();
        if threat.dataset {
            header.push("Dataset".to_owned());
        }
        if threat.epsilon {
            header.push("ε".to_owned());
        }
        if table.by.is_empty() {
            header.push("Runs".to_owned());
        } else {
            header.extend(table.by.iter().cloned());
        }
        let label_columns = header.len();
        header.push("Seeds".to_owned());
        header.extend(Metric::ALL.iter().map(|m| m.title().to_owned()));

        let mut rows = Vec::new();
        let mut notes = Vec::new();
        for section in &table.sections {
            rows.extend(section_rows(table, section, threat, &mut notes));
        }
        for u in &table.left_out {
            notes.push(format!("Not counted: run #{} {} ({}); only finished runs count.", u.run, u.name, u.status));
        }
        Grid { header, label_columns, threat_columns: threat.count(), rows, notes }
    }
}

/// Which threat-model columns a grid has.
#[derive(Clone, Copy)]
struct Threat {
    dataset: bool,
    epsilon: bool,
}

impl Threat {
    fn count(self) -> usize {
        usize::from(self.dataset) + usize::from(self.epsilon)
    }
}

fn section_rows(table: &Table, section: &Section, threat_columns: Threat, notes: &mut Vec<String>) -> Vec<Row> {
    let best = |metric: Metric| -> Option<i64> {
        let higher = metric.higher_is_better()?;
        let values: Vec<i64> =
            section.groups.iter().filter_map(|g| g.stat(metric)).map(|s| shown(s.mean, metric)).collect();
        if values.len() < 2 {
            return None;
        }
        if higher { values.into_iter().max() } else { values.into_iter().min() }
    };
    let bests: Vec<Option<i64>> = Metric::ALL.iter().map(|&m| best(m)).collect();
    let threat = |cells: &mut Vec<Cell>| {
        if threat_columns.dataset {
            cells.push(Cell::Text(section.dataset.clone()));
        }
        if threat_columns.epsilon {
            cells.push(Cell::Text(epsilon_text(section.epsilon)));
        }
    };

    let mut rows = Vec::new();
    for g in &section.groups {
        let mut cells = Vec::new();
        threat(&mut cells);
        if table.by.is_empty() {
            cells.push(Cell::Text("all".to_owned()));
        } else {
            cells.extend(g.key.iter().map(|v| Cell::Text(display(v))));
        }
        cells.push(Cell::Text(g.runs.len().to_string()));
        let marked_aa = autoattack_marked(g);
        for (&metric, best) in Metric::ALL.iter().zip(&bests) {
            cells.push(match g.stat(metric) {
                Some(s) => {
                    let bold = best.is_some_and(|b| shown(s.mean, metric) == b);
                    summary_cell(s, metric, bold, metric == Metric::Autoattack && marked_aa)
                }
                None if metric == Metric::Autoattack && marked_aa => {
                    Cell::Number { mean: "—".to_owned(), std: None, bold: false, marked: true }
                }
                None => Cell::Missing,
            });
        }
        if marked_aa {
            let k = g.stat(Metric::Autoattack).map_or(0, |s| s.n);
            let why: Vec<String> = g.autoattack_left_out.iter().map(|l| format!("run #{}: {}", l.run, l.reason)).collect();
            notes.push(format!(
                "{MARK} {}: AutoAttack over {k} of {} seeds ({}).",
                key_text(&table.by, g),
                g.runs.len(),
                why.join("; ")
            ));
        }
        rows.push(Row { cells, published: false });
    }
    if let Some((suite, n)) = &section.autoattack_reference {
        let at = if table.sections.len() > 1 { format!(" ({}, ε = {})", section.dataset, epsilon_text(section.epsilon)) } else { String::new() };
        notes.push(format!("AutoAttack{at}: {suite} on {n} points."));
    }
    for p in &section.published {
        let mut cells = Vec::new();
        threat(&mut cells);
        cells.push(Cell::Text(format!("published: {}, {}, {}", p.paper, p.model, p.method)));
        cells.extend((1..table.by.len().max(1)).map(|_| Cell::Text(String::new())));
        cells.push(Cell::Missing);
        cells.extend(published_cells(p));
        rows.push(Row { cells, published: true });
        notes.push(format!("published: {} ({}), {}: {}.", p.paper, p.source, p.model, p.attack));
    }
    rows
}

fn markdown_cell(cell: &Cell) -> String {
    match cell {
        Cell::Text(t) => t.replace('|', "\\|"),
        Cell::Missing => "—".to_owned(),
        Cell::Number { mean, std, bold, marked } => {
            let mean = if *bold { format!("**{mean}**") } else { mean.clone() };
            let std = std.as_ref().map_or_else(String::new, |s| format!(" ± {s}"));
            format!("{mean}{std}{}", if *marked { MARK } else { "" })
        }
    }
}

pub fn markdown(grid: &Grid) -> String {
    let mut out = String::new();
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    out.push_str(&line(grid.header.iter().map(|h| h.replace('|', "\\|")).collect()));
    let align: Vec<String> =
        (0..grid.header.len()).map(|i| if i < grid.label_columns { ":--".to_owned() } else { "--:".to_owned() }).collect();
    out.push_str(&line(align));
    for row in &grid.rows {
        let cells = row.cells.iter().map(markdown_cell);
        let cells: Vec<String> =
            if row.published { cells.map(|c| if c.is_empty() || c == "—" { c } else { format!("_{c}_") }).collect() } else { cells.collect() };
        out.push_str(&line(cells));
    }
    if !grid.notes.is_empty() {
        out.push('\n');
        for note in &grid.notes {
            out.push_str(&format!("- {note}\n"));
        }
    }
    out
}

/// LaTeX's special characters, escaped for text mode.
fn tex(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            'ε' => out.push_str("$\\varepsilon$"),
            'α' => out.push_str("$\\alpha$"),
            '—' => out.push_str("--"),
            _ => out.push(c),
        }
    }
    out
}

fn latex_cell(cell: &Cell) -> String {
    match cell {
        Cell::Text(t) => tex(t),
        Cell::Missing => "--".to_owned(),
        Cell::Number { mean, std, bold, marked } => {
            let mean = tex(mean);
            let mean = if *bold { format!("\\textbf{{{mean}}}") } else { mean };
            let std = std.as_ref().map_or_else(String::new, |s| format!("{{\\scriptsize$\\pm${s}}}"));
            format!("{mean}{std}{}", if *marked { "$^{\\dagger}$" } else { "" })
        }
    }
}

pub fn latex(grid: &Grid) -> String {
    let columns: String =
        (0..grid.header.len()).map(|i| if i < grid.label_columns { 'l' } else { 'r' }).collect();
    let mut out = format!("% Generated by advmix. Needs \\usepackage{{booktabs}}.\n\\begin{{tabular}}{{{columns}}}\n\\toprule\n");
    out.push_str(&grid.header.iter().map(|h| tex(h)).collect::<Vec<_>>().join(" & "));
    out.push_str(" \\\\\n\\midrule\n");
    let mut in_published = false;
    for row in &grid.rows {
        if row.published && !in_published {
            out.push_str("\\midrule\n");
        }
        in_published = row.published;
        let line = if row.published {
            // The label spans the `by` columns and the seeds column.
            let threat = grid.threat_columns;
            let span = grid.label_columns - threat + 1;
            let mut cells: Vec<String> = row.cells[..threat].iter().map(latex_cell).collect();
            cells.push(format!("\\multicolumn{{{span}}}{{l}}{{\\textit{{{}}}}}", latex_cell(&row.cells[threat])));
            cells.extend(row.cells[threat + span..].iter().map(|c| match c {
                Cell::Missing => "--".to_owned(),
                other => format!("\\textit{{{}}}", latex_cell(other)),
            }));
            cells.join(" & ")
        } else {
            row.cells.iter().map(latex_cell).collect::<Vec<_>>().join(" & ")
        };
        out.push_str(&line);
        out.push_str(" \\\\\n");
    }
    out.push_str("\\bottomrule\n\\end{tabular}\n");
    for note in &grid.notes {
        out.push_str(&format!("% {note}\n"));
    }
    out
}

/// RFC 4180: a field with a comma, quote or line break is quoted, and its
/// quotes doubled.
pub fn field(text: &str) -> Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", text.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(text)
    }
}

/// Machine-readable: fractions, not percentages, and one row per group or
/// published result, with its source.
pub fn csv(table: &Table) -> String {
    let mut header: Vec<String> = vec!["source".into(), "dataset".into(), "epsilon".into()];
    header.extend(table.by.iter().cloned());
    header.extend(["seeds".into(), "runs".into()]);
    for m in Metric::ALL {
        header.extend([format!("{}_mean", m.key()), format!("{}_std", m.key())]);
    }
    header.extend(["autoattack_seeds".into(), "autoattack_suite".into(), "autoattack_n".into()]);
    let mut out = header.iter().map(|h| field(h).into_owned()).collect::<Vec<_>>().join(",");
    out.push_str("\r\n");
    let number = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for section in &table.sections {
        let (suite, n) = section.autoattack_reference.clone().map_or((String::new(), String::new()), |(s, n)| (s, n.to_string()));
        for g in &section.groups {
            let mut cells: Vec<String> = vec!["advmix".into(), section.dataset.clone(), section.epsilon.to_string()];
            cells.extend(g.key.iter().map(|v| field(&display(v)).into_owned()));
            cells.push(g.runs.len().to_string());
            cells.push(g.runs.iter().map(i64::to_string).collect::<Vec<_>>().join(" "));
            for m in Metric::ALL {
                let s = g.stat(m);
                cells.extend([number(s.map(|s| s.mean)), number(s.and_then(|s| s.std))]);
            }
            let aa_seeds = g.stat(Metric::Autoattack).map_or(0, |s| s.n);
            cells.extend([aa_seeds.to_string(), suite.clone(), n.clone()]);
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
        for p in &section.published {
            let mut cells: Vec<String> = vec![
                field(&format!("published: {}, {} ({})", p.paper, p.model, p.source)).into_owned(),
                section.dataset.clone(),
                section.epsilon.to_string(),
            ];
            cells.extend(table.by.iter().map(|_| String::new()));
            cells.extend([String::new(), String::new()]);
            let gap = p.robust_best.zip(p.robust_final).map(|(b, f)| b - f);
            for v in [Some(p.clean), p.robust_best, p.robust_final, gap, p.autoattack] {
                cells.extend([number(v.map(|v| v / 100.0)), String::new()]);
            }
            cells.extend([String::new(), String::new()]);
            cells.extend([String::new(), field(&p.attack).into_owned(), String::new()]);
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::entry;
    use super::super::{Entry, build};
    use super::*;
    use crate::store::RunStatus;

    /// Two methods × two label rules, three seeds of pgd_at and one of aom,
    /// a run on fewer AutoAttack points, one without, and one still running.
    fn entries() -> Vec<Entry> {
        let mut running = entry(9, json!({"method": "aom", "aom.labels": "ratio", "seed": 1}), [None, Some(0.6), None, Some(2.0)], None);
        running.status = RunStatus::Running;
        vec![
            entry(1, json!({"method": "pgd_at", "aom.labels": "ratio", "seed": 0}), [Some(0.80), Some(0.50), Some(0.44), Some(10.0)], Some((0.46, 1000))),
            entry(2, json!({"method": "pgd_at", "aom.labels": "ratio", "seed": 1}), [Some(0.82), Some(0.54), Some(0.46), Some(12.0)], Some((0.48, 1000))),
            entry(3, json!({"method": "pgd_at", "aom.labels": "ratio", "seed": 2}), [Some(0.84), Some(0.52), Some(0.48), Some(14.0)], Some((0.10, 500))),
            entry(4, json!({"method": "aom", "aom.labels": "ratio", "seed": 0}), [Some(0.78), Some(0.56), Some(0.50), Some(9.0)], None),
            entry(5, json!({"method": "aom", "aom.labels": "geometric", "seed": 0}), [Some(0.79), Some(0.55), Some(0.52), Some(11.0)], Some((0.49, 1000))),
            running,
        ]
    }

    fn table() -> Table {
        build(&entries(), &["method".to_owned(), "aom.labels".to_owned()], true).unwrap()
    }

    fn same_as_file(actual: &str, expected: &str, file: &str) {
        assert!(actual == expected, "{file} differs; the output was:\n{actual}");
    }

    #[test]
    fn markdown_is_exactly_the_expected_file() {
        same_as_file(&Format::Markdown.write(&table()), include_str!("testdata/table.md"), "testdata/table.md");
    }

    #[test]
    fn latex_is_exactly_the_expected_file() {
        same_as_file(&Format::Latex.write(&table()), include_str!("testdata/table.tex"), "testdata/table.tex");
    }

    #[test]
    fn csv_has_fractions_and_one_row_per_group_and_published_result() {
        let csv = Format::Csv.write(&table());
        let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 1 + 3 + 3, "header, three groups, three published rows");
        assert!(lines[0].starts_with("source,dataset,epsilon,method,aom.labels,seeds,runs,clean_acc_mean,clean_acc_std,"));
        assert!(lines[1].starts_with("advmix,cifar10,0.03137254901960784,pgd_at,ratio,3,1 2 3,0.82,"), "{}", lines[1]);
        assert!(lines[4].starts_with("\"published: Rice et al. 2020, PreActResNet-18 (github.com/locuslab/robust_overfitting, per-epoch log)\",cifar10,"));
    }

    #[test]
    fn the_best_value_of_a_column_is_bold_and_lower_is_better_for_the_gap() {
        let grid = Grid::new(&table());
        let bold: Vec<(usize, usize)> = grid
            .rows
            .iter()
            .enumerate()
            .flat_map(|(r, row)| {
                row.cells.iter().enumerate().filter_map(move |(c, cell)| {
                    matches!(cell, Cell::Number { bold: true, .. }).then_some((r, c))
                })
            })
            .collect();
        // Columns: method, aom.labels, Seeds, Clean, PGD best, PGD final, Gap, AutoAttack, Best epoch.
        // Clean 82/78/79, PGD best 52/56/55, final 46/50/52, gap 6/6/3, AutoAttack 47/—/49.
        assert_eq!(bold, [(0, 3), (1, 4), (2, 5), (2, 6), (2, 7)]);
    }
}
