//! A sequential network: layers composed one after another over one flat parameter buffer.
//!
//! All parameters live in one flat buffer (`params`) and all gradients in another (`grads`), each
//! layer owning a range of them, so an optimizer step is one pass over contiguous memory.
//! Every layer's output and the two back-propagated deltas live in buffers sized once for the
//! largest batch: after construction, a training step allocates nothing.

use std::ops::Range;

use descent_optim::Float;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::Targets;
pub use crate::layers::Activation;
use crate::layers::{Layer, LayerSpec, Shape};
use crate::linalg::Workspace;
use crate::loss::{Criterion, Objective};
use crate::Error;

/// One layer of a network with its place in the flat buffers.
struct Placed<F> {
    layer: Box<dyn Layer<F>>,
    params: Range<usize>,
    /// Values per example of its output.
    width: usize,
}

/// A named tensor of a network: one optimizer group each.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// `layer 2 weights`.
    pub name: String,
    /// Its range in the flat buffers.
    pub range: Range<usize>,
    /// Its shape as a matrix (rows, columns; one row for a vector), row-major in the range.
    pub shape: (usize, usize),
}

/// Layers in sequence, the objective they are trained on, and their buffers.
///
/// ```
/// use descent::prelude::*;
///
/// // A conv net on 6×6 one-channel images: conv 4@3×3 same + ReLU, 2×2 max pool, dense 3.
/// let layers = [
///     LayerSpec::conv2d(4, 3, Padding::Same, Activation::Relu, Init::HeUniform),
///     LayerSpec::max_pool(2, Padding::Valid),
///     LayerSpec::Flatten,
///     LayerSpec::dense(3, Activation::Identity, Init::GlorotUniform),
/// ];
/// let mut net = Network::<f32>::new(Shape::image(6, 6, 1), &layers, Objective::CLASSIFY, 8, 1, 1)?;
/// assert_eq!(net.params.len(), 4 * 9 + 4 + 3 * 36 + 3);
/// let images = vec![0.5f32; 2 * 36];
/// let (loss, errors) = net.gradients(&images, Targets::Classes(&[0, 2]), 2);
/// assert!(loss > 0.0 && errors <= 2.0 && net.grads.iter().any(|&g| g != 0.0));
/// # Ok::<(), descent::Error>(())
/// ```
pub struct Network<F: Float> {
    layers: Vec<Placed<F>>,
    input: Shape,
    criterion: Box<dyn Criterion<F>>,
    tensors: Vec<Tensor>,
    /// All parameters, layer by layer, each layer's tensors in the order it declares them.
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
    /// A network of `specs` on inputs of `input` shape, trained on `objective`, with weights
    /// drawn from `seed` (each tensor by its initializer, in order), buffers for batches up to
    /// `max_batch`, and products split over `threads` threads.
    pub fn new(
        input: Shape,
        specs: &[LayerSpec],
        objective: Objective,
        max_batch: usize,
        seed: u64,
        threads: usize,
    ) -> Result<Self, Error> {
        let mut layers = Vec::new();
        let mut shape = input;
        for spec in specs {
            match spec.build::<F>(shape, max_batch.max(1))? {
                Some(layer) => {
                    shape = layer.output_shape();
                    layers.push(layer);
                }
                None => shape = spec.output_shape(shape)?,
            }
        }
        Self::from_layers(input, layers, objective, max_batch, seed, threads)
    }

