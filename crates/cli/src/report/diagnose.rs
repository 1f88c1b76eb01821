//! The pictures and page of the diagnostics: curvature against gradient size, λ_max against the
//! rate, and per-layer gradient and update sizes.

use std::fmt::Write as _;

use descent::diagnostics::{stability, CurvatureRow, LayerRow};
use descent::optim::OptimizerConfig;

use crate::plot::{self, escape, Figure, PALETTE};
use crate::table::number;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 300.0;

/// One panel: named series against x, on a log₁₀ y axis when `log`: values a log axis cannot
/// show (zero or negative) are drawn in the figure's strip for them, with a note, never dropped.
fn panel(title: &str, x_label: &str, y_label: &str, series: &[(&str, Vec<(f64, f64)>)], log: bool) -> Figure {
    let none = (f64::NAN, f64::NAN);
    let mut figure = Figure::new(WIDTH, HEIGHT, none, none).labels(title, x_label, y_label).log_scale(false, log);
    for (index, (name, points)) in series.iter().enumerate() {
        let colour = PALETTE[index % PALETTE.len()];
        figure.line(points, colour, Some(name));
        if points.len() <= 60 {
            for &point in points {
                figure.marker(point, "circle", colour, 2.5);
            }
        }
    }
    figure
}

fn series(rows: &[CurvatureRow], pick: impl Fn(&CurvatureRow) -> f64) -> Vec<(f64, f64)> {
    rows.iter().map(|r| (r.step as f64, pick(r))).collect()
}

/// A linear panel with its zero line drawn as a series of its own (so that the range always
/// includes 0), for quantities whose sign matters.
fn signed_panel(title: &str, y_label: &str, series: &[(&str, Vec<(f64, f64)>)], zero: &str) -> Figure {
    let steps = || series.iter().flat_map(|(_, p)| p.iter().map(|(x, _)| *x)).filter(|x| x.is_finite());
    let (first, last) = (steps().fold(f64::INFINITY, f64::min), steps().fold(f64::NEG_INFINITY, f64::max));
    let mut with_zero = series.to_vec();
    if first.is_finite() {
        with_zero.push((zero, vec![(first, 0.0), (last, 0.0)]));
    }
    panel(title, "update", y_label, &with_zero, false)
}

/// The rate against the optimizer's stable rate, with plain gradient descent's 2/λ_max beside
/// it where that is another number (for momentum, or for reference where no limit is known).
fn stability_panel(rows: &[CurvatureRow]) -> Figure {
    let mut lines = vec![("rate ε", series(rows, |r| r.lr)), ("stable rate", series(rows, |r| r.stable_lr))];
    if rows.iter().any(|r| r.stable_lr != 2.0 / r.lambda_max && r.lambda_max.is_finite()) {
        lines.push(("2/λ_max (plain gradient descent)", series(rows, |r| 2.0 / r.lambda_max)));
    }
    panel("the rate against the largest stable rate of the optimizer in use", "update", "log scale", &lines, true)
}

/// Whether any value of a column was measured.
fn measured(rows: &[CurvatureRow], pick: impl Fn(&CurvatureRow) -> f64) -> bool {
    rows.iter().any(|r| pick(r).is_finite())
}

