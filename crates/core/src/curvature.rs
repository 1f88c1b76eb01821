//! Curvature of any differentiable loss from its gradient alone: Hessian-vector products by
//! central differences, and the largest eigenvalue of the Hessian by power iteration on them.
//!
//! The book's second-order view of a gradient step (§8.2.1): a step −εg changes the cost by about
//! −εgᵀg + ½ε²gᵀHg, so curvature along g, not the gradient's size, decides whether a step helps;
//! and plain gradient descent is stable only for ε < 2/λ_max.

use descent_optim::Float;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The step h of the central difference Hv ≈ (∇L(θ + hv) − ∇L(θ − hv)) / 2h.
///
/// Its truncation error grows as h² and its rounding error as u/h (u the unit roundoff of the
/// type), so the best h is about u^(1/3), scaled to the size of θ (so that θ ± hv actually moves
/// in floating point) and divided by ‖v‖ (so that the displacement, not the direction, has that
/// size): h = u^(1/3) · (1 + ‖θ‖) / ‖v‖. That is 4.9e-3 for f32 and 6.1e-6 for f64 per unit of
/// (1 + ‖θ‖).
pub fn difference_step<F: Float>(theta: &[F], v: &[F]) -> f64 {
    let unit_roundoff = if F::NAME == "f32" { f32::EPSILON as f64 } else { f64::EPSILON };
    unit_roundoff.cbrt() * (1.0 + norm(theta)) / norm(v).max(f64::MIN_POSITIVE)
}

/// Euclidean norm, accumulated in f64.
pub fn norm<F: Float>(values: &[F]) -> f64 {
    dot(values, values).sqrt()
}

/// Dot product, accumulated in f64.
pub fn dot<F: Float>(a: &[F], b: &[F]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x.to_f64() * y.to_f64()).sum()
}

/// Buffers for [`hessian_vector`], sized once for `dim` parameters.
#[derive(Debug, Clone)]
pub struct Scratch<F> {
    point: Vec<F>,
    plus: Vec<F>,
    minus: Vec<F>,
}

impl<F: Float> Scratch<F> {
    /// Buffers for a model of `dim` parameters.
    pub fn new(dim: usize) -> Self {
        Scratch { point: vec![F::ZERO; dim], plus: vec![F::ZERO; dim], minus: vec![F::ZERO; dim] }
    }
}

/// Writes H(θ)·v into `out`, where `gradient(θ, g)` writes ∇L(θ) into `g`. Two gradient
/// evaluations; the step is [`difference_step`].
pub fn hessian_vector<F: Float>(
    gradient: &mut dyn FnMut(&[F], &mut [F]),
    theta: &[F],
    v: &[F],
    out: &mut [F],
    scratch: &mut Scratch<F>,
) {
    let h = difference_step(theta, v);
    let Scratch { point, plus, minus } = scratch;
    for (p, (&t, &d)) in point.iter_mut().zip(theta.iter().zip(v)) {
        *p = F::from_f64(t.to_f64() + h * d.to_f64());
    }
    gradient(point, plus);
    for (p, (&t, &d)) in point.iter_mut().zip(theta.iter().zip(v)) {
        *p = F::from_f64(t.to_f64() - h * d.to_f64());
    }
    gradient(point, minus);
    for (o, (&a, &b)) in out.iter_mut().zip(plus.iter().zip(minus.iter())) {
        *o = F::from_f64((a.to_f64() - b.to_f64()) / (2.0 * h));
    }
}

/// The result of [`largest_eigenvalue`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Eigen {
    /// The Rayleigh quotient ρ = vᵀHv/vᵀv at the last iterate: the eigenvalue of largest magnitude
    /// (negative where the loss curves down more steeply than it curves up anywhere).
    pub value: f64,
    /// Products with H used.
    pub iterations: usize,
    /// ‖Hv − ρv‖/|ρ| at the last iterate (v a unit vector). For a symmetric H some eigenvalue lies
    /// within ‖Hv − ρv‖ of ρ, so this bounds the estimate's relative error.
    pub residual: f64,
    /// Whether the residual fell to the tolerance before the products ran out. Where it did not,
    /// ρ still never exceeds the top eigenvalue in magnitude: it is a lower bound of |λ_max|.
    pub converged: bool,
}

