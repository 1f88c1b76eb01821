//! α, where an update landed on the local parabola along it (Cockpit's "normalized step
//! length", Schneider, Dangel & Hennig 2021).
//!
//! Along the update Δθ, write f(t) = L(θ + tΔθ): the update went from t = 0 to t = 1. Four
//! numbers are measured on the diagnostic batch: f(0), f(1) and the slopes f′(0) = ∇L(θ)ᵀΔθ,
//! f′(1) = ∇L(θ + Δθ)ᵀΔθ. A parabola q(t) = μ₀ + μ₁t + μ₂t² is fitted to them by least squares
//! (Cockpit weights the four by their variances over the batch; descent measures them on the
//! whole diagnostic batch and weights them equally). Its minimum is at t* = −μ₁/2μ₂ and
//! ᾱ = 2t* is the point of the same height on the other side. Then
//!
//! α = 2·1/ᾱ − 1 = −2μ₂/μ₁ − 1:
//!
//! α = −1 for no move, 0 for a step to the minimum of the parabola, 1 for a step to the other
//! side at the starting height; α < 0 stops short, α > 0 overshoots. As in Cockpit, a concave
//! fit (μ₂ < 0: the loss still falls beyond the step) counts as α = −1. On a quadratic the fit
//! is exact, so α is exact.

/// α of an update from the loss and slope at its start (`loss_start`, `slope_start`) and end
/// (`loss_end`, `slope_end`), slopes taken along the update Δθ itself (so t = 1 is the end).
/// NaN when the fit has no slope at the start (μ₁ = 0) or a value is not finite.
pub fn alpha(loss_start: f64, loss_end: f64, slope_start: f64, slope_end: f64) -> f64 {
    let [_, linear, quadratic] = fit_parabola(loss_start, loss_end, slope_start, slope_end);
    if !(linear.is_finite() && quadratic.is_finite()) || linear == 0.0 {
        return f64::NAN;
    }
    if quadratic < 0.0 {
        return -1.0;
    }
    -2.0 * quadratic / linear - 1.0
}

/// The least-squares parabola (μ₀, μ₁, μ₂) through q(0) = f₀, q(1) = f₁, q′(0) = d₀, q′(1) = d₁.
///
/// The observations are the rows (1, 0, 0), (1, 1, 1), (0, 1, 0), (0, 1, 2) of Φ against
/// (f₀, f₁, d₀, d₁), so the normal equations are ΦᵀΦμ = Φᵀy with ΦᵀΦ = ((2, 1, 1), (1, 3, 3),
/// (1, 3, 5)) and
/// Φᵀy = (f₀ + f₁, f₁ + d₀ + d₁, f₁ + 2d₁), solved here in closed form (det ΦᵀΦ = 10).
pub fn fit_parabola(loss_start: f64, loss_end: f64, slope_start: f64, slope_end: f64) -> [f64; 3] {
    let b = [loss_start + loss_end, loss_end + slope_start + slope_end, loss_end + 2.0 * slope_end];
    // The inverse of [[2,1,1],[1,3,3],[1,3,5]] is [[6,−2,0],[−2,9,−5],[0,−5,5]]/10.
    [
        (6.0 * b[0] - 2.0 * b[1]) / 10.0,
        (-2.0 * b[0] + 9.0 * b[1] - 5.0 * b[2]) / 10.0,
        (-5.0 * b[1] + 5.0 * b[2]) / 10.0,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_a_parabola_alpha_places_the_step_exactly() {
        // f(t) = 3 − 4t + at²: the minimum is at t* = 2/a. a = 2 puts it at the step's end
        // (α = 0), a = 4 halfway (the step reaches the other side: α = 1), a = 1 at t = 2 (the
        // step stops halfway to it: α = −1/2).
        for (a, expected) in [(2.0, 0.0), (4.0, 1.0), (1.0, -0.5)] {
            let (f0, f1, d0, d1) = (3.0, 3.0 - 4.0 + a, -4.0, -4.0 + 2.0 * a);
            assert_eq!(fit_parabola(f0, f1, d0, d1), [3.0, -4.0, a], "a = {a}");
            assert!((alpha(f0, f1, d0, d1) - expected).abs() < 1e-12, "a = {a}");
        }
    }

    #[test]
    fn off_a_parabola_the_fit_is_numpys_least_squares() {
        // f(t) = 1 − 2t + t² + t³ at t = 0 and 1: f = 1, 1; f′ = −2, 3. Reference:
        //   numpy.linalg.lstsq([[1,0,0],[1,1,1],[0,1,0],[0,1,2]], [1, 1, -2, 3])
        // = (0.8, -2.1, 2.5) → α = −2·2.5/(−2.1) − 1 = 1.38095238.
        let mu = fit_parabola(1.0, 1.0, -2.0, 3.0);
        for (got, want) in mu.iter().zip([0.8, -2.1, 2.5]) {
            assert!((got - want).abs() < 1e-12, "{mu:?}");
        }
        assert!((alpha(1.0, 1.0, -2.0, 3.0) - 1.380_952_380_952).abs() < 1e-11);
        // A concave fit (still falling at the end) counts as −1, as in Cockpit.
        assert_eq!(alpha(1.0, 0.0, -0.5, -2.0), -1.0);
    }
}
