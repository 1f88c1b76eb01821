//! Feed-forward networks of dense layers with explicit forward and backward passes.
//!
//! All parameters live in one flat buffer (`params`) and all gradients in another (`grads`), each
//! layer owning named ranges of them, so an optimizer step is one pass over contiguous memory.
//! Activations and back-propagated gradients live in buffers sized once for the largest batch:
//! after construction, a training step allocates nothing.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use descent_optim::{Float, Init};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::linalg::{matmul, Stored, Workspace};
use crate::loss;
use crate::Error;

/// The nonlinearity after a dense layer. Each derivative is written in terms of the output y, so
/// backward needs only the stored outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// y = z.
    Identity,
    /// y = max(0, z); y′ = 1 where y > 0, else 0.
    Relu,
    /// y = tanh z; y′ = 1 − y².
    Tanh,
    /// y = 1/(1 + e⁻ᶻ); y′ = y(1 − y).
    Sigmoid,
}

impl Activation {
    #[inline(always)]
    fn apply<F: Float>(self, z: F) -> F {
        match self {
            Activation::Identity => z,
            Activation::Relu => {
                if z > F::ZERO {
                    z
                } else {
                    F::ZERO
                }
            }
            Activation::Tanh => z.tanh(),
            Activation::Sigmoid => F::ONE / (F::ONE + (-z).exp()),
        }
    }

    /// dy/dz as a function of y.
    #[inline(always)]
    fn derivative<F: Float>(self, y: F) -> F {
        match self {
            Activation::Identity => F::ONE,
            Activation::Relu => {
                if y > F::ZERO {
                    F::ONE
                } else {
                    F::ZERO
                }
            }
            Activation::Tanh => F::ONE - y * y,
            Activation::Sigmoid => y * (F::ONE - y),
        }
    }
}

impl FromStr for Activation {
    type Err = Error;
    fn from_str(name: &str) -> Result<Self, Error> {
        match name {
            "identity" => Ok(Activation::Identity),
            "relu" => Ok(Activation::Relu),
            "tanh" => Ok(Activation::Tanh),
            "sigmoid" => Ok(Activation::Sigmoid),
            _ => Err(Error::Invalid {
                field: "activation",
                message: "must be identity, relu, tanh or sigmoid",
                value: name.to_string(),
            }),
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Activation::Identity => "identity",
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
        })
    }
}

/// One dense layer: y = act(x·Wᵀ + b), W of shape outputs × inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSpec {
    /// Width of the input.
    pub inputs: usize,
    /// Width of the output.
    pub outputs: usize,
    /// Nonlinearity after the affine map.
    pub activation: Activation,
    /// How the weights are drawn (biases start at zero).
    pub init: Init,
}

/// A dense layer's place in the flat buffers.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// Its shape and nonlinearity.
    pub spec: LayerSpec,
    /// W in the flat buffers (outputs × inputs, row-major).
    pub weights: Range<usize>,
    /// b in the flat buffers.
    pub bias: Range<usize>,
}

/// A stack of dense layers ending in a softmax classifier, with its buffers.
#[derive(Debug, Clone)]
pub struct Network<F: Float> {
    layers: Vec<Layer>,
    /// All parameters, layer by layer (W then b).
    pub params: Vec<F>,
    /// ∂loss/∂params after [`Network::gradients`], same layout.
    pub grads: Vec<F>,
    outputs: Vec<Vec<F>>,
    delta: [Vec<F>; 2],
    max_batch: usize,
    /// The products' threads and packing memory.
    workspace: Workspace<F>,
}