/// The curvature monitor's panels (those whose values were measured).
pub fn curvature_figures(rows: &[CurvatureRow]) -> Vec<Figure> {
    let x = "update";
    let mut loss = panel("loss on the diagnostic batch", x, "loss", &[("L(θ)", series(rows, |r| r.loss))], false);
    let rises: Vec<&CurvatureRow> = rows.iter().filter(|r| r.actual_change > RISE * r.loss.abs()).collect();
    for row in &rises {
        loss.marker((row.step as f64, row.loss), "star", "#d62728", 4.0);
    }
    if !rises.is_empty() {
        loss.line(&[], "#d62728", Some("★ the update from here raised it by over 1%"));
    }
    let mut figures = vec![
        loss,
        panel(
            "the update taken: first-order gain, what curvature takes back, and the result",
            x,
            "log scale",
            &[
                ("first order −gᵀΔθ", series(rows, |r| -r.update_slope)),
                ("second order ½ΔθᵀHΔθ", series(rows, |r| 0.5 * r.update_curvature)),
                ("actual decrease −ΔL", series(rows, |r| -r.actual_change)),
            ],
            true,
        ),
        panel(
            "a plain step −εg, for comparison: its gain and what curvature takes back",
            x,
            "log scale",
            &[
                ("first order εgᵀg", series(rows, |r| r.first_order)),
                ("second order ½ε²gᵀHg", series(rows, |r| r.second_order)),
            ],
            true,
        ),
        panel(
            "curvature: the sharpest direction, along the gradient and along the update",
            x,
            "log scale",
            &[
                ("λ_max", series(rows, |r| r.lambda_max)),
                ("gᵀHg / gᵀg", series(rows, |r| r.g_hg / r.grad_norm.powi(2))),
                ("ΔθᵀHΔθ / ‖Δθ‖²", series(rows, |r| r.update_curvature / r.update_norm.powi(2))),
            ],
            true,
        ),
        stability_panel(rows),
        signed_panel(
            "α: where the update landed on the local parabola along it",
            "α",
            &[("α", series(rows, |r| r.alpha))],
            "0: at the parabola's minimum (−1 no move, 1 the far side)",
        ),
    ];
    if measured(rows, |r| r.hessian_trace) {
        figures.push(panel(
            "Hessian trace tr(H) (Hutchinson) beside λ_max",
            x,
            "log scale",
            &[("tr(H)", series(rows, |r| r.hessian_trace)), ("λ_max", series(rows, |r| r.lambda_max))],
            true,
        ));
    }
    if measured(rows, |r| r.grad_snr) {
        figures.push(panel(
            "gradient signal-to-noise ratio ‖ḡ‖²/tr Σ over the diagnostic batch",
            x,
            "log scale",
            &[("SNR of one example", series(rows, |r| r.grad_snr))],
            true,
        ));
    }
    figures.push(panel(
        "how far the parameters have moved",
        x,
        "log scale",
        &[("‖θ − θ₀‖", series(rows, |r| r.distance)), ("update size ‖Δθ‖", series(rows, |r| r.update_norm))],
        true,
    ));
    figures
}

/// The curvature panels as one SVG.
pub fn curvature_svg(rows: &[CurvatureRow]) -> String {
    plot::stack(&curvature_figures(rows))
}

/// Per-layer panels: gradient norm, parameter norm, update-to-parameter ratio.
pub fn layer_figures(rows: &[LayerRow]) -> Vec<Figure> {
    let layers = rows.iter().map(|r| r.layer).max().unwrap_or(0);
    let by_layer = |pick: &dyn Fn(&LayerRow) -> f64| -> Vec<(String, Vec<(f64, f64)>)> {
        (1..=layers)
            .map(|layer| {
                let points = rows.iter().filter(|r| r.layer == layer).map(|r| (r.step as f64, pick(r))).collect();
                (format!("layer {layer}"), points)
            })
            .collect()
    };
    let figure = |title: &str, pick: &dyn Fn(&LayerRow) -> f64| {
        let named = by_layer(pick);
        let borrowed: Vec<(&str, Vec<(f64, f64)>)> = named.iter().map(|(n, p)| (n.as_str(), p.clone())).collect();
        panel(title, "update", "log scale", &borrowed, true)
    };
    vec![
        figure("gradient norm per layer (minibatch, before clipping)", &|r| r.grad_norm),
        figure("parameter norm per layer", &|r| r.param_norm),
        figure("update-to-parameter ratio ‖Δθ‖/‖θ‖ per layer", &|r| r.update_ratio),
    ]
}

/// The per-layer panels as one SVG.
pub fn layers_svg(rows: &[LayerRow]) -> String {
    plot::stack(&layer_figures(rows))
}

