//! The plain-language verdict of a comparison, drawn from the summary numbers.

use descent::lab::{Results, SummaryRow};

use crate::table;

/// A value of the problem's metric as people read it: a percentage for the 0-1 error.
pub fn metric_value(results: &Results, value: f64) -> String {
    metric_text(&results.metric, value)
}

/// A value of `metric` as people read it: a percentage for the 0-1 error.
pub fn metric_text(metric: &str, value: f64) -> String {
    if metric.starts_with("0-1 error") {
        format!("{:.2}%", 100.0 * value)
    } else {
        table::number(value, 3)
    }
}

/// A difference of the metric: percentage points for the 0-1 error.
fn metric_difference(results: &Results, value: f64) -> String {
    if results.metric.starts_with("0-1 error") {
        format!("{:.2} points", 100.0 * value)
    } else {
        table::number(value, 3)
    }
}

/// A signed difference of the metric: `+0.42 points`.
fn signed_difference(results: &Results, value: f64) -> String {
    let sign = if value >= 0.0 { "+" } else { "−" };
    format!("{sign}{}", metric_difference(results, value.abs()))
}

/// A 95% interval of a difference, in the unit of [`signed_difference`]: `[−0.60, +1.06]`.
fn interval(results: &Results, (low, high): (f64, f64)) -> String {
    let number = |v: f64| {
        let text = if results.metric.starts_with("0-1 error") {
            format!("{:.2}", 100.0 * v.abs())
        } else {
            table::number(v.abs(), 3)
        };
        format!("{}{text}", if v >= 0.0 { "+" } else { "−" })
    };
    format!("[{}, {}]", number(low), number(high))
}

/// The chosen setting as a phrase: `rate 0.1` or `rate 0.1, momentum 0.9, schedule cosine`.
fn setting(row: &SummaryRow) -> String {
    let mut text = format!("rate {}", table::number(row.best_lr, 3));
    if !row.best_setting.is_empty() {
        text.push_str(&format!(", {}", row.best_setting));
    }
    text
}