impl<F: Float> Network<F> {
    /// A network of `specs` with weights drawn from `seed`, buffers for batches up to `max_batch`,
    /// and products split over `threads` threads.
    pub fn new(specs: Vec<LayerSpec>, max_batch: usize, seed: u64, threads: usize) -> Result<Self, Error> {
        if specs.is_empty() {
            return Err(Error::Invalid { field: "layers", message: "must not be empty", value: "0".into() });
        }
        for pair in specs.windows(2) {
            if pair[0].outputs != pair[1].inputs {
                return Err(Error::Invalid {
                    field: "layers",
                    message: "must chain (each layer's inputs = the previous outputs)",
                    value: format!("{} → {}", pair[0].outputs, pair[1].inputs),
                });
            }
        }
        let mut offset = 0;
        let layers: Vec<Layer> = specs
            .into_iter()
            .map(|spec| {
                let weights = offset..offset + spec.inputs * spec.outputs;
                let bias = weights.end..weights.end + spec.outputs;
                offset = bias.end;
                Layer { spec, weights, bias }
            })
            .collect();
        let mut params = vec![F::ZERO; offset];
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for layer in &layers {
            let (inputs, outputs) = (layer.spec.inputs, layer.spec.outputs);
            layer.spec.init.fill(&mut params[layer.weights.clone()], inputs, outputs, &mut rng);
        }
        let widest = layers.iter().map(|l| l.spec.outputs.max(l.spec.inputs)).max().unwrap_or(0);
        Ok(Network {
            outputs: layers.iter().map(|l| vec![F::ZERO; max_batch * l.spec.outputs]).collect(),
            delta: [vec![F::ZERO; max_batch * widest], vec![F::ZERO; max_batch * widest]],
            grads: vec![F::ZERO; offset],
            params,
            layers,
            max_batch,
            workspace: Workspace::new(threads),
        })
    }

    /// Bytes of the activation buffers a batch of `batch` rows needs: every layer's outputs (kept
    /// for the backward pass) and the two back-propagated deltas.
    pub fn activation_bytes(&self, batch: usize) -> usize {
        let outputs: usize = self.layers.iter().map(|l| l.spec.outputs).sum();
        let widest = self.layers.iter().map(|l| l.spec.outputs.max(l.spec.inputs)).max().unwrap_or(0);
        (outputs + 2 * widest) * batch * std::mem::size_of::<F>()
    }

    /// The layers, with their ranges in the flat buffers.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Width of the input.
    pub fn input_width(&self) -> usize {
        self.layers[0].spec.inputs
    }

    /// Width of the output.
    pub fn output_width(&self) -> usize {
        self.layers[self.layers.len() - 1].spec.outputs
    }

    /// The largest batch the buffers hold.
    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    /// Runs the layers on `batch` rows of `input`; returns the output rows.
    pub fn forward(&mut self, input: &[F], batch: usize) -> &[F] {
        assert!(batch <= self.max_batch && input.len() >= batch * self.input_width());
        for index in 0..self.layers.len() {
            let layer = &self.layers[index];
            let (n_in, n_out) = (layer.spec.inputs, layer.spec.outputs);
            let (before, rest) = self.outputs.split_at_mut(index);
            let x = if index == 0 { input } else { &before[index - 1][..] };
            let y = &mut rest[0][..batch * n_out];
            let w = &self.params[layer.weights.clone()];
            matmul(y, x, Stored::AsIs, w, Stored::Transposed, (batch, n_in, n_out), false, &mut self.workspace);
            let (bias, activation) = (&self.params[layer.bias.clone()], layer.spec.activation);
            for row in y.chunks_exact_mut(n_out) {
                for (v, &b) in row.iter_mut().zip(bias) {
                    *v = activation.apply(*v + b);
                }
            }
        }
        let last = self.layers.len() - 1;
        &self.outputs[last][..batch * self.output_width()]
    }

    /// Back-propagates from ∂loss/∂output (`output_grad`, `batch` rows) after a [`forward`] on the
    /// same `input`, writing ∂loss/∂params into [`grads`](Self::grads).
    ///
    /// [`forward`]: Self::forward
    fn backward(&mut self, input: &[F], batch: usize) {
        let [current, next] = &mut self.delta;
        let (mut current, mut next) = (current, next);
        for index in (0..self.layers.len()).rev() {
            let layer = &self.layers[index];
            let (n_in, n_out) = (layer.spec.inputs, layer.spec.outputs);
            let y = &self.outputs[index][..batch * n_out];
            let dz = &mut current[..batch * n_out];
            let activation = layer.spec.activation;
            if activation != Activation::Identity {
                dz.iter_mut().zip(y).for_each(|(d, &y)| *d *= activation.derivative(y));
            }
            let x = if index == 0 { input } else { &self.outputs[index - 1][..batch * n_in] };
            let grad_w = &mut self.grads[layer.weights.clone()];
            matmul(grad_w, dz, Stored::Transposed, x, Stored::AsIs, (n_out, batch, n_in), false, &mut self.workspace);
            let grad_b = &mut self.grads[layer.bias.clone()];
            grad_b.fill(F::ZERO);
            for row in dz.chunks_exact(n_out) {
                grad_b.iter_mut().zip(row).for_each(|(g, &d)| *g += d);
            }
            if index > 0 {
                let w = &self.params[layer.weights.clone()];
                matmul(
                    &mut next[..batch * n_in],
                    dz,
                    Stored::AsIs,
                    w,
                    Stored::AsIs,
                    (batch, n_out, n_in),
                    false,
                    &mut self.workspace,
                );
                std::mem::swap(&mut current, &mut next);
            }
        }
    }