/// A diagnosed update "raised the loss" when ΔL exceeds this share of L (smaller changes are
/// the noise of a minibatch step).
pub const RISE: f64 = 0.01;
/// Ill-conditioning's sign is reported when the loss fell by at least this share …
pub const LOSS_FALL: f64 = 0.10;
/// … while ‖g‖ grew by at least this factor and curvature along g stayed positive.
pub const GRADIENT_GROWTH: f64 = 1.5;
/// Curvature counts as negative below −NEGATIVE·|λ_max| (below 0 where λ_max was not estimated):
/// central differences in f32 leave a noise of about 1e-3 relative.
pub const NEGATIVE: f64 = 0.01;
/// α beyond ±ALPHA_FAR (in the median) counts as systematically overshooting or stopping short.
pub const ALPHA_FAR: f64 = 0.5;

/// The updates in `steps`, listed (at most five, then a count).
fn list(steps: &[u64]) -> String {
    let shown: Vec<String> = steps.iter().take(5).map(u64::to_string).collect();
    if steps.len() > 5 {
        format!("{} and {} more", shown.join(", "), steps.len() - 5)
    } else {
        shown.join(", ")
    }
}

/// The median of the finite values.
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut finite: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return f64::NAN;
    }
    finite.sort_by(f64::total_cmp);
    let middle = finite.len() / 2;
    if finite.len() % 2 == 1 {
        finite[middle]
    } else {
        0.5 * (finite[middle - 1] + finite[middle])
    }
}

/// Where the rate stands against the optimizer's stability limit at a row, in a sentence.
pub fn stability_sentence(row: &CurvatureRow, optimizer: &OptimizerConfig) -> String {
    if !row.lambda_max.is_finite() {
        return "λ_max was not estimated (--power-iterations 0), so no stable rate is known.".into();
    }
    let estimate = if row.power_converged {
        format!("λ_max ≈ {}", number(row.lambda_max, 4))
    } else {
        format!(
            "λ_max ≥ {} (the power iteration hit its cap of {} products with residual {}, so this is a lower bound)",
            number(row.lambda_max, 4),
            row.power_iterations,
            number(row.power_residual, 2)
        )
    };
    match stability::rule(optimizer) {
        Some(rule) if row.stable_lr.is_finite() => {
            let verdict = if row.rate_ratio < 1.0 { "inside" } else { "beyond" };
            format!(
                "At update {}, {estimate}: {} is stable on the local quadratic for ε < {rule} ≈ {}; the rate in use, \
                 {}, is {} of that limit ({verdict} it).",
                row.step,
                optimizer.name,
                number(row.stable_lr, 4),
                number(row.lr, 4),
                number(row.rate_ratio, 3)
            )
        }
        Some(_) => format!(
            "At update {}, {estimate}: the curvature is not positive, so the quadratic model sets no stable rate.",
            row.step
        ),
        None => format!(
            "At update {}, {estimate}. No stable rate in terms of λ_max is known for {} (its steps are scaled by \
             running statistics of the gradient); for reference, plain gradient descent would be stable for \
             ε < 2/λ_max ≈ {}, and the rate in use is {}.",
            row.step,
            optimizer.name,
            number(2.0 / row.lambda_max, 4),
            number(row.lr, 4)
        ),
    }
}

