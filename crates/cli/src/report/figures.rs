//! The report's plots: curves of the chosen rate (mean over seeds, with the spread between the
//! best and worst seed as a band) against epochs and against seconds, and the rate sensitivity.

use descent::lab::{Band, Results, Variant};
use descent::train::EpochMetrics;
use descent::trajectory::{Point, Trajectory};

use crate::commands::optimize::contour_figure;
use crate::plot::{Figure, PALETTE};

/// One plot of the report.
pub struct Plot {
    /// File name without extension (also the id of its figure in the HTML page).
    pub name: String,
    /// The sentence under it.
    pub caption: String,
    /// The figure.
    pub figure: Figure,
}

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 380.0;

/// Every plot for `results`.
pub fn plots(results: &Results) -> Vec<Plot> {
    match results.experiment.problem().function() {
        Some(_) => function_plots(results),
        None => classifier_plots(results),
    }
}

fn classifier_plots(results: &Results) -> Vec<Plot> {
    let error = |m: &EpochMetrics| m.val_error;
    let test = |m: &EpochMetrics| m.test_error;
    let loss = |m: &EpochMetrics| m.train_loss;
    let seeds = results.experiment.seeds;
    let spread =
        if seeds > 1 { format!("; the band spans the best and worst of {seeds} seeds") } else { String::new() };
    // The 0-1 error in percent from 0; a loss or reconstruction error as itself, on a log axis.
    let percent = results.metric.starts_with("0-1 error");
    let (named, metric_axis) =
        if percent { ("error".to_string(), Axis::Percent) } else { (results.metric.clone(), Axis::Log) };
    let (val_title, test_title) = (format!("validation {named}"), format!("test {named}"));
    let loss_title = if percent {
        "training loss (NLL, running mean over each epoch)"
    } else {
        "training loss (running mean over each epoch)"
    };
    let chosen_on = format!("the {named} the rates were chosen on");
    let mut plots = Vec::new();
    for (time, axis) in [(false, "epochs"), (true, "seconds")] {
        let x_label = if time { "training seconds (evaluation excluded)" } else { "epoch" };
        let suffix = if time { "seconds" } else { "epochs" };
        for (name, title, pick, y_axis, what) in [
            ("val-error", val_title.as_str(), &error as &dyn Fn(&EpochMetrics) -> f64, metric_axis, chosen_on.as_str()),
            ("test-error", test_title.as_str(), &test, metric_axis, "never used for any choice"),
            ("train-loss", loss_title, &loss, Axis::Log, "the surrogate the optimizers minimize"),
        ] {
            plots.push(Plot {
                name: format!("{name}-{suffix}"),
                caption: format!(
                    "{} against {axis} at each optimizer's chosen rate: {what}{spread}.",
                    capitalize(title)
                ),
                figure: curves(results, pick, y_axis, time, &format!("{title} against {axis}"), x_label, title),
            });
        }
    }
    plots.push(Plot {
        name: "lr-sensitivity".into(),
        caption: format!(
            "Final validation {named} at every rate tried (mean over the tuning seeds, at the chosen values of \
             everything else): a flat curve means an optimizer that forgives a poorly chosen rate; a cross marks \
             a rate that diverged."
        ),
        figure: sensitivity(results, &format!("final validation {named}")),
    });
    plots
}

fn function_plots(results: &Results) -> Vec<Plot> {
    let experiment = &results.experiment;
    let function = experiment.problem().function().expect("a 2-D problem");
    let paths: Vec<Trajectory> = experiment
        .variants
        .iter()
        .filter_map(|variant| {
            let run = results.final_runs(variant).into_iter().next()?;
            let points = run
                .path
                .iter()
                .enumerate()
                .map(|(step, &[x, y])| Point { step: step as u64, x, y, f: function.value(x, y) })
                .collect();
            Some(Trajectory { optimizer: variant.name.clone(), points, diverged_at: None })
        })
        .collect();
    let log = results.metric != "f";
    let metric = if log { "f − f*" } else { "f" };
    let pick = |m: &EpochMetrics| m.val_error;
    let title = format!("{} against updates", results.metric);
    let gap = if log {
        curves(results, &pick, Axis::Log, false, &title, "update", metric)
    } else {
        curves(results, &pick, Axis::Linear, false, &title, "update", metric)
    };
    vec![
        Plot {
            name: "contour".into(),
            caption: format!(
                "The paths of every optimizer at its chosen rate on the contour lines of {function}; \
                 the circle is the start, squares the ends, stars the minima."
            ),
            figure: contour_figure(&function, &paths, &experiment.variants[0].schedule),
        },
        Plot {
            name: "gap-updates".into(),
            caption: format!("{} at each update, at each optimizer's chosen rate.", capitalize(&results.metric)),
            figure: gap,
        },
        Plot {
            name: "lr-sensitivity".into(),
            caption: format!("Final {} at every rate of the grid; a cross marks a rate that diverged.", results.metric),
            figure: sensitivity(results, &results.metric),
        },
    ]
}

