//! Layers with explicit forward and backward passes over one flat parameter buffer.
//!
//! A [`Layer`] owns a range of the model's flat parameter and gradient buffers (its tensors, in
//! the order [`Layer::tensors`] declares them), runs forward into an output buffer the network
//! owns, keeps what its backward pass needs in memory allocated once for the largest batch, and
//! back-propagates: it writes its parameter gradients into its range and the gradient with
//! respect to its input into the buffer it is given. A [`Network`](crate::network::Network)
//! composes layers in sequence; [`LayerSpec`] says which layers, and the network infers each
//! one's input shape from the one before (as Keras does).
//!
//! **Layout.** Activations are stored example by example, each example as a `height × width ×
//! channels` array with channels fastest (NHWC, TensorFlow's and DeepOBS's layout). A dense
//! layer reads any shape as a flat row of `height·width·channels` features, so flattening costs
//! nothing and [`LayerSpec::Flatten`] only changes the shape.

mod activation;
mod conv2d;
mod dense;
mod pool;

use std::fmt;

use descent_optim::{Float, Init};
use serde::{Deserialize, Serialize};

pub use activation::{Activation, ActivationLayer};
pub use conv2d::{Conv2d, Padding};
pub use dense::Dense;
pub use pool::MaxPool2d;

use crate::linalg::Workspace;
use crate::Error;

/// The shape of one example's activations: `height × width × channels`, channels fastest.
/// A flat vector of n features is `1 × 1 × n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// Rows of the image (1 for a flat vector).
    pub height: usize,
    /// Columns of the image (1 for a flat vector).
    pub width: usize,
    /// Channels (the features of a flat vector).
    pub channels: usize,
}

impl Shape {
    /// An image of `height × width` pixels with `channels` values each.
    pub fn image(height: usize, width: usize, channels: usize) -> Self {
        Shape { height, width, channels }
    }

    /// A flat vector of `features` values.
    pub fn flat(features: usize) -> Self {
        Shape { height: 1, width: 1, channels: features }
    }

    /// Values per example.
    pub fn len(&self) -> usize {
        self.height * self.width * self.channels
    }

    /// True when an example holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.height == 1 && self.width == 1 {
            write!(f, "{}", self.channels)
        } else {
            write!(f, "{}×{}×{}", self.height, self.width, self.channels)
        }
    }
}

/// One tensor a layer owns in the flat buffers.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSpec {
    /// Its name inside the layer (`weights`, `bias`).
    pub name: &'static str,
    /// Rows of the tensor as a matrix (one per output unit; 1 for a vector).
    pub rows: usize,
    /// Columns (values per row).
    pub cols: usize,
    /// How it is filled at the start; `None` starts at zero.
    pub init: Option<Init>,
    /// Inputs that feed each output unit (what fan-in initializers scale by).
    pub fan_in: usize,
    /// Outputs each input unit feeds.
    pub fan_out: usize,
}

impl TensorSpec {
    /// Number of values.
    pub fn len(&self) -> usize {
        self.rows * self.cols
    }

    /// True for a tensor of no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A layer of a [`Network`](crate::network::Network). Implement it for a layer of your own; the
/// network gives each call the layer's own slices of the flat buffers.
pub trait Layer<F: Float>: Send {
    /// A short description for people and error messages (`conv 5×5, 1→32, same`).
    fn describe(&self) -> String;

    /// The shape of one example's output.
    fn output_shape(&self) -> Shape;

    /// The tensors the layer owns, in the order they lie in its range of the flat buffers.
    fn tensors(&self) -> Vec<TensorSpec>;

    /// Computes `output` (`batch` examples) from `input`, keeping what backward needs.
    fn forward(&mut self, params: &[F], input: &[F], output: &mut [F], batch: usize, workspace: &mut Workspace<F>);

    /// Back-propagates `output_grad` (∂L/∂output, which the layer may overwrite) after a
    /// [`forward`](Self::forward) on the same `input` that produced `output`: writes ∂L/∂params
    /// into `grads` and, when asked, ∂L/∂input into `input_grad`.
    #[allow(clippy::too_many_arguments)]
    fn backward(
        &mut self,
        params: &[F],
        input: &[F],
        output: &[F],
        output_grad: &mut [F],
        grads: &mut [F],
        input_grad: Option<&mut [F]>,
        batch: usize,
        workspace: &mut Workspace<F>,
    );

    /// Multiply-adds ×2 of one example's forward pass (backward costs about twice that).
    fn forward_flops(&self) -> f64 {
        0.0
    }