/// What the curvature rows show, in sentences drawn from the numbers: a summary, then each
/// finding only where its stated threshold is passed.
pub fn findings(rows: &[CurvatureRow], optimizer: &OptimizerConfig) -> Vec<String> {
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else { return Vec::new() };
    let mut sentences = vec![format!(
        "From update {} to {}, the loss on the diagnostic batch went from {} to {} while the gradient norm went \
         from {} to {} and gᵀHg from {} to {}.",
        first.step,
        last.step,
        number(first.loss, 4),
        number(last.loss, 4),
        number(first.grad_norm, 4),
        number(last.grad_norm, 4),
        number(first.g_hg, 4),
        number(last.g_hg, 4)
    )];
    sentences.push(stability_sentence(last, optimizer));
    let threshold =
        |row: &CurvatureRow| if row.lambda_max.is_finite() { -NEGATIVE * row.lambda_max.abs() } else { 0.0 };
    let negative: Vec<u64> = rows
        .iter()
        .filter(|r| {
            r.g_hg / r.grad_norm.powi(2) < threshold(r)
                || r.update_curvature / r.update_norm.powi(2) < threshold(r)
                || r.lambda_max < 0.0
        })
        .map(|r| r.step)
        .collect();
    if !negative.is_empty() {
        sentences.push(format!(
            "Negative curvature at {} of {} diagnosed updates ({}): along the gradient or the update the loss curves \
             downward by more than {}% of λ_max there, so the quadratic model has no minimum in that direction \
             (a saddle point or a ridge, §8.2.3), and the first-order gain is not the whole story.",
            negative.len(),
            rows.len(),
            list(&negative),
            NEGATIVE * 100.0
        ));
    }
    let curvature_positive = rows.iter().all(|r| r.g_hg > 0.0);
    if last.loss <= (1.0 - LOSS_FALL) * first.loss
        && last.grad_norm >= GRADIENT_GROWTH * first.grad_norm
        && curvature_positive
        && negative.is_empty()
    {
        sentences.push(format!(
            "The gradient grew {}× while the loss fell by {}% and the curvature along g stayed positive: the book's \
             sign of ill-conditioning (§8.2.1), where curvature along g, not the gradient's size, limits progress \
             (reported when the loss falls by at least {}% while ‖g‖ grows at least {}×).",
            number(last.grad_norm / first.grad_norm, 3),
            number(100.0 * (1.0 - last.loss / first.loss), 3),
            LOSS_FALL * 100.0,
            GRADIENT_GROWTH
        ));
    }
    let rises: Vec<&CurvatureRow> = rows.iter().filter(|r| r.actual_change > RISE * r.loss.abs()).collect();
    if !rises.is_empty() {
        let full = rows.iter().map(|r| r.batch).max().unwrap_or(0);
        let short: Vec<u64> = rises.iter().filter(|r| r.batch > 0 && r.batch < full).map(|r| r.step).collect();
        let steps: Vec<u64> = rises.iter().map(|r| r.step).collect();
        let largest = rises.iter().map(|r| r.actual_change).fold(f64::NEG_INFINITY, f64::max);
        let mut sentence = format!(
            "The update raised the loss on the diagnostic batch by more than {}% at {} of {} diagnosed updates ({}; \
             the largest rise {}).",
            RISE * 100.0,
            rises.len(),
            rows.len(),
            list(&steps),
            number(largest, 3)
        );
        if !short.is_empty() {
            sentence.push_str(&format!(
                " Of these, {} used an epoch's short last batch (fewer than {full} examples): {}; --drop-last leaves \
                 such batches out.",
                short.len(),
                list(&short)
            ));
        }
        sentences.push(sentence);
    }
    let modelled_rises: Vec<u64> = rows.iter().filter(|r| r.predicted_change() > 0.0).map(|r| r.step).collect();
    if !modelled_rises.is_empty() {
        sentences.push(format!(
            "For the update actually taken, the second-order term ½ΔθᵀHΔθ outweighed the first-order gain −gᵀΔθ at \
             {} of {} diagnosed updates ({}): the quadratic model predicted a rise there.",
            modelled_rises.len(),
            rows.len(),
            list(&modelled_rises)
        ));
    }
    let crossings = rows.iter().filter(|r| r.ratio > 1.0).count();
    if crossings > 0 {
        sentences.push(format!(
            "A plain step −εg would have raised the loss (½ε²gᵀHg > εgᵀg) at {crossings} of {} diagnosed updates.",
            rows.len()
        ));
    }
    let capped: Vec<u64> =
        rows.iter().filter(|r| r.power_iterations > 0 && !r.power_converged).map(|r| r.step).collect();
    if !capped.is_empty() {
        sentences.push(format!(
            "The power iteration hit its cap before its tolerance at {} of {} diagnosed updates ({}); λ_max there is \
             a lower bound (raise --power-iterations).",
            capped.len(),
            rows.len(),
            list(&capped)
        ));
    }
    let alpha = median(rows.iter().map(|r| r.alpha));
    if alpha.is_finite() {
        let reading = if alpha > ALPHA_FAR {
            "the updates overshoot the minimum along their direction: a smaller rate would land nearer it"
        } else if alpha < -ALPHA_FAR {
            "the updates stop well short of the minimum along their direction: a larger rate would go further"
        } else {
            "the updates land near the minimum along their direction"
        };
        sentences.push(format!(
            "The median α is {} (−1: no move, 0: the minimum of the local parabola, 1: its far side; beyond ±{} counts \
             as far): {reading}.",
            number(alpha, 3),
            ALPHA_FAR
        ));
    }
    if last.grad_snr.is_finite() {
        let full = rows.iter().map(|r| r.batch).max().unwrap_or(0);
        let batch_snr = full as f64 * last.grad_snr;
        sentences.push(format!(
            "At update {} one example's gradient has signal-to-noise ratio {} (‖ḡ‖²/tr Σ), so a minibatch of {full} \
             has about {}; noise equals signal at a batch of about {} examples (1/SNR){}.",
            last.step,
            number(last.grad_snr, 3),
            number(batch_snr, 3),
            number(1.0 / last.grad_snr, 3),
            if batch_snr < 1.0 { ": the minibatch gradient is mostly noise" } else { "" }
        ));
    }
    sentences
}