/// The eigenvalue of H of largest magnitude, by power iteration from a seeded random start:
/// v ← Hv/‖Hv‖ until the residual ‖Hv − ρv‖ of the Rayleigh quotient ρ = vᵀHv falls to
/// `tolerance`·|ρ| (then an eigenvalue lies within `tolerance`·|ρ| of ρ), or `iterations`
/// products have been used. `hv(v, out)` writes H·v.
///
/// The residual, unlike the change between successive estimates, does not mistake a slow
/// approach for convergence: when the top two eigenvalues are close, ρ creeps up by less than
/// any tolerance per iteration long before it arrives.
pub fn largest_eigenvalue<F: Float>(
    hv: &mut dyn FnMut(&[F], &mut [F]),
    dim: usize,
    iterations: usize,
    tolerance: f64,
    seed: u64,
) -> Eigen {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut v: Vec<F> = (0..dim).map(|_| F::from_f64(rng.gen::<f64>() - 0.5)).collect();
    let mut w = vec![F::ZERO; dim];
    let scale = 1.0 / norm(&v).max(f64::MIN_POSITIVE);
    v.iter_mut().for_each(|x| *x = F::from_f64(x.to_f64() * scale));
    let mut last = Eigen { value: f64::NAN, iterations: 0, residual: f64::NAN, converged: false };
    for iteration in 1..=iterations.max(1) {
        hv(&v, &mut w);
        let value = dot(&v, &w);
        let length = norm(&w);
        // ‖Hv − ρv‖² = ‖Hv‖² − ρ² for a unit v and ρ = vᵀHv.
        let residual = (length * length - value * value).max(0.0).sqrt() / value.abs();
        last = Eigen { value, iterations: iteration, residual, converged: residual <= tolerance };
        if last.converged || length == 0.0 || !length.is_finite() {
            return Eigen { converged: last.converged && length.is_finite(), ..last };
        }
        v.iter_mut().zip(&w).for_each(|(x, &y)| *x = F::from_f64(y.to_f64() / length));
    }
    last
}

/// The result of [`hutchinson_trace`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trace {
    /// The mean of vᵀHv over the probes: an unbiased estimate of tr(H).
    pub value: f64,
    /// The standard error of that mean (the probes' sample deviation over √probes; NaN for one
    /// probe).
    pub standard_error: f64,
    /// Probes used.
    pub probes: usize,
}