    /// A network of layers built by the caller (layers of its own among them), each taking the
    /// previous one's output; otherwise as [`new`](Self::new).
    pub fn from_layers(
        input: Shape,
        built: Vec<Box<dyn Layer<F>>>,
        objective: Objective,
        max_batch: usize,
        seed: u64,
        threads: usize,
    ) -> Result<Self, Error> {
        if max_batch == 0 {
            return Err(Error::Invalid { field: "batch", message: "must be at least 1", value: "0".into() });
        }
        if built.is_empty() {
            return Err(Error::Invalid { field: "layers", message: "must not be empty", value: "0".into() });
        }
        let mut layers = Vec::new();
        let mut tensors = Vec::new();
        let mut inits = Vec::new();
        let mut offset = 0;
        for layer in built {
            let start = offset;
            for tensor in layer.tensors() {
                let range = offset..offset + tensor.len();
                let name = format!("layer {} {}", layers.len() + 1, tensor.name);
                tensors.push(Tensor { name, range: range.clone(), shape: (tensor.rows, tensor.cols) });
                offset += tensor.len();
                inits.push((range, tensor));
            }
            let width = layer.output_shape().len();
            layers.push(Placed { layer, params: start..offset, width });
        }
        let mut params = vec![F::ZERO; offset];
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for (range, tensor) in inits {
            if let Some(init) = tensor.init {
                init.fill_matrix(
                    &mut params[range],
                    (tensor.rows, tensor.cols),
                    tensor.fan_in,
                    tensor.fan_out,
                    &mut rng,
                );
            }
        }
        let widest = layers.iter().map(|l| l.width).chain([input.len()]).max().unwrap_or(0);
        Ok(Network {
            outputs: layers.iter().map(|l| vec![F::ZERO; max_batch * l.width]).collect(),
            delta: [vec![F::ZERO; max_batch * widest], vec![F::ZERO; max_batch * widest]],
            grads: vec![F::ZERO; offset],
            params,
            layers,
            input,
            criterion: Box::new(objective),
            tensors,
            max_batch,
            workspace: Workspace::new(threads),
        })
    }

    /// Bytes of the activation buffers a batch of `batch` rows needs: every layer's outputs (kept
    /// for the backward pass), its own scratch (a convolution's patches), and the two deltas.
    pub fn activation_bytes(&self, batch: usize) -> usize {
        let outputs: usize = self.layers.iter().map(|l| l.width).sum();
        let scratch: usize = self.layers.iter().map(|l| l.layer.scratch_bytes(batch)).sum();
        (outputs + 2 * self.delta[0].len() / self.max_batch) * batch * std::mem::size_of::<F>() + scratch
    }

    /// Every tensor by name and range.
    pub fn tensors(&self) -> &[Tensor] {
        &self.tensors
    }

    /// Each layer's description and range in the flat buffers (layers without parameters too).
    pub fn layers(&self) -> Vec<(String, Range<usize>)> {
        self.layers.iter().map(|l| (l.layer.describe(), l.params.clone())).collect()
    }

    /// The shape of one example's input.
    pub fn input_shape(&self) -> Shape {
        self.input
    }

    /// Values per example of the input.
    pub fn input_width(&self) -> usize {
        self.input.len()
    }

    /// Values per example of the output.
    pub fn output_width(&self) -> usize {
        self.layers[self.layers.len() - 1].width
    }

    /// The network trained on a loss of the caller's own instead of the objective it was built
    /// with (label smoothing, a weighted loss, …).
    pub fn with_criterion(mut self, criterion: impl Criterion<F> + 'static) -> Self {
        self.criterion = Box::new(criterion);
        self
    }

    /// The largest batch the buffers hold.
    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    /// Multiply-adds ×2 of one example's forward and backward pass: backward costs twice the
    /// forward pass, less the first layer's gradient with respect to the input, never formed.
    pub fn flops_per_example(&self) -> f64 {
        let forward: Vec<f64> = self.layers.iter().map(|l| l.layer.forward_flops()).collect();
        3.0 * forward.iter().sum::<f64>() - forward[0]
    }

    /// Runs the layers on `batch` rows of `input`; returns the output rows.
    pub fn forward(&mut self, input: &[F], batch: usize) -> &[F] {
        assert!(batch <= self.max_batch && input.len() >= batch * self.input_width());
        for index in 0..self.layers.len() {
            let placed = &mut self.layers[index];
            let (before, rest) = self.outputs.split_at_mut(index);
            let x = if index == 0 { &input[..batch * self.input.len()] } else { &before[index - 1][..] };
            let y = &mut rest[0][..batch * placed.width];
            placed.layer.forward(&self.params[placed.params.clone()], x, y, batch, &mut self.workspace);
        }
        let last = self.layers.len() - 1;
        &self.outputs[last][..batch * self.output_width()]
    }