/// The first and last diagnosed updates as a terminal table: λ_max, the stable rate of the
/// optimizer and the rate's share of it, beside the other instruments.
pub fn terminal_table(rows: &[CurvatureRow]) -> String {
    let picked: Vec<&CurvatureRow> = match rows {
        [] => Vec::new(),
        [only] => vec![only],
        [first, .., last] => vec![first, last],
    };
    let cells: Vec<Vec<String>> = picked
        .iter()
        .map(|r| {
            let lambda = if r.power_converged || !r.lambda_max.is_finite() {
                number(r.lambda_max, 4)
            } else {
                format!("≥{}", number(r.lambda_max, 4))
            };
            vec![
                r.step.to_string(),
                number(r.loss, 4),
                lambda,
                number(r.stable_lr, 4),
                number(r.lr, 4),
                number(r.rate_ratio, 3),
                number(r.hessian_trace, 4),
                number(r.grad_snr, 3),
                number(r.alpha, 3),
            ]
            .into_iter()
            .map(|cell| if cell == "NaN" { "–".to_string() } else { cell })
            .collect()
        })
        .collect();
    crate::table::render(
        &["update", "loss", "λ_max", "stable rate", "rate", "rate/stable", "tr(H)", "SNR", "α"],
        &cells,
    )
}

/// A page for `descent diagnose`: each plot with one sentence on what it shows.
pub fn page(title: &str, facts: &[String], sections: &[(&str, String, String)]) -> String {
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n<style>{}</style>\n\
         </head>\n<body>\n<h1>{t}</h1>\n<section id=\"verdict\" class=\"verdict\">\n",
        super::html::STYLE,
        t = escape(title)
    );
    for fact in facts {
        let _ = writeln!(html, "<p>{}</p>", escape(fact));
    }
    html.push_str("</section>\n");
    for (index, (heading, explanation, svg)) in sections.iter().enumerate() {
        let svg = svg.replace("plot-area", &format!("plot-area-d{index}"));
        let _ = write!(
            html,
            "<h2>{}</h2>\n<figure id=\"plot-{index}\">\n{svg}<figcaption>{}</figcaption>\n</figure>\n",
            escape(heading),
            escape(explanation)
        );
    }
    html.push_str("<p><small>Made by descent diagnose.</small></p>\n</body>\n</html>\n");
    html
}