/// tr(H) by Hutchinson's estimator: the mean of vᵀHv over `probes` Rademacher vectors v
/// (entries ±1 with equal chance, from a generator seeded by `seed`), since E\[vvᵀ\] = I gives
/// E\[vᵀHv\] = tr(H). Its variance per probe is 2 Σ_{i≠j} H_ij², so it is exact for a diagonal H.
/// `probe` and `out` are buffers of the dimension; `hv(v, out)` writes H·v.
pub fn hutchinson_trace<F: Float>(
    hv: &mut dyn FnMut(&[F], &mut [F]),
    probes: usize,
    seed: u64,
    probe: &mut [F],
    out: &mut [F],
) -> Trace {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut sum, mut sum_of_squares) = (0.0, 0.0);
    for _ in 0..probes {
        probe.iter_mut().for_each(|x| *x = if rng.gen::<bool>() { F::ONE } else { -F::ONE });
        hv(probe, out);
        let quadratic_form = dot(probe, out);
        sum += quadratic_form;
        sum_of_squares += quadratic_form * quadratic_form;
    }
    let count = probes as f64;
    let mean = sum / count;
    let standard_error = if probes > 1 {
        ((sum_of_squares - count * mean * mean).max(0.0) / (count - 1.0) / count).sqrt()
    } else {
        f64::NAN
    };
    Trace { value: mean, standard_error, probes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Targets;
    use crate::functions::{Function2d, FUNCTION_NAMES};
    use crate::layers::{Activation, LayerSpec, Shape};
    use crate::loss::Objective;
    use crate::network::Network;
    use descent_optim::Init;

    #[test]
    fn hv_matches_the_exact_hessian_of_every_2d_function() {
        for name in FUNCTION_NAMES {
            let function = Function2d::named(name, 100.0).unwrap();
            let mut gradient = |theta: &[f64], g: &mut [f64]| g.copy_from_slice(&function.gradient(theta[0], theta[1]));
            let mut scratch = Scratch::new(2);
            for theta in [[0.3, -0.7], [-1.2, 1.0], [1.5, 0.4]] {
                let exact = function.hessian(theta[0], theta[1]);
                for v in [[1.0, 0.0], [0.0, 1.0], [0.6, -0.8], [3.0, 2.0]] {
                    let mut out = [0.0; 2];
                    hessian_vector(&mut gradient, &theta, &v, &mut out, &mut scratch);
                    for row in 0..2 {
                        let want = exact[row][0] * v[0] + exact[row][1] * v[1];
                        let scale = (exact[row][0].abs() + exact[row][1].abs()) * (v[0].abs() + v[1].abs());
                        // Central differences with h = u^(1/3)(1 + ‖θ‖)/‖v‖ leave about 1e-10 of
                        // truncation and rounding each (measured: at most 6.2e-10); forward
                        // differences, off by O(h) ≈ 1e-5, would fail this bound.
                        assert!((out[row] - want).abs() <= 1e-8 * scale.max(1e-12), "{name} {theta:?} {v:?}: {out:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn power_iteration_finds_the_condition_number_of_the_quadratic() {
        let function = Function2d::named("quadratic", 100.0).unwrap();
        let mut gradient = |theta: &[f64], g: &mut [f64]| g.copy_from_slice(&function.gradient(theta[0], theta[1]));
        let mut scratch = Scratch::new(2);
        let theta = [0.5, -0.2];
        let mut hv = |v: &[f64], out: &mut [f64]| hessian_vector(&mut gradient, &theta, v, out, &mut scratch);
        let top = largest_eigenvalue(&mut hv, 2, 100, 1e-10, 7);
        assert!(top.converged && (top.value - 100.0).abs() < 1e-6, "{top:?}");
    }

    #[test]
    fn power_iteration_runs_to_its_tolerance_when_the_top_eigenvalues_are_close() {
        // H = diag(10, 9.5, 1): each iteration shrinks the second component by only 0.95, so
        // successive estimates differ by little long before they are right (a stop on their
        // change at 1e-6 leaves an error near 1e-5 relative). The residual rule must bring ρ
        // within tolerance·|ρ| of 10, or say that the cap was hit, with ρ below 10.
        let diagonal = [10.0, 9.5, 1.0];
        let mut hv =
            |v: &[f64], out: &mut [f64]| out.iter_mut().zip(v.iter().zip(&diagonal)).for_each(|(o, (x, d))| *o = x * d);
        let tolerance = 1e-6;
        let top = largest_eigenvalue(&mut hv, 3, 10_000, tolerance, 3);
        assert!(top.converged && top.residual <= tolerance, "{top:?}");
        assert!((top.value - 10.0).abs() <= tolerance * 10.0, "{top:?}");
        let capped = largest_eigenvalue(&mut hv, 3, 5, tolerance, 3);
        assert!(!capped.converged && capped.iterations == 5 && capped.residual > tolerance, "{capped:?}");
        assert!(capped.value < 10.0, "{capped:?}");
    }

    #[test]
    fn hutchinson_is_exact_on_a_diagonal_hessian_and_unbiased_on_a_full_one() {
        let mut probe = [0.0; 3];
        let mut out = [0.0; 3];
        // Diagonal: vᵀHv = Σ H_ii v_i² = tr H for every Rademacher v.
        let mut diagonal = |v: &[f64], out: &mut [f64]| {
            out.iter_mut().zip(v.iter().zip([1.0, 100.0, -3.0])).for_each(|(o, (x, d))| *o = x * d)
        };
        let trace = hutchinson_trace(&mut diagonal, 3, 11, &mut probe, &mut out);
        assert_eq!((trace.value, trace.standard_error, trace.probes), (98.0, 0.0, 3));
        // Full: tr H = 2 + 3 + 4 = 9; each probe's variance is 2 Σ_{i≠j} H_ij² = 2·2·(1 + 0.25 + 4)
        // = 21, so 4,000 probes give a standard error of √(21/4000) = 0.0725.
        let full = [[2.0, 1.0, 0.5], [1.0, 3.0, -2.0], [0.5, -2.0, 4.0]];
        let mut product = |v: &[f64], out: &mut [f64]| {
            for (row, o) in full.iter().zip(out.iter_mut()) {
                *o = row.iter().zip(v).map(|(h, x)| h * x).sum();
            }
        };
        let trace = hutchinson_trace(&mut product, 4000, 5, &mut probe, &mut out);
        let expected_error = (21.0f64 / 4000.0).sqrt();
        assert!((trace.value - 9.0).abs() < 4.0 * expected_error, "{trace:?}");
        assert!((trace.standard_error / expected_error - 1.0).abs() < 0.1, "{trace:?}");
    }

    /// H·v of the mean softmax cross-entropy of logistic regression, in f64 from its closed
    /// form: with z = Wx + b, p = softmax(z), A = diag(p) − ppᵀ and dz = V_W x + v_b,
    /// (Hv)_W = mean of (A dz) xᵀ and (Hv)_b = mean of A dz.
    fn exact_logreg_hv(
        params: &[f32],
        v: &[f32],
        inputs: &[f32],
        labels: &[u32],
        dim: usize,
        classes: usize,
    ) -> Vec<f64> {
        let n = labels.len();
        let p64: Vec<f64> = params.iter().map(|&x| x as f64).collect();
        let v64: Vec<f64> = v.iter().map(|&x| x as f64).collect();
        let (w, b) = p64.split_at(classes * dim);
        let (vw, vb) = v64.split_at(classes * dim);
        let mut out = vec![0.0; params.len()];
        for row in 0..n {
            let x: Vec<f64> = inputs[row * dim..(row + 1) * dim].iter().map(|&v| v as f64).collect();
            let z: Vec<f64> =
                (0..classes).map(|c| (0..dim).map(|i| w[c * dim + i] * x[i]).sum::<f64>() + b[c]).collect();
            let top = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = z.iter().map(|z| (z - top).exp()).collect();
            let total: f64 = e.iter().sum();
            let p: Vec<f64> = e.iter().map(|e| e / total).collect();
            let dz: Vec<f64> =
                (0..classes).map(|c| (0..dim).map(|i| vw[c * dim + i] * x[i]).sum::<f64>() + vb[c]).collect();
            let p_dz: f64 = p.iter().zip(&dz).map(|(p, d)| p * d).sum();
            for c in 0..classes {
                let a_dz = p[c] * dz[c] - p[c] * p_dz;
                for i in 0..dim {
                    out[c * dim + i] += a_dz * x[i] / n as f64;
                }
                out[classes * dim + c] += a_dz / n as f64;
            }
        }
        out
    }

    #[test]
    fn hv_of_f32_logistic_regression_matches_its_closed_form() {
        let (dim, classes, n) = (12, 4, 32);
        let spec = [LayerSpec::dense(classes, Activation::Identity, Init::GlorotUniform)];
        let mut network = Network::<f32>::new(Shape::flat(dim), &spec, Objective::CLASSIFY, n, 5, 1).unwrap();
        let inputs: Vec<f32> = (0..n * dim).map(|i| ((i as f32) * 0.37).sin()).collect();
        let labels: Vec<u32> = (0..n as u32).map(|i| (i * 7) % classes as u32).collect();
        let theta = network.params.clone();
        let mut gradient = |point: &[f32], g: &mut [f32]| {
            network.params.copy_from_slice(point);
            network.gradients(&inputs, Targets::Classes(&labels), n);
            g.copy_from_slice(&network.grads);
        };
        let mut scratch = Scratch::new(theta.len());
        let mut out = vec![0.0f32; theta.len()];
        for seed in 0..3u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let v: Vec<f32> = (0..theta.len()).map(|_| rng.gen::<f32>() - 0.5).collect();
            hessian_vector(&mut gradient, &theta, &v, &mut out, &mut scratch);
            let exact = exact_logreg_hv(&theta, &v, &inputs, &labels, dim, classes);
            let error: f64 = out.iter().zip(&exact).map(|(&a, b)| (a as f64 - b).powi(2)).sum::<f64>().sqrt();
            let size: f64 = exact.iter().map(|b| b * b).sum::<f64>().sqrt();
            assert!(error <= 1e-3 * size, "seed {seed}: relative error {}", error / size);
        }
    }
}
