//! What the trainer trains: any type with one flat parameter buffer and one flat gradient buffer
//! that computes the gradient of a batch's mean loss.
//!
//! The library's [`Network`] (layers in sequence) and [`Rnn`] implement [`Model`]; so can a
//! model of your own, which [`Trainer::with_model`](crate::train::Trainer::with_model) then
//! trains with every optimizer, schedule, clipping rule, checkpoint and diagnostic. The buffers
//! are flat because the optimizers step over one contiguous slice; [`Model::tensors`] names the
//! parts of it (one optimizer group each, so per-tensor clipping clips each tensor).

use std::ops::Range;

use crate::data::Targets;
use crate::layers::Shape;
use crate::network::Network;
use crate::rnn::Rnn;

/// A trainable model.
///
/// ```
/// use descent::data::Targets;
/// use descent::model::Model;
/// use std::ops::Range;
///
/// /// y = w·x + b on one input, trained on ½(y − t)².
/// struct Line {
///     params: Vec<f32>,
///     grads: Vec<f32>,
///     outputs: Vec<f32>,
/// }
///
/// impl Model for Line {
///     fn params(&self) -> &[f32] { &self.params }
///     fn params_and_grads(&mut self) -> (&mut [f32], &mut [f32]) { (&mut self.params, &mut self.grads) }
///     fn grads(&self) -> &[f32] { &self.grads }
///     fn input_width(&self) -> usize { 1 }
///     fn output_width(&self) -> usize { 1 }
///     fn max_batch(&self) -> usize { self.outputs.len() }
///     fn tensors(&self) -> Vec<(String, Range<usize>)> { vec![("w".into(), 0..1), ("b".into(), 1..2)] }
///     fn predict(&mut self, inputs: &[f32], batch: usize) -> &[f32] {
///         for (y, x) in self.outputs.iter_mut().zip(&inputs[..batch]) {
///             *y = self.params[0] * x + self.params[1];
///         }
///         &self.outputs[..batch]
///     }
///     fn evaluate(&mut self, inputs: &[f32], targets: Targets<'_, f32>, batch: usize) -> (f64, f64) {
///         let Targets::Values(t) = targets else { panic!("a line regresses values") };
///         let y = self.predict(inputs, batch);
///         let loss: f64 = y.iter().zip(t).map(|(y, t)| 0.5 * f64::from(y - t).powi(2)).sum();
///         (loss, loss)
///     }
///     fn gradients(&mut self, inputs: &[f32], targets: Targets<'_, f32>, batch: usize) -> (f64, f64) {
///         let result = self.evaluate(inputs, targets, batch);
///         let Targets::Values(t) = targets else { unreachable!() };
///         let (mut dw, mut db) = (0.0, 0.0);
///         for ((y, x), t) in self.outputs.iter().zip(inputs).zip(t).take(batch) {
///             dw += (y - t) * x / batch as f32;
///             db += (y - t) / batch as f32;
///         }
///         self.grads.copy_from_slice(&[dw, db]);
///         result
///     }
/// }
///
/// let mut line = Line { params: vec![0.0, 0.0], grads: vec![0.0; 2], outputs: vec![0.0; 8] };
/// line.gradients(&[1.0, 2.0], Targets::Values(&[3.0, 5.0]), 2);
/// assert_eq!(line.grads(), &[-6.5, -4.0]);
/// ```
pub trait Model: Send {
    /// All parameters, as one flat buffer.
    fn params(&self) -> &[f32];

    /// Parameters and the gradient of the last [`gradients`](Self::gradients) together, both to
    /// change: for an optimizer step, and for a data-parallel job to sum the gradient over ranks.
    fn params_and_grads(&mut self) -> (&mut [f32], &mut [f32]);

    /// All parameters, to change.
    fn params_mut(&mut self) -> &mut [f32] {
        self.params_and_grads().0
    }

    /// The gradient, to change.
    fn grads_mut(&mut self) -> &mut [f32] {
        self.params_and_grads().1
    }

    /// The gradient of the last [`gradients`](Self::gradients), laid out as the parameters.
    fn grads(&self) -> &[f32];

    /// Values per example of the input.
    fn input_width(&self) -> usize;

