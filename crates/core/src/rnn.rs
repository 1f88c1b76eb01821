//! A vanilla recurrent network, h_t = tanh(W h_{t−1} + U x_t + b) with h_0 = 0 and a linear
//! readout o = V h_T + c of the last state, trained by back-propagation through time (§10.2 of
//! the book; its gradients are the chapter's §8.2.5 case of exploding and vanishing gradients).
//!
//! One flat parameter buffer, in the order W (H×H), U (H×D), b, V (O×H), c. After
//! [`Rnn::gradients`], [`Rnn::hidden_grad_norms`] holds ‖∂L/∂h_t‖ for t = 1…T: how much of the
//! loss's gradient reaches each time step, the picture of vanishing gradients. The spectral radius
//! of W ([`Rnn::spectral_radius`]) is what decides it: ∂h_T/∂h_t contains Wᵀ T−t times, and
//! Wᵗ = V diag(λ)ᵗ V⁻¹ shrinks or grows with |λ|ᵗ.

use std::ops::Range;

use descent_optim::{Float, Init};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use crate::data::Targets;
use crate::linalg::{matmul, Stored, Workspace};
use crate::{loss, Error};

/// The shape of a recurrent network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RnnSpec {
    /// Inputs per time step D.
    pub inputs: usize,
    /// Hidden units H.
    pub hidden: usize,
    /// Outputs O (classes, or values regressed).
    pub outputs: usize,
    /// Time steps T.
    pub steps: usize,
    /// Initializer of the recurrent matrix W (its gain sets the starting spectral radius).
    pub recurrent_init: Init,
}

/// A vanilla RNN with buffers for batches up to `max_batch`.
pub struct Rnn<F: Float> {
    spec: RnnSpec,
    /// All parameters: W, U, b, V, c.
    pub params: Vec<F>,
    /// ∂L/∂params after [`Rnn::gradients`].
    pub grads: Vec<F>,
    /// ‖∂L/∂h_t‖ for t = 1…T after [`Rnn::gradients`] (index t − 1).
    pub hidden_grad_norms: Vec<f64>,
    states: Vec<F>,
    step_input: Vec<F>,
    outputs: Vec<F>,
    output_grad: Vec<F>,
    delta: Vec<F>,
    delta_next: Vec<F>,
    max_batch: usize,
    /// The products' threads and packing memory.
    workspace: Workspace<F>,
}

impl<F: Float> Rnn<F> {
    /// A network of `spec` with weights drawn from `seed` (U and V Glorot-uniform, W by
    /// `spec.recurrent_init`, biases zero).
    pub fn new(spec: RnnSpec, max_batch: usize, seed: u64) -> Result<Self, Error> {
        if spec.inputs == 0 || spec.hidden == 0 || spec.outputs == 0 || spec.steps == 0 || max_batch == 0 {
            return Err(Error::Invalid {
                field: "rnn",
                message: "needs at least one input, hidden unit, output, time step and example",
                value: format!("{spec:?}, batch {max_batch}"),
            });
        }
        let (h, d, o) = (spec.hidden, spec.inputs, spec.outputs);
        let size = h * h + h * d + h + o * h + o;
        let mut params = vec![F::ZERO; size];
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut rnn = Rnn {
            spec,
            grads: vec![F::ZERO; size],
            hidden_grad_norms: vec![0.0; spec.steps],
            states: vec![F::ZERO; (spec.steps + 1) * max_batch * h],
            step_input: vec![F::ZERO; max_batch * d],
            outputs: vec![F::ZERO; max_batch * o],
            output_grad: vec![F::ZERO; max_batch * o],
            delta: vec![F::ZERO; max_batch * h],
            delta_next: vec![F::ZERO; max_batch * h],
            params: Vec::new(),
            max_batch,
            workspace: Workspace::new(1),
        };
        spec.recurrent_init.fill(&mut params[rnn.w()], h, h, &mut rng);
        Init::GlorotUniform.fill(&mut params[rnn.u()], d, h, &mut rng);
        Init::GlorotUniform.fill(&mut params[rnn.v()], h, o, &mut rng);
        rnn.params = params;
        Ok(rnn)
    }

