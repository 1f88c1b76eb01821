//! The dense (fully connected) layer, y = act(x·Wᵀ + b), and the affine map on rows that the
//! convolution shares with it.

use descent_optim::{Float, Init};

use super::{Activation, Layer, Shape, TensorSpec};
use crate::linalg::{matmul, Stored, Workspace};

/// y = act(x·Wᵀ + b) for each row x of the input, W of shape outputs × inputs (row-major, as
/// PyTorch's `nn.Linear` stores it), then b.
#[derive(Debug, Clone)]
pub struct Dense {
    inputs: usize,
    outputs: usize,
    activation: Activation,
    init: Init,
}

impl Dense {
    /// A layer from `inputs` to `outputs` features.
    pub fn new(inputs: usize, outputs: usize, activation: Activation, init: Init) -> Self {
        Dense { inputs, outputs, activation, init }
    }
}

impl<F: Float> Layer<F> for Dense {
    fn describe(&self) -> String {
        format!("dense {}→{}", self.inputs, self.outputs)
    }

    fn output_shape(&self) -> Shape {
        Shape::flat(self.outputs)
    }

    fn tensors(&self) -> Vec<TensorSpec> {
        affine_tensors(self.inputs, self.outputs, self.init, self.inputs, self.outputs)
    }

    fn forward(&mut self, params: &[F], input: &[F], output: &mut [F], batch: usize, workspace: &mut Workspace<F>) {
        let rows = Rows { count: batch, inputs: self.inputs, outputs: self.outputs, activation: self.activation };
        rows.forward(params, input, output, workspace);
    }

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
    ) {
        let rows = Rows { count: batch, inputs: self.inputs, outputs: self.outputs, activation: self.activation };
        rows.backward(params, input, output, output_grad, grads, input_grad, workspace);
    }

    fn forward_flops(&self) -> f64 {
        2.0 * (self.inputs * self.outputs) as f64
    }
}

/// W (outputs × inputs) then b, with the fans the initializers scale by.
pub(super) fn affine_tensors(
    inputs: usize,
    outputs: usize,
    init: Init,
    fan_in: usize,
    fan_out: usize,
) -> Vec<TensorSpec> {
    vec![
        TensorSpec { name: "weights", rows: outputs, cols: inputs, init: Some(init), fan_in, fan_out },
        TensorSpec { name: "bias", rows: 1, cols: outputs, init: None, fan_in, fan_out },
    ]
}

/// The affine map y = act(x·Wᵀ + b) on `count` rows: a dense layer's examples, or a
/// convolution's output pixels (whose rows are image patches).
pub(super) struct Rows {
    pub(super) count: usize,
    pub(super) inputs: usize,
    pub(super) outputs: usize,
    pub(super) activation: Activation,
}

impl Rows {
    /// y = act(x·Wᵀ + b); `params` is W then b.
    pub(super) fn forward<F: Float>(&self, params: &[F], x: &[F], y: &mut [F], workspace: &mut Workspace<F>) {
        let (n_in, n_out) = (self.inputs, self.outputs);
        let (w, bias) = params.split_at(n_in * n_out);
        let y = &mut y[..self.count * n_out];
        matmul(y, x, Stored::AsIs, w, Stored::Transposed, (self.count, n_in, n_out), false, workspace);
        descent_optim::elementwise::add_bias_and_map(y, bias, &self.activation);
    }

    /// ∂L/∂W = dzᵀ·x, ∂L/∂b = Σ dz, and ∂L/∂x = dz·W when asked, where dz = dy ⊙ act′(y) is
    /// formed in place of `dy`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn backward<F: Float>(
        &self,
        params: &[F],
        x: &[F],
        y: &[F],
        dy: &mut [F],
        grads: &mut [F],
        dx: Option<&mut [F]>,
        workspace: &mut Workspace<F>,
    ) {
        let (n_in, n_out, count) = (self.inputs, self.outputs, self.count);
        let dz = &mut dy[..count * n_out];
        self.activation.back(dz, &y[..count * n_out]);
        let (grad_w, grad_b) = grads.split_at_mut(n_in * n_out);
        matmul(grad_w, dz, Stored::Transposed, x, Stored::AsIs, (n_out, count, n_in), false, workspace);
        grad_b.fill(F::ZERO);
        for row in dz.chunks_exact(n_out) {
            grad_b.iter_mut().zip(row).for_each(|(g, &d)| *g += d);
        }
        if let Some(dx) = dx {
            let w = &params[..n_in * n_out];
            matmul(&mut dx[..count * n_in], dz, Stored::AsIs, w, Stored::AsIs, (count, n_out, n_in), false, workspace);
        }
    }
}
