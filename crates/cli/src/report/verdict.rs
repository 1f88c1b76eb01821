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

/// Sentences saying who won by how much, whether that is more than the seeds' spread, how the
/// winners fared against plain SGD, who was least sensitive to the rate, and what to distrust.
pub fn verdict(results: &Results, rows: &[SummaryRow]) -> Vec<String> {
    let experiment = &results.experiment;
    let mut ranked: Vec<&SummaryRow> = rows.iter().collect();
    ranked.sort_by(|a, b| a.test_error_mean.total_cmp(&b.test_error_mean));
    let Some(winner) = ranked.first() else {
        return vec!["No optimizer finished its learning-rate grid, so there is nothing to compare yet.".into()];
    };
    let classifier = results.experiment.problem().is_classifier();
    let budget = if classifier { "epochs" } else { "updates" };
    // A 2-D function has no held-out data: its only value is f at the end.
    let (final_test, validation) = if classifier { ("final test ", "validation ") } else { ("final ", "") };
    let seeds = if winner.seeds > 1 { format!(" (mean of {} seeds)", winner.seeds) } else { String::new() };
    let mut sentences = vec![format!(
        "After {} {budget}, {} at rate {} reached the lowest {final_test}{}: {}{seeds}.",
        experiment.epochs,
        winner.variant,
        table::number(winner.best_lr, 3),
        results.metric,
        metric_value(results, winner.test_error_mean)
    )];
    if let Some(second) = ranked.get(1) {
        let margin = second.test_error_mean - winner.test_error_mean;
        let spread = winner.test_error_std.unwrap_or(0.0) + second.test_error_std.unwrap_or(0.0);
        let judgement = if winner.test_error_std.is_none() {
            "with one seed, how much of this is chance cannot be told"
        } else if margin > spread {
            "more than the spread over seeds (the two standard deviations added), so the lead is clear"
        } else {
            "within the spread over seeds, so this is not a clear win"
        };
        sentences.push(format!(
            "The runner-up, {}, was {} behind ({}): {judgement}.",
            second.variant,
            metric_difference(results, margin),
            metric_value(results, second.test_error_mean)
        ));
    }
    if let Some(sgd) = rows.iter().find(|r| r.optimizer == "sgd") {
        let ahead: Vec<&str> = ranked
            .iter()
            .filter(|r| r.test_error_mean < sgd.test_error_mean && r.variant != sgd.variant)
            .map(|r| r.variant.as_str())
            .collect();
        sentences.push(match ahead.len() {
            0 => format!(
                "Plain SGD ({}) was not beaten by any other optimizer at equal {budget}.",
                metric_value(results, sgd.test_error_mean)
            ),
            _ => format!(
                "Plain SGD finished at {}; ahead of it at equal {budget}: {}.",
                metric_value(results, sgd.test_error_mean),
                ahead.join(", ")
            ),
        });
    }
    if rows.len() > 1 && rows.iter().any(|r| experiment.variants.iter().any(|v| v.name == r.variant && v.lrs.len() > 1))
    {
        let mut by_sensitivity: Vec<&SummaryRow> = rows.iter().collect();
        by_sensitivity.sort_by(|a, b| a.sensitivity.total_cmp(&b.sensitivity));
        let (least, most) = (by_sensitivity[0], by_sensitivity[by_sensitivity.len() - 1]);
        sentences.push(format!(
            "{} was the least sensitive to the learning rate: over its grid, its {validation}{} was on average {} \
             above its best; {} was the most sensitive ({}{}).",
            least.variant,
            results.metric,
            metric_difference(results, least.sensitivity),
            most.variant,
            metric_difference(results, most.sensitivity),
            match most.diverged_runs {
                0 => String::new(),
                n => format!(", {n} run{} diverged", if n == 1 { "" } else { "s" }),
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
            match first.seconds_to_target {
                Some(seconds) if classifier => format!(" ({seconds:.1} s of training)"),
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