    /// Splits its matrix products over `threads` threads (1 by default).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.workspace = Workspace::new(threads);
        self
    }

    /// The shape.
    pub fn spec(&self) -> RnnSpec {
        self.spec
    }

    /// The largest batch the buffers hold.
    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    /// Bytes of the buffers a batch of `batch` needs: every time step's hidden state (kept for
    /// back-propagation through time), the outputs and the two deltas.
    pub fn activation_bytes(&self, batch: usize) -> usize {
        let s = self.spec;
        ((s.steps + 1) * s.hidden + s.inputs + 2 * s.outputs + 2 * s.hidden) * batch * std::mem::size_of::<F>()
    }

    /// The range of W in the buffers.
    pub fn w(&self) -> Range<usize> {
        0..self.spec.hidden * self.spec.hidden
    }

    /// The range of U.
    pub fn u(&self) -> Range<usize> {
        let start = self.w().end;
        start..start + self.spec.hidden * self.spec.inputs
    }

    /// The range of b.
    pub fn b(&self) -> Range<usize> {
        let start = self.u().end;
        start..start + self.spec.hidden
    }

    /// The range of V.
    pub fn v(&self) -> Range<usize> {
        let start = self.b().end;
        start..start + self.spec.outputs * self.spec.hidden
    }

    /// The range of c.
    pub fn c(&self) -> Range<usize> {
        let start = self.v().end;
        start..start + self.spec.outputs
    }

    /// Gathers x_t of every example (inputs are T×D per example, time-major within it).
    fn gather_step(&mut self, inputs: &[F], batch: usize, t: usize) {
        let (d, steps) = (self.spec.inputs, self.spec.steps);
        for row in 0..batch {
            let from = row * steps * d + t * d;
            self.step_input[row * d..(row + 1) * d].copy_from_slice(&inputs[from..from + d]);
        }
    }

    /// Runs the sequence of `batch` examples; returns the outputs (batch × O).
    pub fn forward(&mut self, inputs: &[F], batch: usize) -> &[F] {
        let RnnSpec { inputs: d, hidden: h, outputs: o, steps, .. } = self.spec;
        assert!(batch <= self.max_batch && inputs.len() >= batch * steps * d, "batch too large or inputs too short");
        let layer = batch * h;
        self.states[..layer].fill(F::ZERO);
        let (w, u, b) = (self.w(), self.u(), self.b());
        for t in 0..steps {
            self.gather_step(inputs, batch, t);
            let (before, after) = self.states.split_at_mut((t + 1) * layer);
            let previous = &before[t * layer..];
            let next = &mut after[..layer];
            matmul(
                next,
                &self.step_input,
                Stored::AsIs,
                &self.params[u.clone()],
                Stored::Transposed,
                (batch, d, h),
                false,
                &mut self.workspace,
            );
            matmul(
                next,
                previous,
                Stored::AsIs,
                &self.params[w.clone()],
                Stored::Transposed,
                (batch, h, h),
                true,
                &mut self.workspace,
            );
            let bias = &self.params[b.clone()];
            descent_optim::elementwise::add_bias_and_map(next, bias, &crate::layers::Activation::Tanh);
        }
        let last = &self.states[steps * layer..(steps + 1) * layer];
        let (v, c) = (self.v(), self.c());
        let outputs = &mut self.outputs[..batch * o];
        matmul(
            outputs,
            last,
            Stored::AsIs,
            &self.params[v],
            Stored::Transposed,
            (batch, h, o),
            false,
            &mut self.workspace,
        );
        for row in outputs.chunks_exact_mut(o) {
            row.iter_mut().zip(&self.params[c.clone()]).for_each(|(value, &offset)| *value += offset);
        }
        &self.outputs[..batch * o]
    }

    /// The loss of the outputs of the last [`forward`](Self::forward): (Σ loss, Σ error), and
    /// ∂(mean loss)/∂outputs into `output_grad` when `with_grad`.
    fn loss(&mut self, targets: Targets<'_, F>, batch: usize, with_grad: bool) -> (f64, f64) {
        let o = self.spec.outputs;
        let grad = with_grad.then_some(&mut self.output_grad[..batch * o]);
        loss::evaluate(&self.outputs, targets, batch, o, grad)
    }

    /// Forward and loss only: (Σ loss, Σ error).
    pub fn evaluate(&mut self, inputs: &[F], targets: Targets<'_, F>, batch: usize) -> (f64, f64) {
        self.forward(inputs, batch);
        self.loss(targets, batch, false)
    }

    /// Forward, loss, and back-propagation through time: fills [`grads`](Self::grads) with the
    /// gradient of the batch's mean loss and [`hidden_grad_norms`](Self::hidden_grad_norms).
    /// Returns (Σ loss, Σ error).
    pub fn gradients(&mut self, inputs: &[F], targets: Targets<'_, F>, batch: usize) -> (f64, f64) {
        let RnnSpec { inputs: d, hidden: h, outputs: o, steps, .. } = self.spec;
        self.forward(inputs, batch);
        let result = self.loss(targets, batch, true);
        let layer = batch * h;
        let (w, u, b, v, c) = (self.w(), self.u(), self.b(), self.v(), self.c());
        self.grads.fill(F::ZERO);
        let output_grad = &self.output_grad[..batch * o];
        let last = &self.states[steps * layer..(steps + 1) * layer];
        matmul(
            &mut self.grads[v.clone()],
            output_grad,
            Stored::Transposed,
            last,
            Stored::AsIs,
            (o, batch, h),
            false,
            &mut self.workspace,
        );
        for row in output_grad.chunks_exact(o) {
            self.grads[c.clone()].iter_mut().zip(row).for_each(|(g, &value)| *g += value);
        }
        // δ_T = ∂L/∂h_T = (∂L/∂o) V.
        matmul(
            &mut self.delta[..layer],
            output_grad,
            Stored::AsIs,
            &self.params[v],
            Stored::AsIs,
            (batch, o, h),
            false,
            &mut self.workspace,
        );
        for t in (0..steps).rev() {
            self.hidden_grad_norms[t] = crate::curvature::norm(&self.delta[..layer]);
            // dz = δ ⊙ (1 − h²), in place.
            let state = &self.states[(t + 1) * layer..(t + 2) * layer];
            self.delta[..layer].iter_mut().zip(state).for_each(|(dz, &hv)| *dz *= F::ONE - hv * hv);
            self.gather_step(inputs, batch, t);
            let dz = &self.delta[..layer];
            let previous = &self.states[t * layer..(t + 1) * layer];
            matmul(
                &mut self.grads[w.clone()],
                dz,
                Stored::Transposed,
                previous,
                Stored::AsIs,
                (h, batch, h),
                true,
                &mut self.workspace,
            );
            matmul(
                &mut self.grads[u.clone()],
                dz,
                Stored::Transposed,
                &self.step_input,
                Stored::AsIs,
                (h, batch, d),
                true,
                &mut self.workspace,
            );
            for row in dz.chunks_exact(h) {
                self.grads[b.clone()].iter_mut().zip(row).for_each(|(g, &value)| *g += value);
            }
            // δ_{t−1} = dz W.
            matmul(
                &mut self.delta_next[..layer],
                dz,
                Stored::AsIs,
                &self.params[w.clone()],
                Stored::AsIs,
                (batch, h, h),
                false,
                &mut self.workspace,
            );
            std::mem::swap(&mut self.delta, &mut self.delta_next);
        }
        result
    }

    /// The spectral radius of W, max |λᵢ|, by Gelfand's formula ρ = lim ‖Wᵏv‖^(1/k) from a seeded
    /// random v (with k = 200, renormalizing as it goes; power iteration proper can oscillate when
    /// the top eigenvalues are a complex pair, this cannot).
    pub fn spectral_radius(&self) -> f64 {
        let h = self.spec.hidden;
        let w = &self.params[self.w()];
        let mut rng = ChaCha8Rng::seed_from_u64(0x5eed);
        let mut x: Vec<f64> = (0..h).map(|_| rng.gen::<f64>() - 0.5).collect();
        let mut y = vec![0.0; h];
        let (burn_in, rounds) = (50, 150);
        let mut log_growth = 0.0;
        for round in 0..burn_in + rounds {
            let length = x.iter().map(|v| v * v).sum::<f64>().sqrt();
            if length == 0.0 || !length.is_finite() {
                return 0.0;
            }
            x.iter_mut().for_each(|v| *v /= length);
            for (i, yi) in y.iter_mut().enumerate() {
                *yi = (0..h).map(|j| w[i * h + j].to_f64() * x[j]).sum();
            }
            let growth = y.iter().map(|v| v * v).sum::<f64>().sqrt();
            if round >= burn_in {
                log_growth += growth.max(f64::MIN_POSITIVE).ln();
            }
            std::mem::swap(&mut x, &mut y);
        }
        (log_growth / rounds as f64).exp()
    }
}