/// A recurrent run's panels: ‖∂L/∂h_t‖ against t at up to six diagnosed updates (vanishing or
/// exploding across time), and ρ(W) against update.
pub fn time_figures(rows: &[descent::diagnostics::TimeRow]) -> Vec<Figure> {
    let mut steps: Vec<u64> = rows.iter().map(|r| r.step).collect();
    steps.dedup();
    let shown: Vec<u64> =
        if steps.len() <= 6 { steps.clone() } else { (0..6).map(|i| steps[i * (steps.len() - 1) / 5]).collect() };
    let named: Vec<(String, Vec<(f64, f64)>)> = shown
        .iter()
        .map(|&step| {
            let points = rows.iter().filter(|r| r.step == step).map(|r| (r.t as f64, r.hidden_grad_norm)).collect();
            (format!("update {step}"), points)
        })
        .collect();
    let borrowed: Vec<(&str, Vec<(f64, f64)>)> = named.iter().map(|(n, p)| (n.as_str(), p.clone())).collect();
    let radius: Vec<(f64, f64)> = steps
        .iter()
        .filter_map(|&step| rows.iter().find(|r| r.step == step).map(|r| (step as f64, r.spectral_radius)))
        .collect();
    vec![
        panel("gradient reaching each time step ‖∂L/∂h_t‖", "time step t", "log scale", &borrowed, true),
        panel("spectral radius of the recurrent matrix W", "update", "ρ(W)", &[("ρ(W)", radius)], false),
    ]
}

