//! Several comparisons on one page (`descent report A B … --out DIR`): for each optimizer, its
//! chosen setting and final errors in every report, so that a 2-epoch and a 10-epoch study (or
//! two problems) can be read together; then each report's own verdict.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use descent::lab::{Results, SummaryRow};

use super::html::STYLE;
use super::verdict::{metric_value, verdict};
use crate::plot::escape;
use crate::{bad_input, table};

/// The page, in the `--out` folder.
pub const SIDE_BY_SIDE_FILE: &str = "side-by-side.html";

/// Each report's column heading: `NAME (problem, N epochs, S seeds)`.
fn heading(name: &str, results: &Results) -> String {
    let experiment = &results.experiment;
    let unit = if experiment.problem().is_classifier() { "epochs" } else { "updates" };
    format!("{name} ({}, {} {unit}, {} seeds)", experiment.problem, experiment.epochs, experiment.seeds)
}

/// Every optimizer of any report, in the order first met.
fn optimizers(all: &[Results]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for results in all {
        for variant in &results.experiment.variants {
            if !names.contains(&variant.name) {
                names.push(variant.name.clone());
            }
        }
    }
    names
}

/// One cell: the chosen setting, final test (mean ± std) and final validation error.
fn cell(results: &Results, row: Option<&SummaryRow>) -> String {
    let Some(row) = row else { return "—".into() };
    let std = row.test_error_std.map_or(String::new(), |s| format!(" ± {}", metric_value(results, s)));
    let others = if row.best_setting.is_empty() { String::new() } else { format!(", {}", row.best_setting) };
    format!(
        "lr {}{others}: test {}{std}, val {}",
        table::number(row.best_lr, 3),
        metric_value(results, row.test_error_mean),
        metric_value(results, row.val_error_mean)
    )
}

/// The table's rows: one per optimizer, a cell per report.
fn rows(all: &[Results]) -> Vec<Vec<String>> {
    let summaries: Vec<Vec<SummaryRow>> = all.iter().map(Results::summary).collect();
    optimizers(all)
        .into_iter()
        .map(|name| {
            let mut cells = vec![name.clone()];
            for (results, summary) in all.iter().zip(&summaries) {
                cells.push(cell(results, summary.iter().find(|r| r.variant == name)));
            }
            cells
        })
        .collect()
}

/// The table and every verdict, for the terminal.
pub fn text(names: &[String], all: &[Results]) -> String {
    let headings: Vec<String> = names.iter().zip(all).map(|(name, results)| heading(name, results)).collect();
    let mut header = vec!["optimizer"];
    header.extend(headings.iter().map(String::as_str));
    let mut text = table::render(&header, &rows(all));
    for (heading, results) in headings.iter().zip(all) {
        let _ = write!(text, "\n{heading}:\n");
        for sentence in verdict(results, &results.summary()) {
            text.push_str(&sentence);
            text.push('\n');
        }
    }
    text
}

/// Writes the page into `out` (new, empty, or holding such a page); returns its path.
pub fn write(names: &[String], all: &[Results], out: &Path) -> Result<PathBuf> {
    let path = out.join(SIDE_BY_SIDE_FILE);
    if !path.is_file() && !descent::files::is_free_folder(out) {
        return Err(bad_input(format!(
            "--out {}: exists and holds no {SIDE_BY_SIDE_FILE}; choose a new or empty folder",
            out.display()
        )));
    }
    std::fs::create_dir_all(out).map_err(|e| bad_input(format!("--out {}: cannot create: {e}", out.display())))?;
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>descent: reports side by side</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>Reports side by side</h1>\n<p>Each optimizer at the setting chosen on validation error in each report, \
         with its final test error (mean ± standard deviation over the reported seeds) and final validation \
         error.</p>\n<table id=\"side-by-side\">\n<thead><tr><th>optimizer</th>"
    );
    for (name, results) in names.iter().zip(all) {
        let _ = write!(html, "<th>{}</th>", escape(&heading(name, results)));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for cells in rows(all) {
        html.push_str("<tr>");
        for cell in cells {
            let _ = write!(html, "<td>{}</td>", escape(&cell));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody>\n</table>\n");
    for (name, results) in names.iter().zip(all) {
        let _ = write!(html, "<h2>{}</h2>\n<section class=\"verdict\">\n", escape(&heading(name, results)));
        for sentence in verdict(results, &results.summary()) {
            let _ = writeln!(html, "<p>{}</p>", escape(&sentence));
        }
        html.push_str("</section>\n");
    }
    html.push_str(
        "<p><small>Made by descent (<code>descent report A B … --out DIR</code>).</small></p>\n</body>\n</html>\n",
    );
    crate::plot::write_file(&path, html.as_bytes())?;
    Ok(path)
}