/// How a curve's values are shown.
#[derive(Clone, Copy)]
enum Axis {
    /// Fractions as percent, from 0.
    Percent,
    /// Positive values on a log axis.
    Log,
    /// As they are.
    Linear,
}

/// Mean curves with bands, one per variant, against epoch or seconds.
fn curves(
    results: &Results,
    pick: &dyn Fn(&EpochMetrics) -> f64,
    axis: Axis,
    against_time: bool,
    title: &str,
    x_label: &str,
    y_label: &str,
) -> Figure {
    let bands: Vec<(&Variant, Vec<Band>)> =
        results.experiment.variants.iter().map(|v| (v, results.band(v, pick))).collect();
    let x_of = |b: &Band| if against_time { b.seconds } else { b.epoch as f64 };
    let all = || bands.iter().flat_map(|(_, b)| b.iter());
    let x_max = all().map(x_of).fold(0.0, f64::max);
    let x_min = if against_time { 0.0 } else { 1.0 };
    // The axes take in every band: errors from 0 in percent, losses on a log axis so that a
    // first epoch far above the rest does not flatten every curve.
    let x_domain = (x_min, x_max.max(x_min + 1e-9));
    let mut figure = match axis {
        Axis::Percent => Figure::new(WIDTH, HEIGHT, x_domain, (0.0, 0.0))
            .labels(title, x_label, &format!("{y_label} (%)"))
            .percent_y(),
        Axis::Log => Figure::new(WIDTH, HEIGHT, x_domain, (f64::NAN, f64::NAN))
            .labels(title, x_label, &format!("{y_label} (log scale)"))
            .log_scale(false, true),
        Axis::Linear => Figure::new(WIDTH, HEIGHT, x_domain, (f64::NAN, f64::NAN)).labels(title, x_label, y_label),
    };
    // Seven translucent bands over each other turn to mud: fainter fills past three, with
    // each band's edges drawn in its colour.
    let opacity = if bands.len() > 3 { 0.07 } else { 0.15 };
    for (index, (variant, band)) in bands.iter().enumerate() {
        let colour = PALETTE[index % PALETTE.len()];
        figure.band(&band.iter().map(|b| (x_of(b), b.low, b.high)).collect::<Vec<_>>(), colour, opacity);
        figure.line(&band.iter().map(|b| (x_of(b), b.mean)).collect::<Vec<_>>(), colour, Some(&variant.name));
    }
    figure
}

/// Final metric against log₁₀ rate, one line per variant; crosses for diverged rates.
fn sensitivity(results: &Results, y_label: &str) -> Figure {
    let variants = &results.experiment.variants;
    let curves: Vec<Vec<(f64, Option<f64>)>> = variants.iter().map(|v| results.sensitivity_curve(v)).collect();
    let values: Vec<f64> = curves.iter().flatten().filter_map(|(_, e)| *e).filter(|e| e.is_finite()).collect();
    let percent = results.metric.starts_with("0-1 error");
    let log = !percent && results.metric != "f" && values.iter().all(|v| *v > 0.0);
    let y_label = match (log, percent) {
        (true, _) => format!("{y_label} (log scale)"),
        (_, true) => format!("{y_label} (%)"),
        _ => y_label.to_string(),
    };
    // A diverged rate has no final value: its cross sits a little above the highest one.
    let highest = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lowest = values.iter().copied().fold(f64::INFINITY, f64::min);
    let top = match (highest.is_finite(), log) {
        (false, _) => 1.0,
        (true, true) => highest * 2.0,
        (true, false) => highest + 0.1 * (highest - lowest).max(highest.abs() * 0.1).max(1e-9),
    };
    let mut figure =
        Figure::new(WIDTH, HEIGHT, (f64::NAN, f64::NAN), if percent { (0.0, 0.0) } else { (f64::NAN, f64::NAN) })
            .labels("sensitivity to the learning rate", "learning rate (log scale)", &y_label)
            .log_scale(true, log);
    if percent {
        figure = figure.percent_y();
    }
    for (index, (variant, curve)) in variants.iter().zip(&curves).enumerate() {
        let colour = PALETTE[index % PALETTE.len()];
        let line: Vec<(f64, f64)> = curve.iter().map(|(lr, e)| (*lr, e.unwrap_or(f64::NAN))).collect();
        figure.line(&line, colour, Some(&variant.name));
        for (lr, error) in curve {
            match error {
                Some(e) => figure.marker((*lr, *e), "circle", colour, 3.5),
                None => figure.marker((*lr, top), "cross", colour, 5.0),
            }
        }
    }
    figure
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}
