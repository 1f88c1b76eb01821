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
    /// The Rayleigh quotient vᵀHv/vᵀv at the last iterate: the eigenvalue of largest magnitude
    /// (negative where the loss curves down more steeply than it curves up anywhere).
    pub value: f64,
    /// Products with H used.
    pub iterations: usize,
    /// Whether successive estimates agreed to the tolerance before the iterations ran out.
    pub converged: bool,
}

/// The eigenvalue of H of largest magnitude, by power iteration from a seeded random start:
/// v ← Hv/‖Hv‖ until successive Rayleigh quotients differ by less than `tolerance` relative, or
/// `iterations` products. `hv(v, out)` writes H·v.
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
    let mut previous = f64::NAN;
    for iteration in 1..=iterations.max(1) {
        hv(&v, &mut w);
        let value = dot(&v, &w);
        let length = norm(&w);
        if (value - previous).abs() <= tolerance * value.abs() || length == 0.0 || !length.is_finite() {
            return Eigen { value, iterations: iteration, converged: length.is_finite() };
        }
        previous = value;
        v.iter_mut().zip(&w).for_each(|(x, &y)| *x = F::from_f64(y.to_f64() / length));
    }
    Eigen { value: previous, iterations: iterations.max(1), converged: false }
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