/// Trains `rnn` on a regression set (`inputs`: examples × T × D, `targets`: examples × O) for
/// `steps` updates on minibatches of `batch` drawn with replacement from `seed`, stepping
/// `optimizer` (with whatever clipping it has) at rate `lr`. Returns the mean loss of every
/// minibatch as trained on; a non-finite loss or gradient ends the run there (its value is the
/// last one returned).
#[allow(clippy::too_many_arguments)]
pub fn train_values(
    rnn: &mut Rnn<f32>,
    inputs: &[f32],
    targets: &[f32],
    optimizer: &mut descent_optim::Optimizer<f32>,
    lr: f64,
    batch: usize,
    steps: usize,
    seed: u64,
) -> Result<Vec<f64>, Error> {
    let RnnSpec { inputs: d, outputs: o, steps: time, .. } = rnn.spec();
    let examples = targets.len() / o;
    let row = time * d;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut batch_inputs, mut batch_targets) = (vec![0.0f32; batch * row], vec![0.0f32; batch * o]);
    let mut losses = Vec::with_capacity(steps);
    for _ in 0..steps {
        for slot in 0..batch {
            let example = rng.gen_range(0..examples);
            batch_inputs[slot * row..(slot + 1) * row].copy_from_slice(&inputs[example * row..(example + 1) * row]);
            batch_targets[slot * o..(slot + 1) * o].copy_from_slice(&targets[example * o..(example + 1) * o]);
        }
        let (total, _) = rnn.gradients(&batch_inputs, Targets::Values(&batch_targets), batch);
        let loss = total / batch as f64;
        losses.push(loss);
        if !loss.is_finite() || !rnn.grads.iter().all(|g| g.is_finite()) {
            break;
        }
        let Rnn { params, grads, .. } = rnn;
        optimizer.step(params, grads, lr)?;
    }
    Ok(losses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::adding::AddingProblem;
    use descent_optim::{Clip, Convention, Optimizer, OptimizerConfig};

    fn spec(outputs: usize, gain: f64) -> RnnSpec {
        RnnSpec { inputs: 3, hidden: 5, outputs, steps: 4, recurrent_init: Init::Orthogonal { gain } }
    }

    /// Central differences of the mean loss in f64 against back-propagation through time.
    fn check_gradient(targets: Targets<'_, f64>, outputs: usize) {
        let mut rnn = Rnn::<f64>::new(spec(outputs, 1.2), 3, 11).unwrap();
        rnn.params.iter_mut().enumerate().for_each(|(i, p)| *p += 0.05 * (i as f64 * 0.7).sin());
        let inputs: Vec<f64> = (0..3 * 4 * 3).map(|i| (i as f64 * 0.43).cos()).collect();
        rnn.gradients(&inputs, targets, 3);
        let analytic = rnn.grads.clone();
        let h = 1e-6;
        for (index, &expected) in analytic.iter().enumerate() {
            let original = rnn.params[index];
            rnn.params[index] = original + h;
            let up = rnn.evaluate(&inputs, targets, 3).0 / 3.0;
            rnn.params[index] = original - h;
            let down = rnn.evaluate(&inputs, targets, 3).0 / 3.0;
            rnn.params[index] = original;
            let numeric = (up - down) / (2.0 * h);
            assert!(
                (numeric - expected).abs() <= 1e-7 * (1.0 + numeric.abs()),
                "param {index}: {numeric} vs {expected}"
            );
        }
    }

    #[test]
    fn bptt_matches_central_differences_for_classes_and_values() {
        check_gradient(Targets::Classes(&[0, 3, 1]), 4);
        check_gradient(Targets::Values(&[0.5, -1.0, 0.25, 2.0, 1.5, 0.0]), 2);
    }

    #[test]
    fn the_spectral_radius_of_a_scaled_orthogonal_matrix_is_its_gain() {
        for gain in [0.5, 1.0, 1.7] {
            let rnn = Rnn::<f64>::new(RnnSpec { hidden: 40, ..spec(1, gain) }, 1, 2).unwrap();
            assert!((rnn.spectral_radius() - gain).abs() < 1e-3 * gain, "{gain}: {}", rnn.spectral_radius());
        }
    }

    /// ρ(W) of a network whose recurrent matrix is `w` (row-major, n × n).
    fn spectral_radius_of(w: &[f64], n: usize) -> f64 {
        let mut rnn = Rnn::<f64>::new(RnnSpec { hidden: n, ..spec(1, 1.0) }, 1, 2).unwrap();
        let range = rnn.w();
        rnn.params[range].copy_from_slice(w);
        rnn.spectral_radius()
    }

    #[test]
    fn the_spectral_radius_of_a_triangular_matrix_is_its_largest_diagonal_entry() {
        // Eigenvalues −0.95, 0.6, 0.4, −0.3 (the diagonal); far from normal: ‖W‖₂ = 4.54 and
        // ‖Wv‖/‖v‖ ranges over [0.0047, 4.54] (numpy's SVD), so neither the spectral norm nor a
        // one-step estimate comes near 0.95. After the 50 burn-in steps what is left outside the
        // top eigenvector is (0.6/0.95)⁵⁰ ≈ 1e-10 of it.
        #[rustfmt::skip]
        let w = [
            -0.95, 2.0, -1.5, 3.0,
            0.0, 0.6, 2.5, -1.0,
            0.0, 0.0, 0.4, 2.0,
            0.0, 0.0, 0.0, -0.3,
        ];
        let radius = spectral_radius_of(&w, 4);
        assert!((radius - 0.95).abs() < 1e-9, "{radius}");
    }

    #[test]
    fn the_spectral_radius_of_a_complex_pair_is_its_modulus() {
        // The block [[0, −4], [1, 0]] has eigenvalues ±2i and squares to −4I, so ‖W²ᵏx‖ = 4ᵏ‖x‖
        // exactly on its plane, while ‖Wx‖/‖x‖ swings between 1 and 4 and xᵀWx/xᵀx between −1.5
        // and 1.5: a one-step growth, ‖W‖₂ = 4.59 or a Rayleigh quotient cannot give 2. The lower
        // block (eigenvalues −1.5, 0.5) feeds the upper one; after burn-in it is (1.5/2)⁵⁰ ≈ 6e-7 of
        // the vector and its mark on the 150-step average is below 1e-8.
        #[rustfmt::skip]
        let w = [
            0.0, -4.0, 1.0, 2.0,
            1.0, 0.0, -1.0, 0.5,
            0.0, 0.0, -1.5, 1.0,
            0.0, 0.0, 0.0, 0.5,
        ];
        let radius = spectral_radius_of(&w, 4);
        assert!((radius - 2.0).abs() < 1e-7, "{radius}");
        // A rotation by 0.7 rad with gain 1.3 seen through S = [[1, 2, 0], [0, 1, 3], [0, 0, 1]],
        // beside an eigenvalue 0.4: W = S M S⁻¹ with S⁻¹ = [[1, −2, 6], [0, 1, −3], [0, 0, 1]].
        // ‖Wᵏx‖ on the rotation's plane stays within κ(S) ≤ ‖S‖_F‖S⁻¹‖_F = 4·√52 of 1.3ᵏ‖x‖, so
        // the 150-step average is within ln(4√52)/150 of ln 1.3.
        let (c, s) = (1.3 * 0.7f64.cos(), 1.3 * 0.7f64.sin());
        let m = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 0.4]];
        let forward = [[1.0, 2.0, 0.0], [0.0, 1.0, 3.0], [0.0, 0.0, 1.0]];
        let inverse = [[1.0, -2.0, 6.0], [0.0, 1.0, -3.0], [0.0, 0.0, 1.0]];
        let product = |a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]| {
            let mut out = [[0.0; 3]; 3];
            for (i, row) in out.iter_mut().enumerate() {
                for (j, value) in row.iter_mut().enumerate() {
                    *value = (0..3).map(|k| a[i][k] * b[k][j]).sum();
                }
            }
            out
        };
        let w: Vec<f64> = product(&product(&forward, &m), &inverse).concat();
        let radius = spectral_radius_of(&w, 3);
        let bound = (4.0 * 52f64.sqrt()).ln() / 150.0;
        assert!((radius / 1.3).ln().abs() < bound, "{radius}");
    }

    #[test]
    fn gradients_vanish_across_time_when_w_is_contracting() {
        // ρ(W) = 0.5: ∂L/∂h_t shrinks at least like 0.5^(T−t) going back in time (tanh' ≤ 1).
        let spec =
            RnnSpec { inputs: 2, hidden: 16, outputs: 1, steps: 30, recurrent_init: Init::Orthogonal { gain: 0.5 } };
        let mut rnn = Rnn::<f64>::new(spec, 8, 4).unwrap();
        let data = AddingProblem::generate(8, 30, 1);
        let inputs: Vec<f64> = data.inputs.iter().map(|&x| x as f64).collect();
        let targets: Vec<f64> = data.targets.iter().map(|&x| x as f64).collect();
        rnn.gradients(&inputs, Targets::Values(&targets), 8);
        let norms = &rnn.hidden_grad_norms;
        assert!(norms[0] < 1e-8 * norms[29], "{norms:?}");
        assert!(norms.windows(2).all(|pair| pair[0] <= 0.5 * pair[1] * (1.0 + 1e-9)), "{norms:?}");
    }

    /// The adding problem with an expanding recurrent matrix (ρ(W) = 3) and a large rate: plain
    /// SGD hits the cliff and spikes or overflows; clipped to global norm 1, it does not.
    fn cliff_run(clip: Option<Clip>) -> Vec<f64> {
        let data = AddingProblem::generate(512, 40, 9);
        let spec =
            RnnSpec { inputs: 2, hidden: 24, outputs: 1, steps: 40, recurrent_init: Init::Orthogonal { gain: 3.0 } };
        let mut rnn = Rnn::<f32>::new(spec, 32, 5).unwrap();
        let config = OptimizerConfig::named("sgd", Convention::Book).unwrap();
        let mut optimizer = Optimizer::<f32>::from_config(&config).unwrap().with_clip(clip).unwrap();
        train_values(&mut rnn, &data.inputs, &data.targets, &mut optimizer, 1.0, 32, 150, 3).unwrap()
    }

    #[test]
    fn clipping_keeps_a_run_off_the_cliff() {
        let unclipped = cliff_run(None);
        let clipped = cliff_run(Some(Clip::GlobalNorm(1.0)));
        let spike = |losses: &[f64]| {
            let first = losses[0];
            losses.iter().any(|l| !l.is_finite() || *l > 10.0 * first)
        };
        assert!(spike(&unclipped), "the unclipped run should spike or diverge");
        // README's figures. From the third update on the unclipped loss multiplies by 490 to 576
        // per step. Once every hidden unit is saturated (h = ±1, from the seventh update on) a step
        // of rate 1 moves the output o by −(‖h‖² + 1)(o − t) = −25(o − t) (24 from V, 1 from the
        // bias c): o − t ← −24(o − t) with t negligible beside o, the loss ×24² = 576 exactly. After
        // 17 updates the loss is 2.8e41, and the next gradient overflows f32 and ends the run.
        // Measured within 1.1e-6 of 576: the targets (~1) beside outputs from 5e5 on, f32 rounding.
        let growth: Vec<f64> = unclipped.windows(2).map(|pair| pair[1] / pair[0]).collect();
        assert_eq!(unclipped.len(), 18, "{unclipped:?}");
        assert!(growth[2..].iter().all(|&g| (490.0..=576.0 * (1.0 + 1e-5)).contains(&g)), "{growth:?}");
        assert!(growth[6..].iter().all(|&g| (g - 576.0).abs() < 1e-5 * 576.0), "{growth:?}");
        assert!(unclipped[17] > 1e41, "{unclipped:?}");
        assert!(!spike(&clipped), "the clipped run should not");
        assert_eq!(clipped.len(), 150);
    }
}