/// The recurrent panels as one SVG.
pub fn time_svg(rows: &[descent::diagnostics::TimeRow]) -> String {
    plot::stack(&time_figures(rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use descent::optim::Convention;

    /// A row at `step` with loss, ‖g‖ and gᵀHg given, λ_max = 10, a plain SGD step at ε = 0.01 of
    /// −εg (so the update's terms follow), a full batch of 128 and a loss change `change`.
    fn row(step: u64, loss: f64, grad_norm: f64, g_hg: f64, change: f64) -> CurvatureRow {
        let lr = 0.01;
        let text = format!(
            "{step},{loss},{grad_norm},{g_hg},{},{},{change},10.0,0.0,0.2,{lr},12,0.001,1,{},{},{},0.0,-0.5,30.0,1.0,0.02,1.0,0.05,128",
            lr * grad_norm * grad_norm,
            0.5 * lr * lr * g_hg,
            lr * grad_norm,
            -lr * grad_norm * grad_norm,
            lr * lr * g_hg,
        );
        CurvatureRow::parse(&text).unwrap()
    }

    fn sgd() -> OptimizerConfig {
        OptimizerConfig::named("sgd", Convention::Book).unwrap()
    }

    #[test]
    fn a_small_change_with_negative_curvature_is_not_called_ill_conditioning() {
        // The case of issue 13: the loss fell 1.4% while ‖g‖ grew and gᵀHg turned negative.
        let rows = [row(0, 2.0, 1.0, 0.5, -0.01), row(40, 1.972, 1.2, -0.3, -0.01)];
        let sentences = findings(&rows, &sgd());
        assert!(!sentences.iter().any(|s| s.contains("ill-conditioning")), "{sentences:#?}");
        // gᵀHg/gᵀg = −0.3/1.44 = −0.21 < −1% of λ_max = −0.1.
        assert!(sentences.iter().any(|s| s.starts_with("Negative curvature at 1 of 2 diagnosed updates (40)")));
        // Past both thresholds (−20% loss, ‖g‖ ×2) but with gᵀHg negative at the end, the sign is
        // negative curvature (−0.8/4 = −0.2 < −0.1), not ill-conditioning.
        let rows = [row(0, 2.0, 1.0, 0.5, -0.01), row(40, 1.6, 2.0, -0.8, -0.01)];
        let sentences = findings(&rows, &sgd());
        assert!(!sentences.iter().any(|s| s.contains("ill-conditioning")), "{sentences:#?}");
        assert!(sentences.iter().any(|s| s.starts_with("Negative curvature at 1 of 2")), "{sentences:#?}");
    }

    #[test]
    fn ill_conditioning_is_reported_past_its_thresholds_only() {
        // Loss −20%, ‖g‖ ×2, curvature positive throughout: reported.
        let rows = [row(0, 2.0, 1.0, 0.5, -0.01), row(40, 1.6, 2.0, 8.0, -0.01)];
        let sentences = findings(&rows, &sgd());
        assert!(
            sentences.iter().any(|s| s.starts_with("The gradient grew 2× while the loss fell by 20%")),
            "{sentences:#?}"
        );
        assert!(!sentences.iter().any(|s| s.contains("Negative curvature")));
        // ‖g‖ ×1.4 (< 1.5): not reported.
        let rows = [row(0, 2.0, 1.0, 0.5, -0.01), row(40, 1.6, 1.4, 8.0, -0.01)];
        assert!(!findings(&rows, &sgd()).iter().any(|s| s.contains("ill-conditioning")));
        // Loss −5% (< 10%): not reported.
        let rows = [row(0, 2.0, 1.0, 0.5, -0.01), row(40, 1.9, 2.0, 8.0, -0.01)];
        assert!(!findings(&rows, &sgd()).iter().any(|s| s.contains("ill-conditioning")));
    }

    #[test]
    fn rises_count_past_one_percent_and_name_short_batches() {
        let mut short = row(20, 1.0, 1.0, 0.5, 0.5);
        short.batch = 8;
        // +0.005 on a loss of 1 is 0.5%: below the threshold.
        let rows = [row(0, 2.0, 1.0, 0.5, 0.005), short, row(40, 1.0, 1.0, 0.5, 0.02)];
        let sentences = findings(&rows, &sgd());
        let rise = sentences.iter().find(|s| s.starts_with("The update raised the loss")).expect("a rise");
        assert!(rise.contains("at 2 of 3 diagnosed updates (20, 40; the largest rise 0.5)"), "{rise}");
        assert!(rise.contains("Of these, 1 used an epoch's short last batch (fewer than 128 examples): 20"), "{rise}");
    }

    #[test]
    fn the_stability_sentence_uses_the_optimizers_own_limit() {
        let mut last = row(40, 1.0, 1.0, 0.5, -0.01);
        let momentum = OptimizerConfig::named("momentum", Convention::Book).unwrap();
        // 2(1 + 0.9)/10 = 0.38; the rate 0.01 is 0.0263 of it.
        last.stable_lr = 0.38;
        last.rate_ratio = 0.01 / 0.38;
        let sentence = stability_sentence(&last, &momentum);
        assert!(
            sentence.contains("ε < 2(1 + α)/λ_max ≈ 0.38; the rate in use, 0.01, is 0.0263 of that limit (inside it)"),
            "{sentence}"
        );
        let adam = OptimizerConfig::named("adam", Convention::Book).unwrap();
        let sentence = stability_sentence(&last, &adam);
        assert!(sentence.contains("No stable rate in terms of λ_max is known for adam"), "{sentence}");
        last.power_converged = false;
        assert!(
            stability_sentence(&last, &sgd()).contains("λ_max ≥ 10 (the power iteration hit its cap of 12 products")
        );
    }

    #[test]
    fn a_log_panel_marks_values_it_cannot_show() {
        // A negative value on a log panel goes to the strip marked "≤ 0", and a note says so.
        let figure = panel("t", "update", "log scale", &[("s", vec![(0.0, 1.0), (1.0, -2.0), (2.0, 10.0)])], true);
        let svg = figure.to_svg();
        // (counted once on the line and once as its marker)
        assert!(svg.contains("2 values ≤ 0 (no logarithm)"), "{svg}");
        assert!(svg.contains("≤ 0"), "{svg}");
        let positive = panel("t", "update", "log scale", &[("s", vec![(0.0, 1.0), (2.0, 10.0)])], true).to_svg();
        assert!(!positive.contains("no logarithm"));
    }
}