    /// Back-propagates from ∂loss/∂output (in the first delta buffer) after a [`forward`] on the
    /// same `input`, writing ∂loss/∂params into [`grads`](Self::grads).
    ///
    /// [`forward`]: Self::forward
    fn backward(&mut self, input: &[F], batch: usize) {
        self.backward_streamed(input, batch, |_| {});
    }

    /// [`backward`](Self::backward) handing each layer's gradient to `ready` as soon as it is
    /// final (last layer first): the rest of the pass never touches it again.
    fn backward_streamed<'a>(&'a mut self, input: &[F], batch: usize, mut ready: impl FnMut(&'a mut [F])) {
        let Network { layers, input: input_shape, params, grads, outputs, delta, workspace, .. } = self;
        let [current, next] = delta;
        let (mut current, mut next) = (current, next);
        // Layers own consecutive ranges: what is left after a layer is everything before it.
        let mut before: &'a mut [F] = &mut grads[..];
        for index in (0..layers.len()).rev() {
            let input_width = if index == 0 { input_shape.len() } else { layers[index - 1].width };
            let placed = &mut layers[index];
            let x = if index == 0 { &input[..batch * input_width] } else { &outputs[index - 1][..] };
            let input_grad = (index > 0).then(|| &mut next[..batch * input_width]);
            let (rest, own) = std::mem::take(&mut before).split_at_mut(placed.params.start);
            placed.layer.backward(
                &params[placed.params.clone()],
                x,
                &outputs[index][..batch * placed.width],
                &mut current[..batch * placed.width],
                own,
                input_grad,
                batch,
                workspace,
            );
            if !own.is_empty() {
                ready(own);
            }
            before = rest;
            std::mem::swap(&mut current, &mut next);
        }
    }

    /// [`gradients`](Self::gradients) with each layer's gradient handed to `sink` on a thread of
    /// its own as soon as backward has made it, while backward goes on with the layers before:
    /// what a data-parallel job uses to sum gradients over ranks while it computes.
    pub fn gradients_streamed(
        &mut self,
        input: &[F],
        targets: Targets<'_, F>,
        batch: usize,
        sink: &(dyn Fn(&mut [F]) + Sync),
    ) -> (f64, f64) {
        let width = self.output_width();
        self.forward(input, batch);
        let last = self.layers.len() - 1;
        let grad = Some(&mut self.delta[0][..batch * width]);
        let result = self.criterion.evaluate(&self.outputs[last], targets, batch, width, grad);
        std::thread::scope(|scope| {
            let (send, receive) = std::sync::mpsc::channel::<&mut [F]>();
            scope.spawn(move || receive.into_iter().for_each(sink));
            self.backward_streamed(input, batch, |own| send.send(own).expect("the sink lives until the pass ends"));
        });
        result
    }

    /// Forward, the objective against `targets` of `batch` rows, backward: fills
    /// [`grads`](Self::grads) with the gradient of the batch's mean loss. Returns (Σ loss,
    /// Σ error).
    pub fn gradients(&mut self, input: &[F], targets: Targets<'_, F>, batch: usize) -> (f64, f64) {
        let width = self.output_width();
        self.forward(input, batch);
        let last = self.layers.len() - 1;
        let grad = Some(&mut self.delta[0][..batch * width]);
        let result = self.criterion.evaluate(&self.outputs[last], targets, batch, width, grad);
        self.backward(input, batch);
        result
    }

    /// Forward and the objective only: (Σ loss, Σ error) on `batch` rows of `input`.
    pub fn evaluate(&mut self, input: &[F], targets: Targets<'_, F>, batch: usize) -> (f64, f64) {
        let width = self.output_width();
        self.forward(input, batch);
        let last = self.layers.len() - 1;
        self.criterion.evaluate(&self.outputs[last], targets, batch, width, None)
    }
}

#[cfg(test)]
mod tests;
