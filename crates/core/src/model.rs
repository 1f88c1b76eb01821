//! What the trainer trains: a network of layers or a recurrent one, behind one small interface
//! (parameters and gradients in one flat buffer each, gradients and evaluation of a batch of
//! labelled rows, and the named parts of the buffer that groups, clipping and statistics use).

use std::ops::Range;

use crate::data::Targets;
use crate::network::Network;
use crate::rnn::Rnn;

/// A model of the trainer.
pub enum Model {
    /// Layers in sequence ([`Network`]): dense, convolutional, pooling.
    Layers(Network<f32>),
    /// A vanilla RNN reading each row of features as `steps` time steps ([`Rnn`]).
    Recurrent(Rnn<f32>),
}

impl Model {
    /// All parameters.
    pub fn params(&self) -> &[f32] {
        match self {
            Model::Layers(n) => &n.params,
            Model::Recurrent(r) => &r.params,
        }
    }

    /// All parameters, to change.
    pub fn params_mut(&mut self) -> &mut [f32] {
        match self {
            Model::Layers(n) => &mut n.params,
            Model::Recurrent(r) => &mut r.params,
        }
    }

    /// The gradient of the last [`gradients`](Self::gradients).
    pub fn grads(&self) -> &[f32] {
        match self {
            Model::Layers(n) => &n.grads,
            Model::Recurrent(r) => &r.grads,
        }
    }

    /// Parameters (to update) and gradients together.
    pub fn params_and_grads(&mut self) -> (&mut [f32], &[f32]) {
        match self {
            Model::Layers(n) => (&mut n.params, &n.grads),
            Model::Recurrent(r) => (&mut r.params, &r.grads),
        }
    }

    /// Forward, loss against `targets` of `batch` rows, backward: (Σ loss, Σ error).
    pub fn gradients(&mut self, inputs: &[f32], targets: Targets<'_, f32>, batch: usize) -> (f64, f64) {
        match self {
            Model::Layers(n) => n.gradients(inputs, targets, batch),
            Model::Recurrent(r) => r.gradients(inputs, targets, batch),
        }
    }

    /// Forward and loss only: (Σ loss, Σ error).
    pub fn evaluate(&mut self, inputs: &[f32], targets: Targets<'_, f32>, batch: usize) -> (f64, f64) {
        match self {
            Model::Layers(n) => n.evaluate(inputs, targets, batch),
            Model::Recurrent(r) => r.evaluate(inputs, targets, batch),
        }
    }

    /// The largest batch the buffers hold.
    pub fn max_batch(&self) -> usize {
        match self {
            Model::Layers(n) => n.max_batch(),
            Model::Recurrent(r) => r.max_batch(),
        }
    }

    /// Every tensor by name and range (one optimizer group each).
    pub fn tensors(&self) -> Vec<(String, Range<usize>)> {
        match self {
            Model::Layers(n) => n.tensors().iter().map(|t| (t.name.clone(), t.range.clone())).collect(),
            Model::Recurrent(r) => {
                vec![
                    ("W".into(), r.w()),
                    ("U".into(), r.u()),
                    ("b".into(), r.b()),
                    ("V".into(), r.v()),
                    ("c".into(), r.c()),
                ]
            }
        }
    }

    /// Each tensor of [`tensors`](Self::tensors) as a matrix (rows, columns; one row for a
    /// vector): what Adafactor and Muon need.
    pub fn tensor_shapes(&self) -> Vec<(usize, usize)> {
        match self {
            Model::Layers(n) => n.tensors().iter().map(|t| t.shape).collect(),
            Model::Recurrent(r) => {
                let spec = r.spec();
                let (hidden, inputs, outputs) = (spec.hidden, spec.inputs, spec.outputs);
                vec![(hidden, hidden), (hidden, inputs), (1, hidden), (outputs, hidden), (1, outputs)]
            }
        }
    }

    /// The layers by name and range: what per-layer statistics and error messages name.
    pub fn layers(&self) -> Vec<(String, Range<usize>)> {
        match self {
            // Layers without parameters (pooling, activations) have nothing to report.
            Model::Layers(n) => n.layers().into_iter().filter(|(_, range)| !range.is_empty()).collect(),
            Model::Recurrent(r) => {
                let spec = r.spec();
                vec![
                    (
                        format!("recurrent {}→{} over {} steps", spec.inputs, spec.hidden, spec.steps),
                        r.w().start..r.b().end,
                    ),
                    (format!("readout {}→{}", spec.hidden, spec.outputs), r.v().start..r.c().end),
                ]
            }
        }
    }

    /// Multiply-adds ×2 of one example's forward and backward pass.
    pub fn flops_per_example(&self) -> f64 {
        match self {
            Model::Layers(n) => n.flops_per_example(),
            Model::Recurrent(r) => {
                let s = r.spec();
                let per_step = (s.hidden * s.hidden + s.hidden * s.inputs) as f64;
                2.0 * 3.0 * (s.steps as f64 * per_step + (s.hidden * s.outputs) as f64)
            }
        }
    }

    /// For a recurrent model: ρ(W) and ‖∂L/∂h_t‖ for t = 1…T of the last gradient.
    pub fn time_profile(&self) -> Option<(f64, &[f64])> {
        match self {
            Model::Layers(_) => None,
            Model::Recurrent(r) => Some((r.spectral_radius(), &r.hidden_grad_norms)),
        }
    }

    /// Bytes of the activation buffers for a batch of `batch`.
    pub fn activation_bytes(&self, batch: usize) -> usize {
        match self {
            Model::Layers(n) => n.activation_bytes(batch),
            Model::Recurrent(r) => r.activation_bytes(batch),
        }
    }
}