    /// Bytes of the layer's own scratch memory for `batch` examples (beyond its output).
    fn scratch_bytes(&self, _batch: usize) -> usize {
        0
    }
}

/// A layer as configuration: what it is, not yet where its input comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum LayerSpec {
    /// y = act(x·Wᵀ + b) on the input read as a flat row ([`Dense`]).
    Dense {
        /// Output units.
        units: usize,
        /// Nonlinearity after the affine map.
        activation: Activation,
        /// How W is drawn (b starts at zero).
        #[serde(with = "crate::text")]
        init: Init,
    },
    /// A 2-D convolution of the NHWC input with `filters` kernels ([`Conv2d`]).
    Conv2d {
        /// Output channels.
        filters: usize,
        /// Kernel height and width.
        kernel: usize,
        /// Step between windows, in both directions.
        stride: usize,
        /// Zero padding.
        padding: Padding,
        /// Nonlinearity after the convolution.
        activation: Activation,
        /// How the kernels are drawn (biases start at zero).
        #[serde(with = "crate::text")]
        init: Init,
    },
    /// The maximum over `size × size` windows, per channel ([`MaxPool2d`]).
    MaxPool2d {
        /// Window height and width.
        size: usize,
        /// Step between windows.
        stride: usize,
        /// `valid` drops windows that do not fit; `same` keeps ⌈n/stride⌉ of them.
        padding: Padding,
    },
    /// A nonlinearity on its own ([`ActivationLayer`]).
    Activation {
        /// Which one.
        activation: Activation,
    },
    /// Reads the input as a flat vector. Free: the layout is already contiguous per example.
    Flatten,
}

impl LayerSpec {
    /// A dense layer of `units` outputs.
    pub fn dense(units: usize, activation: Activation, init: Init) -> Self {
        LayerSpec::Dense { units, activation, init }
    }

    /// A stride-1 convolution with `filters` kernels of `kernel × kernel`.
    pub fn conv2d(filters: usize, kernel: usize, padding: Padding, activation: Activation, init: Init) -> Self {
        LayerSpec::Conv2d { filters, kernel, stride: 1, padding, activation, init }
    }

    /// Max pooling over `size × size` windows with stride `size`.
    pub fn max_pool(size: usize, padding: Padding) -> Self {
        LayerSpec::MaxPool2d { size, stride: size, padding }
    }

    /// The shape this layer makes of `input`, checked.
    pub fn output_shape(&self, input: Shape) -> Result<Shape, Error> {
        let invalid = |message, value: String| Error::Invalid { field: "layers", message, value };
        match *self {
            LayerSpec::Dense { units, .. } => {
                if units == 0 || input.is_empty() {
                    return Err(invalid(
                        "a dense layer needs inputs and at least 1 unit",
                        format!("{input} → {units}"),
                    ));
                }
                Ok(Shape::flat(units))
            }
            LayerSpec::Conv2d { filters, kernel, stride, padding, .. } => {
                if filters == 0 || kernel == 0 || stride == 0 {
                    return Err(invalid(
                        "a convolution needs filters, a kernel and a stride of at least 1",
                        format!("{filters} filters, kernel {kernel}, stride {stride}"),
                    ));
                }
                let (height, width) = padding.output(input, kernel, stride).ok_or_else(|| {
                    invalid(
                        "the convolution's kernel is larger than its input",
                        format!("{kernel}×{kernel} on {input}"),
                    )
                })?;
                Ok(Shape::image(height, width, filters))
            }
            LayerSpec::MaxPool2d { size, stride, padding } => {
                if size == 0 || stride == 0 {
                    return Err(invalid("pooling needs a size and stride of at least 1", format!("{size}, {stride}")));
                }
                let (height, width) = padding.output(input, size, stride).ok_or_else(|| {
                    invalid("the pooling window is larger than its input", format!("{size} on {input}"))
                })?;
                Ok(Shape::image(height, width, input.channels))
            }
            LayerSpec::Activation { .. } => Ok(input),
            LayerSpec::Flatten => Ok(Shape::flat(input.len())),
        }
    }

    /// The layer for inputs of `input` shape and batches up to `max_batch`; `None` for a layer
    /// that only reshapes.
    pub fn build<F: Float>(&self, input: Shape, max_batch: usize) -> Result<Option<Box<dyn Layer<F>>>, Error> {
        let output = self.output_shape(input)?;
        Ok(match *self {
            LayerSpec::Dense { activation, init, .. } => {
                Some(Box::new(Dense::new(input.len(), output.channels, activation, init)))
            }
            LayerSpec::Conv2d { kernel, stride, padding, activation, init, .. } => {
                Some(Box::new(Conv2d::new(input, output, kernel, stride, padding, activation, init, max_batch)))
            }
            LayerSpec::MaxPool2d { size, stride, padding } => {
                Some(Box::new(MaxPool2d::new(input, output, size, stride, padding, max_batch)))
            }
            LayerSpec::Activation { activation } => Some(Box::new(ActivationLayer::new(activation, input))),
            LayerSpec::Flatten => None,
        })
    }
}

/// Runs `work(example, chunk)` over `chunks` of `len` values each (one per example), split over
/// the threads of the current rayon pool when there is enough work. Chunks are disjoint, so the
/// result does not depend on the thread count.
pub(crate) fn for_each_example<F: Float>(
    data: &mut [F],
    len: usize,
    examples: usize,
    work: &(impl Fn(usize, &mut [F]) + Sync),
) {
    use rayon::prelude::*;
    let data = &mut data[..examples * len];
    if worth_splitting(examples * len) {
        data.par_chunks_exact_mut(len).enumerate().for_each(|(example, chunk)| work(example, chunk));
    } else {
        data.chunks_exact_mut(len).enumerate().for_each(|(example, chunk)| work(example, chunk));
    }
}

/// Whether a pass over `len` values is worth splitting over the current pool's threads.
pub(crate) fn worth_splitting(len: usize) -> bool {
    len >= 1 << 15 && rayon::current_num_threads() > 1
}
