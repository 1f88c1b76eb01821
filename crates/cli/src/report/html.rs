//! `report.html`: one self-contained page (styles and plots inline, nothing fetched) with the
//! setup, the summary table, the verdict and every plot.

use std::fmt::Write as _;

use descent::lab::{Results, SummaryRow};
use descent::problems::Source;

use super::figures::Plot;
use super::verdict::metric_value;
use crate::plot::escape;
use crate::table;

pub const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:960px;margin:2em auto;\
padding:0 1em;color:#222;line-height:1.45}h1{font-size:1.6em}h2{margin-top:1.8em;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;font-variant-numeric:tabular-nums;display:block;overflow-x:auto;max-width:100%}td{white-space:nowrap}th,td{padding:.35em .7em;border-bottom:1px solid #e4e4e4;\
text-align:right}th:first-child,td:first-child{text-align:left}thead th{background:#f4f4f4}tr.best td{font-weight:600}\
figure{margin:1.5em 0}figure svg{max-width:100%;height:auto}figcaption{color:#555;font-size:.92em}\
.verdict{background:#f5f9ff;border-left:4px solid #1f77b4;padding:.6em 1em}code{background:#f4f4f4;padding:0 .25em}";

/// The summary table's header (a 2-D function has no held-out data and counts updates).
pub fn columns(results: &Results) -> Vec<&'static str> {
    if results.experiment.problem().is_classifier() {
        vec![
            "optimizer",
            "chosen on validation",
            "final test (mean ± std)",
            "final val",
            "best val",
            "epochs to target",
            "updates to target",
            "seconds to target (this machine)",
            "rate range (decades)",
            "diverged runs",
        ]
    } else {
        vec![
            "optimizer",
            "chosen",
            "final",
            "final (no held-out set)",
            "lowest on the path",
            "updates to target",
            "seconds to target (this machine)",
            "rate range (decades)",
            "diverged runs",
        ]
    }
}

/// The summary table's cells, as text (shared by the terminal table and the page).
pub fn rows(results: &Results, summary: &[SummaryRow]) -> Vec<Vec<String>> {
    let classifier = results.experiment.problem().is_classifier();
    summary
        .iter()
        .map(|row| {
            let std = row.test_error_std.map_or(String::new(), |s| format!(" ± {}", metric_value(results, s)));
            let others = if row.best_setting.is_empty() { String::new() } else { format!(", {}", row.best_setting) };
            let width = match row.lr_width {
                Some(width) => format!(
                    "{}{width:.2}{}",
                    if row.lr_width_open { "≥ " } else { "" },
                    row.lr_width_std.map_or(String::new(), |s| format!(" ± {s:.2}"))
                ),
                None => "all diverged".into(),
            };
            let mut cells = vec![
                row.variant.clone(),
                format!(
                    "lr {}{}{others}",
                    table::number(row.best_lr, 3),
                    if row.best_at_edge { " (edge)" } else { "" }
                ),
                format!("{}{std}", metric_value(results, row.test_error_mean)),
                metric_value(results, row.val_error_mean),
                metric_value(results, row.best_val_error),
                row.epochs_to_target.map_or("not reached".into(), |e| e.to_string()),
            ];
            if classifier {
                cells.push(row.updates_to_target.map_or("not reached".into(), |u| u.to_string()));
            }
            cells.extend([
                row.seconds_to_target.map_or("not reached".into(), |s| format!("{s:.1}")),
                width,
                row.diverged_runs.to_string(),
            ]);
            cells
        })
        .collect()
}

/// What a problem trains on without `--data`: the bundled subset, or what it draws itself.
pub fn built_in_data(source: Source) -> &'static str {
    match source {
        Source::Mnist => "the bundled MNIST subset (10,000 training, 2,000 test images)",
        Source::FashionMnist => "the bundled Fashion-MNIST subset (10,000 training, 2,000 test images)",
        Source::Adding => "adding-problem sequences drawn from a fixed seed (10,000 training, 2,000 test)",
        Source::Quadratic => "N(0, 0.6²I) points drawn from a fixed seed (1,200 training, 1,000 test)",
        Source::Nothing => "none: a 2-D function from its customary start",
    }
}

/// The protocol, as the setup states it.
fn protocol(results: &Results) -> String {
    let experiment = &results.experiment;
    let seeds = |list: &[u64]| match list {
        [one] => format!("seed {one}"),
        [first, .., last] => format!("seeds {first} to {last}"),
        [] => "no seed".into(),
    };
    let (tuning, reported) = (experiment.tuning_seeds(), experiment.reported_seeds());
    if experiment.protocol == 1 {
        return format!(
            "Protocol (of an older descent): every rate of each grid ran with seed 1; the rate with the lowest final \
             validation {} was chosen, then rerun up to seed {}. Seed 1 is counted in the means, although it chose \
             the rate.",
            results.metric, experiment.seeds
        );
    }
    if !experiment.problem().is_classifier() {
        return format!(
            "Protocol: every setting of each variant runs once (the problem is deterministic); the one with the \
             lowest final {} is chosen (ties to the smaller rate).",
            results.metric
        );
    }
    format!(
        "Protocol: every setting of each variant (its rates, and whatever else it tunes over) runs with {}; the \
         setting with the lowest final validation {}{} is chosen (ties to the smaller rate; the test set never \
         influences a choice or a ranking); the chosen setting then runs with {}, and only those are reported, so \
         that no reported number comes from a seed that chose it.",
        seeds(&tuning),
        results.metric,
        if tuning.len() > 1 { ", averaged over them," } else { "" },
        seeds(&reported)
    )
}

/// The paired differences of every two variants (test error, then validation error).
fn pairs_table(html: &mut String, results: &Results) {
    let pairs = results.pairs();
    if pairs.is_empty() || !results.experiment.problem().is_classifier() {
        return;
    }
    html.push_str(
        "<h2>Paired differences</h2>\n<p>For each two optimizers, each at its chosen setting: the final error of \
         the first minus that of the second, seed by seed over the reported seeds (a seed fixes the \
         initialization and the split, so the difference removes what the seed does to both), with the 95% \
         t interval of its mean and the two-sided p-value. Every number is in <code>pairs.csv</code>.</p>\n\
         <table id=\"pairs\">\n<thead><tr><th>first</th><th>second</th><th>seeds</th><th>test: difference</th>\
         <th>95% interval</th><th>p</th><th>validation: difference</th><th>95% interval</th></tr></thead>\n<tbody>\n",
    );
    let interval = |d: &descent::lab::stats::PairedDifference| match d.interval {
        Some((low, high)) => format!(
            "[{}, {}]{}",
            metric_value(results, low),
            metric_value(results, high),
            if d.significant() { " *" } else { "" }
        ),
        None => "one seed".into(),
    };
    for pair in pairs {
        let cells = [
            pair.a.clone(),
            pair.b.clone(),
            pair.test.n.to_string(),
            metric_value(results, pair.test.mean),
            interval(&pair.test),
            pair.test.p_value.map_or(String::new(), |p| format!("{p:.3}")),
            metric_value(results, pair.val.mean),
            interval(&pair.val),
        ];
        html.push_str("<tr>");
        for cell in cells {
            let _ = write!(html, "<td>{}</td>", escape(&cell));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody>\n</table>\n<p>* the interval excludes zero (no correction for the number of pairs).</p>\n");
}

/// Per epoch, for each variant that clips by norm: the median gradient norm before clipping and
/// the fraction of updates clipped, averaged over the reported seeds.
fn clipping_table(html: &mut String, results: &Results, summary: &[SummaryRow]) {
    let mut rows = Vec::new();
    for row in summary {
        let Some(variant) = results.experiment.variants.iter().find(|v| v.name == row.variant) else { continue };
        let norms = results.band(variant, |m| m.grad_norm_median.unwrap_or(f64::NAN));
        let clipped = results.band(variant, |m| m.clipped_fraction.unwrap_or(f64::NAN));
        for (norm, fraction) in norms.iter().zip(&clipped) {
            if norm.mean.is_finite() && fraction.mean.is_finite() {
                rows.push([
                    row.variant.clone(),
                    norm.epoch.to_string(),
                    table::number(norm.mean, 3),
                    format!("{:.1}%", 100.0 * fraction.mean),
                ]);
            }
        }
    }
    if rows.is_empty() {
        return;
    }
    html.push_str(
        "<h2>Clipping</h2>\n<p>Where the chosen setting clips by norm: the median over each epoch's updates of the \
         gradient norm before clipping, and the fraction of updates the clipping shrank (means over the reported \
         seeds; per run in each <code>metrics.csv</code>).</p>\n<table id=\"clipping\">\n<thead><tr><th>optimizer</th>\
         <th>epoch</th><th>median ‖g‖ before clipping</th><th>updates clipped</th></tr></thead>\n<tbody>\n",
    );
    for cells in rows {
        html.push_str("<tr>");
        for cell in cells {
            let _ = write!(html, "<td>{}</td>", escape(&cell));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody>\n</table>\n");
}

/// The page.
pub fn page(results: &Results, summary: &[SummaryRow], verdict: &[String], plots: &[Plot]) -> String {
    let experiment = &results.experiment;
    let problem = experiment.problem();
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>descent compare: {name}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>Optimizers compared on <code>{name}</code></h1>\n<p>{description}.</p>\n",
        name = escape(&experiment.problem),
        description = escape(&results.description)
    );
    html.push_str("<section id=\"verdict\" class=\"verdict\">\n");
    for sentence in verdict {
        let _ = writeln!(html, "<p>{}</p>", escape(sentence));
    }
    html.push_str("</section>\n<h2>Setup</h2>\n<ul id=\"setup\">\n");
    let data = match &experiment.data {
        Some(dir) => escape(&dir.display().to_string()),
        None => built_in_data(problem.data).into(),
    };
    let unit = if problem.is_classifier() { "epochs" } else { "updates" };
    let mut facts = vec![
        format!("Data: {data}."),
        format!(
            "Budget: {} {unit} per run; target: {}{} ≤ {}.",
            experiment.epochs,
            if problem.is_classifier() { "test " } else { "" },
            results.metric,
            metric_value(results, experiment.target)
        ),
    ];
    if problem.is_classifier() {
        facts.push(format!(
            "Minibatches of {}; {} training examples held out for validation; one thread per run.",
            experiment.batch, experiment.val_size
        ));
    }
    facts.push(protocol(results));
    facts.push(format!(
        "Hyperparameters other than the rate: the {} convention's defaults unless listed.",
        experiment.convention
    ));
    for variant in &experiment.variants {
        let mut settings = Vec::new();
        for (name, value) in [
            ("momentum", variant.momentum),
            ("rho", variant.rho),
            ("beta1", variant.beta1),
            ("beta2", variant.beta2),
            ("eps", variant.eps),
            ("weight decay", variant.weight_decay),
        ] {
            if let Some(value) = value {
                settings.push(format!("{name} {value}"));
            }
        }
        if let Some(clip) = &variant.clip {
            settings.push(format!("clip {clip}"));
        }
        if variant.schedule != "constant" && variant.schedules.is_empty() {
            settings.push(format!("schedule {}", variant.schedule));
        }
        if let Some(epochs) = variant.epochs {
            settings.push(format!("{epochs} {unit}"));
        }
        // Every rate that ran, the grid's growth at an edge included.
        let mut ran: Vec<f64> =
            results.runs.iter().filter(|r| r.variant == variant.name).map(|r| r.setting.lr).collect();
        ran.extend(&variant.lrs);
        ran.sort_by(f64::total_cmp);
        ran.dedup();
        let grown: Vec<String> =
            ran.iter().filter(|lr| !variant.lrs.contains(lr)).map(|lr| table::number(*lr, 3)).collect();
        let grid: Vec<String> = ran.iter().map(|lr| table::number(*lr, 3)).collect();
        let mut tuned = vec![match grown.len() {
            0 => format!("rates {}", grid.join(", ")),
            _ => {
                format!("rates {} ({} added where the best lay at the grid's edge)", grid.join(", "), grown.join(", "))
            }
        }];
        if !variant.momenta.is_empty() {
            let list: Vec<String> = variant.momenta.iter().map(|m| m.to_string()).collect();
            tuned.push(format!("momenta {}", list.join(", ")));
        }
        if !variant.schedules.is_empty() {
            tuned.push(format!("schedules {}", variant.schedules.join(", ")));
        }
        if !variant.clips.is_empty() {
            tuned.push(format!("clippings {}", variant.clips.join(", ")));
        }
        facts.push(format!(
            "<code>{}</code>: {}{}; tuned over {}.",
            escape(&variant.name),
            escape(&variant.optimizer),
            if settings.is_empty() { String::new() } else { format!(" ({})", escape(&settings.join(", "))) },
            escape(&tuned.join(" × "))
        ));
    }
    for fact in facts {
        let _ = writeln!(html, "<li>{fact}</li>");
    }
    html.push_str("</ul>\n<h2>Results</h2>\n<table id=\"summary\">\n<thead><tr>");
    for column in columns(results) {
        let _ = write!(html, "<th>{}</th>", escape(column));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    let best = summary.iter().map(|r| r.test_error_mean).fold(f64::INFINITY, f64::min);
    for (row, cells) in summary.iter().zip(rows(results, summary)) {
        let class = if row.test_error_mean == best { " class=\"best\"" } else { "" };
        let _ = write!(html, "<tr{class}>");
        for cell in cells {
            let _ = write!(html, "<td>{}</td>", escape(&cell));
        }
        html.push_str("</tr>\n");
    }
    let _ = write!(
        html,
        "</tbody>\n</table>\n<p>Rate range: how many decades of learning rate keep the final validation error \
         within {:.0}% of its best, at the chosen values of everything else (the curve is followed out from the \
         best rate and read linearly in log rate between tried rates; a diverged rate ends it; ≥ where the range \
         reaches the edge of the grid; ± the spread over tuning seeds). Every number is in \
         <code>summary.csv</code>; every run and epoch in <code>results.json</code>.</p>\n",
        100.0 * descent::lab::results::LR_TOLERANCE
    );
    pairs_table(&mut html, results);
    clipping_table(&mut html, results, summary);
    html.push_str("<h2>Plots</h2>\n");
    for plot in plots {
        // Inline SVGs share one id namespace: give each figure's clip path its own id.
        let svg = plot.figure.to_svg().replace("plot-area", &format!("plot-area-{}", plot.name));
        let _ = write!(
            html,
            "<figure id=\"plot-{name}\">\n{svg}<figcaption>{caption} (<a href=\"plots/{name}.svg\">SVG</a>, \
             <a href=\"plots/{name}.png\">PNG</a>)</figcaption>\n</figure>\n",
            name = plot.name,
            caption = escape(&plot.caption)
        );
    }
    html.push_str(
        "<p><small>Made by descent. Re-render with <code>descent report DIR</code>.</small></p>\n</body>\n</html>\n",
    );
    html
}