    /// Forward, softmax cross-entropy against `labels`, backward: fills [`grads`](Self::grads)
    /// with the gradient of the batch's mean loss. Returns (Σ loss, correct predictions).
    pub fn gradients(&mut self, input: &[F], labels: &[u32]) -> (f64, usize) {
        let batch = labels.len();
        let classes = self.output_width();
        self.forward(input, batch);
        let last = self.layers.len() - 1;
        let logits = &self.outputs[last][..batch * classes];
        let result = loss::softmax_cross_entropy(logits, labels, classes, Some(&mut self.delta[0][..batch * classes]));
        self.backward(input, batch);
        result
    }

    /// [`gradients`](Self::gradients) against any [`Targets`](loss::Targets) of `batch` rows
    /// (softmax cross-entropy for classes, ½‖o − t‖² for values).
    pub fn gradients_for(&mut self, input: &[F], targets: loss::Targets<'_, F>, batch: usize) -> (f64, usize) {
        let width = self.output_width();
        self.forward(input, batch);
        let last = self.layers.len() - 1;
        let result =
            loss::evaluate(&self.outputs[last], targets, batch, width, Some(&mut self.delta[0][..batch * width]));
        self.backward(input, batch);
        result
    }

    /// [`evaluate`](Self::evaluate) against any [`Targets`](loss::Targets) of `batch` rows.
    pub fn evaluate_for(&mut self, input: &[F], targets: loss::Targets<'_, F>, batch: usize) -> (f64, usize) {
        let width = self.output_width();
        let outputs = self.forward(input, batch);
        loss::evaluate(outputs, targets, batch, width, None)
    }

    /// Forward and loss only: (Σ loss, correct predictions) on `labels.len()` rows of `input`.
    pub fn evaluate(&mut self, input: &[F], labels: &[u32]) -> (f64, usize) {
        let classes = self.output_width();
        let logits = self.forward(input, labels.len());
        loss::softmax_cross_entropy(logits, labels, classes, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(activation: Activation) -> Network<f64> {
        let layer = |inputs, outputs, activation| LayerSpec { inputs, outputs, activation, init: Init::GlorotUniform };
        Network::new(vec![layer(5, 4, activation), layer(4, 3, activation), layer(3, 3, Activation::Identity)], 8, 3, 1)
            .unwrap()
    }

    #[test]
    fn every_parameter_gradient_matches_central_differences_in_f64() {
        let input: Vec<f64> = (0..4 * 5).map(|i| (i as f64 * 0.61).sin()).collect();
        let labels = [0, 2, 1, 2];
        for activation in [Activation::Relu, Activation::Tanh, Activation::Sigmoid, Activation::Identity] {
            let mut net = network(activation);
            // Keep biases off zero so that no ReLU sits exactly at its kink.
            net.params.iter_mut().enumerate().for_each(|(i, p)| *p += 0.01 * (i as f64 * 1.3).cos());
            net.gradients(&input, &labels);
            let analytic = net.grads.clone();
            let h = 1e-6;
            for (i, &expected) in analytic.iter().enumerate() {
                let original = net.params[i];
                net.params[i] = original + h;
                let plus = net.evaluate(&input, &labels).0 / 4.0;
                net.params[i] = original - h;
                let minus = net.evaluate(&input, &labels).0 / 4.0;
                net.params[i] = original;
                let numeric = (plus - minus) / (2.0 * h);
                assert!(
                    (numeric - expected).abs() < 1e-7 * (1.0 + numeric.abs()),
                    "{activation} parameter {i}: {numeric} vs {expected}"
                );
            }
        }
    }

    #[test]
    fn layers_must_chain() {
        let layer = |inputs, outputs| LayerSpec { inputs, outputs, activation: Activation::Relu, init: Init::Zeros };
        assert!(Network::<f32>::new(vec![layer(4, 3), layer(2, 1)], 1, 0, 1).is_err());
    }
}
