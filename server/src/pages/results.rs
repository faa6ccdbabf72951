//! The results table as the sweep and compare pages show it
//! (`templates/results_table.html`): the service's grid, with its exports.

use serde::Serialize;

use crate::service::results::format::{Cell, Format, Grid};
use crate::service::results::Table;

pub struct ViewCell {
    pub text: String,
    pub std: Option<String>,
    pub numeric: bool,
    pub bold: bool,
    pub marked: bool,
}

pub struct ViewRow {
    pub cells: Vec<ViewCell>,
    pub published: bool,
}

pub struct ResultsView {
    pub header: Vec<String>,
    pub label_columns: usize,
    pub rows: Vec<ViewRow>,
    pub notes: Vec<String>,
    /// (label, href) of each download.
    pub exports: Vec<(&'static str, String)>,
    pub published: bool,
    /// Whether any published row compares with these runs at all.
    pub any_published: bool,
}

/// A dashed line on the robust-accuracy chart, in [0,1] units.
#[derive(Serialize, Clone, Debug)]
pub struct Reference {
    pub label: String,
    pub y: f64,
}

impl ResultsView {
    /// `api` is the table's API path; `query` its by/published parameters.
    pub fn new(table: &Table, api: &str, query: &[(&str, String)], any_published: bool) -> ResultsView {
        let grid = Grid::new(table);
        let rows = grid
            .rows
            .iter()
            .map(|row| ViewRow {
                published: row.published,
                cells: row
                    .cells
                    .iter()
                    .enumerate()
                    .map(|(i, cell)| match cell {
                        Cell::Text(t) => {
                            ViewCell { text: t.clone(), std: None, numeric: i >= grid.label_columns, bold: false, marked: false }
                        }
                        Cell::Missing => ViewCell { text: "—".into(), std: None, numeric: true, bold: false, marked: false },
                        Cell::Number { mean, std, bold, marked } => {
                            ViewCell { text: mean.clone(), std: std.clone(), numeric: true, bold: *bold, marked: *marked }
                        }
                    })
                    .collect(),
            })
            .collect();
        let exports = [("Markdown", Format::Markdown), ("LaTeX", Format::Latex), ("CSV", Format::Csv)]
            .into_iter()
            .map(|(label, format)| {
                let mut pairs: Vec<(&str, String)> = query.to_vec();
                pairs.push(("format", format.name().to_owned()));
                (label, format!("{api}?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default()))
            })
            .collect();
        ResultsView {
            header: grid.header,
            label_columns: grid.label_columns,
            rows,
            notes: grid.notes,
            exports,
            published: table.sections.iter().any(|s| !s.published.is_empty()),
            any_published,
        }
    }
}

/// The published rows of `table` as chart lines: PGD best and AutoAttack.
pub fn references(table: &Table) -> Vec<Reference> {
    let mut out = Vec::new();
    for section in &table.sections {
        for p in &section.published {
            if let Some(best) = p.robust_best {
                out.push(Reference { label: format!("published: {} {} ({}, best)", p.paper, p.model, p.attack), y: best / 100.0 });
            }
            if let Some(aa) = p.autoattack {
                out.push(Reference { label: format!("published: {} {} (AutoAttack)", p.paper, p.model), y: aa / 100.0 });
            }
        }
    }
    out
}

/// `by` as a query asks it: repeated (`by=a&by=b`, the form's checkboxes)
/// or comma-separated (`by=a,b`, a pasted API link).
pub fn by_from_query(query: &[(String, String)]) -> Option<Vec<String>> {
    let values: Vec<&str> = query.iter().filter(|(k, _)| k == "by").map(|(_, v)| v.as_str()).collect();
    if values.is_empty() {
        return None;
    }
    Some(values.iter().flat_map(|v| crate::service::results::parse_by(v)).fold(Vec::new(), |mut keys, k| {
        if !keys.contains(&k) {
            keys.push(k);
        }
        keys
    }))
}

/// Whether published rows are shown: yes unless the form's box was cleared
/// (the last `published` value wins, after the form's hidden default).
pub fn published_from_query(query: &[(String, String)]) -> bool {
    query.iter().rev().find(|(k, _)| k == "published").is_none_or(|(_, v)| matches!(v.as_str(), "1" | "true" | "on"))
}

pub fn by_label(by: &[String]) -> String {
    if by.is_empty() { "nothing (all runs together)".to_owned() } else { by.join(" × ") }
}

