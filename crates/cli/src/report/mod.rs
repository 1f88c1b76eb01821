//! The comparison report: `plots/*.svg|png` and `report.html`, rendered from `results.json`
//! (so `descent report DIR` can redraw it without training).

pub mod diagnose;
mod figures;
mod html;
pub mod side_by_side;
pub mod suite;
mod verdict;

pub use html::built_in_data;
pub use verdict::metric_text;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use descent::lab::Results;

use crate::table;

/// The page, in the report folder.
pub const REPORT_FILE: &str = "report.html";

/// Writes the plots and the page into `dir`; returns the page's path.
pub fn write(results: &Results, dir: &Path) -> Result<PathBuf> {
    let summary = results.summary();
    let plots = figures::plots(results);
    let plot_dir = dir.join("plots");
    std::fs::create_dir_all(&plot_dir).with_context(|| format!("{}: cannot create folder", plot_dir.display()))?;
    for plot in &plots {
        for extension in ["svg", "png"] {
            crate::plot::save(&plot.figure, &plot_dir.join(format!("{}.{extension}", plot.name)))?;
        }
    }
    let sentences = verdict::verdict(results, &summary);
    let page = html::page(results, &summary, &sentences, &plots);
    let path = dir.join(REPORT_FILE);
    crate::plot::write_file(&path, page.as_bytes())?;
    Ok(path)
}

/// The summary table and the verdict, for the terminal.
pub fn text_summary(results: &Results) -> String {
    let summary = results.summary();
    let mut text = table::render(&html::columns(results), &html::rows(results, &summary));
    text.push('\n');
    for sentence in verdict::verdict(results, &summary) {
        text.push_str(&sentence);
        text.push('\n');
    }
    text
}