    /// The shape of one example's input (a flat vector of [`input_width`](Self::input_width)
    /// values unless the model reads images).
    fn input_shape(&self) -> Shape {
        Shape::flat(self.input_width())
    }

    /// Values per example of the output (class scores, or values).
    fn output_width(&self) -> usize;

    /// The largest batch the model's buffers hold.
    fn max_batch(&self) -> usize;

    /// Every tensor by name and range in the flat buffers (one optimizer group each).
    fn tensors(&self) -> Vec<(String, Range<usize>)>;

    /// The outputs of `batch` rows of `inputs` (`batch × output_width` values).
    fn predict(&mut self, inputs: &[f32], batch: usize) -> &[f32];

    /// Forward and loss only: (Σ loss, Σ error) over the `batch` rows.
    fn evaluate(&mut self, inputs: &[f32], targets: Targets<'_, f32>, batch: usize) -> (f64, f64);

    /// Forward, loss against `targets`, backward: fills [`grads`](Self::grads) with the gradient
    /// of the batch's **mean** loss. Returns (Σ loss, Σ error) over the `batch` rows.
    fn gradients(&mut self, inputs: &[f32], targets: Targets<'_, f32>, batch: usize) -> (f64, f64);

    /// [`gradients`](Self::gradients), handing finished parts of the gradient to `sink` (each
    /// part once; together the whole gradient), on another thread while the rest is computed
    /// where the model can (a [`Network`] streams each layer's as backward makes it), so that a
    /// data-parallel job sums gradients over ranks while it computes. By default: all of it at
    /// the end.
    fn gradients_streamed(
        &mut self,
        inputs: &[f32],
        targets: Targets<'_, f32>,
        batch: usize,
        sink: &(dyn Fn(&mut [f32]) + Sync),
    ) -> (f64, f64) {
        let result = self.gradients(inputs, targets, batch);
        sink(self.grads_mut());
        result
    }

    /// Each tensor of [`tensors`](Self::tensors) as a matrix (rows, columns; one row for a
    /// vector): what Adafactor and Muon need. By default every tensor is a vector.
    fn tensor_shapes(&self) -> Vec<(usize, usize)> {
        self.tensors().iter().map(|(_, range)| (1, range.len())).collect()
    }

    /// The parts [`gradients_streamed`](Self::gradients_streamed) hands to its sink, in the
    /// order it hands them: what a rank with no examples sums instead, so that every rank makes
    /// the same calls. By default the whole gradient at once.
    fn streamed_parts(&self) -> Vec<Range<usize>> {
        std::iter::once(0..self.grads().len()).collect()
    }

    /// The layers by name and range, what per-layer statistics and error messages name (the
    /// tensors, unless the model groups them).
    fn layers(&self) -> Vec<(String, Range<usize>)> {
        self.tensors()
    }

    /// Multiply-adds ×2 of one example's forward and backward pass (0 when unknown), for the
    /// throughput figures of benchmarks.
    fn flops_per_example(&self) -> f64 {
        0.0
    }

    /// Bytes of the activation buffers for a batch of `batch` (0 when unknown).
    fn activation_bytes(&self, _batch: usize) -> usize {
        0
    }

    /// For a recurrent model: ρ(W) and ‖∂L/∂h_t‖ for t = 1…T of the last gradient.
    fn time_profile(&self) -> Option<(f64, &[f64])> {
        None
    }
}

impl Model for Network<f32> {
    fn params(&self) -> &[f32] {
        &self.params
    }

    fn params_and_grads(&mut self) -> (&mut [f32], &mut [f32]) {
        (&mut self.params, &mut self.grads)
    }

    fn grads(&self) -> &[f32] {
        &self.grads
    }

    fn input_width(&self) -> usize {
        Network::input_width(self)
    }

    fn input_shape(&self) -> Shape {
        Network::input_shape(self)
    }

    fn output_width(&self) -> usize {
        Network::output_width(self)
    }

    fn max_batch(&self) -> usize {
        Network::max_batch(self)
    }

    fn tensors(&self) -> Vec<(String, Range<usize>)> {
        Network::tensors(self).iter().map(|t| (t.name.clone(), t.range.clone())).collect()
    }

    fn tensor_shapes(&self) -> Vec<(usize, usize)> {
        Network::tensors(self).iter().map(|t| t.shape).collect()
    }

    fn predict(&mut self, inputs: &[f32], batch: usize) -> &[f32] {
        self.forward(inputs, batch)
    }

    fn evaluate(&mut self, inputs: &[f32], targets: Targets<'_, f32>, batch: usize) -> (f64, f64) {
        Network::evaluate(self, inputs, targets, batch)
    }

    fn gradients(&mut self, inputs: &[f32], targets: Targets<'_, f32>, batch: usize) -> (f64, f64) {
        Network::gradients(self, inputs, targets, batch)
    }

    fn gradients_streamed(
        &mut self,
        inputs: &[f32],
        targets: Targets<'_, f32>,
        batch: usize,
        sink: &(dyn Fn(&mut [f32]) + Sync),
    ) -> (f64, f64) {
        Network::gradients_streamed(self, inputs, targets, batch, sink)
    }

    fn streamed_parts(&self) -> Vec<Range<usize>> {
        // Each layer with parameters, last first, as backward makes them.
        Network::layers(self).into_iter().map(|(_, range)| range).filter(|range| !range.is_empty()).rev().collect()
    }

    fn layers(&self) -> Vec<(String, Range<usize>)> {
        // Layers without parameters (pooling, activations) have nothing to report.
        Network::layers(self).into_iter().filter(|(_, range)| !range.is_empty()).collect()
    }

    fn flops_per_example(&self) -> f64 {
        Network::flops_per_example(self)
    }

    fn activation_bytes(&self, batch: usize) -> usize {
        Network::activation_bytes(self, batch)
    }
}

impl Model for Rnn<f32> {
    fn params(&self) -> &[f32] {
        &self.params
    }

    fn params_and_grads(&mut self) -> (&mut [f32], &mut [f32]) {
        (&mut self.params, &mut self.grads)
    }

    fn grads(&self) -> &[f32] {
        &self.grads
    }

    fn input_width(&self) -> usize {
        let spec = self.spec();
        spec.inputs * spec.steps
    }

    fn output_width(&self) -> usize {
        self.spec().outputs
    }

    fn max_batch(&self) -> usize {
        Rnn::max_batch(self)
    }

    fn tensors(&self) -> Vec<(String, Range<usize>)> {
        vec![
            ("W".into(), self.w()),
            ("U".into(), self.u()),
            ("b".into(), self.b()),
            ("V".into(), self.v()),
            ("c".into(), self.c()),
        ]
    }

    fn tensor_shapes(&self) -> Vec<(usize, usize)> {
        let spec = self.spec();
        let (hidden, inputs, outputs) = (spec.hidden, spec.inputs, spec.outputs);
        vec![(hidden, hidden), (hidden, inputs), (1, hidden), (outputs, hidden), (1, outputs)]
    }

    fn predict(&mut self, inputs: &[f32], batch: usize) -> &[f32] {
        self.forward(inputs, batch)
    }

    fn evaluate(&mut self, inputs: &[f32], targets: Targets<'_, f32>, batch: usize) -> (f64, f64) {
        Rnn::evaluate(self, inputs, targets, batch)
    }

    fn gradients(&mut self, inputs: &[f32], targets: Targets<'_, f32>, batch: usize) -> (f64, f64) {
        Rnn::gradients(self, inputs, targets, batch)
    }

    fn layers(&self) -> Vec<(String, Range<usize>)> {
        let spec = self.spec();
        vec![
            (
                format!("recurrent {}→{} over {} steps", spec.inputs, spec.hidden, spec.steps),
                self.w().start..self.b().end,
            ),
            (format!("readout {}→{}", spec.hidden, spec.outputs), self.v().start..self.c().end),
        ]
    }

    fn flops_per_example(&self) -> f64 {
        let s = self.spec();
        let per_step = (s.hidden * s.hidden + s.hidden * s.inputs) as f64;
        2.0 * 3.0 * (s.steps as f64 * per_step + (s.hidden * s.outputs) as f64)
    }

    fn activation_bytes(&self, batch: usize) -> usize {
        Rnn::activation_bytes(self, batch)
    }

    fn time_profile(&self) -> Option<(f64, &[f64])> {
        Some((self.spectral_radius(), &self.hidden_grad_norms))
    }
}
