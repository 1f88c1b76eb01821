//! The pictures and page of the diagnostics: curvature against gradient size, λ_max against the
//! rate, and per-layer gradient and update sizes.

use std::fmt::Write as _;

use descent::diagnostics::{CurvatureRow, LayerRow};

use crate::plot::{self, escape, Figure, PALETTE};

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 300.0;

/// One panel: named series against x, on a log₁₀ y axis when `log` (values ≤ 0 are drawn in
/// the figure's strip for them, with a note).
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

/// The curvature monitor's four panels.
pub fn curvature_figures(rows: &[CurvatureRow]) -> Vec<Figure> {
    let x = "update";
    vec![
        panel("loss on the diagnostic batch", x, "loss", &[("L(θ)", series(rows, |r| r.loss))], false),
        panel(
            "gradient norm and curvature along the gradient",
            x,
            "log scale",
            &[("‖g‖", series(rows, |r| r.grad_norm)), ("gᵀHg / gᵀg", series(rows, |r| r.g_hg / r.grad_norm.powi(2)))],
            true,
        ),
        panel(
            "what a step −εg gains and what curvature takes back",
            x,
            "log scale",
            &[
                ("first order εgᵀg", series(rows, |r| r.first_order)),
                ("second order ½ε²gᵀHg", series(rows, |r| r.second_order)),
                ("actual decrease −ΔL", series(rows, |r| -r.actual_change)),
            ],
            true,
        ),
        panel(
            "sharpest curvature and the largest stable rate",
            x,
            "log scale",
            &[
                ("λ_max", series(rows, |r| r.lambda_max)),
                ("2/λ_max", series(rows, |r| r.stable_lr)),
                ("rate ε", series(rows, |r| r.lr)),
            ],
            true,
        ),
    ]
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

/// What the curvature rows show, in sentences drawn from the numbers.
pub fn findings(rows: &[CurvatureRow]) -> Vec<String> {
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else { return Vec::new() };
    let mut sentences = vec![format!(
        "From update {} to {}, the loss on the diagnostic batch went from {:.4} to {:.4} while the gradient norm \
         went from {:.4} to {:.4} and gᵀHg from {:.4} to {:.4}.",
        first.step, last.step, first.loss, last.loss, first.grad_norm, last.grad_norm, first.g_hg, last.g_hg
    )];
    if last.loss < first.loss && last.grad_norm > first.grad_norm {
        sentences.push(
            "The gradient grew while the loss fell: the book's sign of ill-conditioning (§8.2.1), where \
             curvature along g, not the gradient's size, limits progress."
                .into(),
        );
    }
    let crossings = rows.iter().filter(|r| r.ratio > 1.0).count();
    sentences.push(format!(
        "At {crossings} of {} diagnosed updates the second-order term ½ε²gᵀHg exceeded the first-order gain εgᵀg \
         (a plain step −εg would have raised the loss there).",
        rows.len()
    ));
    if last.lambda_max.is_finite() {
        let verdict = if last.lr < last.stable_lr { "inside" } else { "beyond" };
        sentences.push(format!(
            "At the end λ_max ≈ {:.4}, so plain gradient descent is stable for ε < 2/λ_max ≈ {:.4}; the rate in \
             use, {:.4}, is {verdict} that limit.",
            last.lambda_max, last.stable_lr, last.lr
        ));
    }
    sentences
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