/// Sentences saying who came first on validation at its validation-chosen setting, how the
/// others differ from it on test error paired seed by seed (with 95% intervals, and whether the
/// difference is significant), how the winners fared against plain SGD, who was least sensitive
/// to the rate, and what to distrust. Test error never ranks anything.
pub fn verdict(results: &Results, rows: &[SummaryRow]) -> Vec<String> {
    let experiment = &results.experiment;
    let mut ranked: Vec<&SummaryRow> = rows.iter().collect();
    ranked.sort_by(|a, b| a.val_error_mean.total_cmp(&b.val_error_mean));
    let Some(winner) = ranked.first() else {
        return vec!["No optimizer finished its tuning, so there is nothing to compare yet.".into()];
    };
    let classifier = results.experiment.problem().is_classifier();
    let budget = if classifier { "epochs" } else { "updates" };
    let mut sentences = Vec::new();
    if experiment.protocol == 1 {
        sentences.push(
            "This report was made by an older descent: seed 1 chose each rate and is counted in the means \
             (the winner's curse); run the comparison again for numbers from seeds that chose nothing."
                .to_string(),
        );
    }
    let reported = if winner.seeds > 1 { format!("mean of {} seeds", winner.seeds) } else { "one seed".into() };
    let untouched =
        if experiment.protocol == 1 || !classifier { "" } else { ", none of which took part in the choice" };
    if classifier {
        sentences.push(format!(
            "After {} {budget}, each optimizer at the setting chosen on validation error: {} ({}) had the lowest \
             final validation {}, {}; its final test {} was {} ({reported}{untouched}).",
            experiment.epochs,
            winner.variant,
            setting(winner),
            results.metric,
            metric_value(results, winner.val_error_mean),
            results.metric,
            metric_value(results, winner.test_error_mean),
        ));
    } else {
        sentences.push(format!(
            "After {} {budget}, {} ({}) reached the lowest final {}: {}.",
            experiment.epochs,
            winner.variant,
            setting(winner),
            results.metric,
            metric_value(results, winner.val_error_mean)
        ));
    }
    let others: Vec<&&SummaryRow> = ranked.iter().skip(1).collect();
    if !others.is_empty() && classifier {
        let mut judged = Vec::new();
        let mut significant = 0;
        for other in &others {
            let Some(pair) = results.pair(&other.variant, &winner.variant) else { continue };
            let difference = pair.test;
            match difference.interval {
                Some(bounds) => {
                    let verdict = if difference.significant() {
                        significant += 1;
                        "significant"
                    } else {
                        "not significant"
                    };
                    judged.push(format!(
                        "{} {} {} ({verdict})",
                        other.variant,
                        signed_difference(results, difference.mean),
                        interval(results, bounds)
                    ));
                }
                None => judged.push(format!("{} {}", other.variant, signed_difference(results, difference.mean))),
            }
        }
        let seeds = results.pairs().first().map_or(0, |p| p.test.n);
        // "Test error" for a 0-1 error, "Test loss", "Test reconstruction error", "f − f*".
        let compared = match (classifier, results.metric.starts_with("0-1 error")) {
            (true, true) => "Test error".to_string(),
            (true, false) => format!("Test {}", results.metric),
            (false, _) => results.metric.clone(),
        };
        if seeds < 2 {
            sentences.push(format!(
                "{compared} against {}, seed by seed: {}; with one seed, how much of this is chance cannot be told.",
                winner.variant,
                judged.join("; ")
            ));
        } else {
            sentences.push(format!(
                "{compared} against {}, paired over the {seeds} seeds (same initialization and split), with 95% \
                 intervals: {}.",
                winner.variant,
                judged.join("; ")
            ));
            sentences.push(match significant {
                0 => format!(
                    "No difference to {} is significant at 95%: on this budget the optimizers cannot be told \
                     apart, and their order may be chance.",
                    winner.variant
                ),
                n if n == judged.len() => {
                    format!("{} is significantly ahead of every other optimizer.", winner.variant)
                }
                _ => format!(
                    "Where the interval holds zero, the difference to {} may be chance (no correction is made for \
                     comparing {} pairs).",
                    winner.variant,
                    rows.len() * (rows.len() - 1) / 2
                ),
            });
        }
    }
    if let Some(sgd) = rows.iter().find(|r| r.optimizer == "sgd") {
        let ahead: Vec<&str> = ranked
            .iter()
            .filter(|r| r.variant != sgd.variant)
            .filter(|r| match results.pair(&r.variant, &sgd.variant) {
                Some(pair) if pair.test.interval.is_some() => pair.test.significant() && pair.test.mean < 0.0,
                _ => r.test_error_mean < sgd.test_error_mean,
            })
            .map(|r| r.variant.as_str())
            .collect();
        let test = if classifier { "test " } else { "" };
        sentences.push(match ahead.len() {
            0 => format!(
                "Plain SGD ({}) was not beaten on {test}{} at equal {budget}{}.",
                metric_value(results, sgd.test_error_mean),
                results.metric,
                if winner.seeds > 1 && classifier { " by a significant paired difference" } else { "" }
            ),
            _ => format!(
                "Plain SGD finished at {}; ahead of it at equal {budget}{}: {}.",
                metric_value(results, sgd.test_error_mean),
                if winner.seeds > 1 && classifier { " (significantly, paired over seeds)" } else { "" },
                ahead.join(", ")
            ),
        });
    }
    let widths: Vec<(&SummaryRow, f64)> = rows.iter().filter_map(|r| Some((r, r.lr_width?))).collect();
    if widths.len() > 1
        && rows.iter().any(|r| experiment.variants.iter().any(|v| v.name == r.variant && v.lrs.len() > 1))
    {
        let widest = widths.iter().max_by(|a, b| a.1.total_cmp(&b.1)).expect("two or more");
        let narrowest = widths.iter().min_by(|a, b| a.1.total_cmp(&b.1)).expect("two or more");
        let describe = |row: &SummaryRow, width: f64| {
            let spread = row.lr_width_std.map_or(String::new(), |s| format!(" ± {s:.2}"));
            let bound = if row.lr_width_open { "at least " } else { "" };
            format!("{bound}{width:.2}{spread} decades")
        };
        sentences.push(format!(
            "{} was the least sensitive to the learning rate: its {}{} stayed within {:.0}% of its best over {} of \
             rates; {} over the narrowest range ({}{}).",
            widest.0.variant,
            if classifier { "validation " } else { "" },
            results.metric,
            100.0 * descent::lab::results::LR_TOLERANCE,
            describe(widest.0, widest.1),
            narrowest.0.variant,
            describe(narrowest.0, narrowest.1),
            match narrowest.0.diverged_runs {
                0 => String::new(),
                n => format!("; {n} run{} diverged", if n == 1 { "" } else { "s" }),
            }
        ));
    }
    let mut reached: Vec<&SummaryRow> = rows.iter().filter(|r| r.epochs_to_target.is_some()).collect();
    reached.sort_by_key(|r| r.epochs_to_target);
    let target = metric_value(results, experiment.target);
    let test = if classifier { "test " } else { "" };
    sentences.push(match reached.first() {
        Some(first) => format!(
            "{} of {} reached the target {test}{} of {target}; {} first, at {} {}{}.",
            reached.len(),
            rows.len(),
            results.metric,
            first.variant,
            if classifier { "epoch" } else { "update" },
            first.epochs_to_target.unwrap_or(0),
            match (first.updates_to_target, first.seconds_to_target) {
                (Some(updates), Some(seconds)) if classifier =>
                    format!(" ({updates} updates; {seconds:.1} s of training here, a time that varies between runs)"),
                _ => String::new(),
            }
        ),
        None => format!("None reached the target {test}{} of {target} within the budget.", results.metric),
    });
    let edges: Vec<&str> = rows.iter().filter(|r| r.best_at_edge).map(|r| r.variant.as_str()).collect();
    if !edges.is_empty() {
        sentences.push(format!(
            "The chosen rate lies at the edge of the grid for {}: a wider grid might find a better one.",
            edges.join(", ")
        ));
    }
    sentences
}
