//! 2-D convolution lowered onto the one matrix product (im2col).
//!
//! Each output pixel's receptive field (kernel × kernel × input channels, in that order, channels
//! fastest) is copied into one row of a *column matrix*; the convolution is then the dense
//! layer's affine map on those rows, y = act(columns·Wᵀ + b), a single product of
//! (batch·out_h·out_w) × (k·k·C) by (k·k·C) × filters for the whole batch. Its result is already
//! in NHWC order. Backward is the dense layer's: ∂L/∂W = dzᵀ·columns, and ∂L/∂columns = dz·W,
//! which is scattered back onto the input pixels (col2im). The column matrix is the layer's own
//! memory, sized once for the largest batch, and is reused for ∂L/∂columns.

use std::fmt;

use descent_optim::{Float, Init};
use serde::{Deserialize, Serialize};

use super::dense::{affine_tensors, Rows};
use super::{for_each_example, Activation, Layer, Shape, TensorSpec};
use crate::linalg::{matmul, Stored, Workspace};

/// Zero padding of a convolution or pooling window, as TensorFlow defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Padding {
    /// No padding: only windows that fit, ⌊(n − k)/s⌋ + 1 of them.
    Valid,
    /// ⌈n/s⌉ windows, the input padded with (out − 1)·s + k − n zeros, half before (rounded down)
    /// and the rest after. With stride 1 the output is as large as the input.
    Same,
}

impl Padding {
    /// Output (height, width) for windows of `kernel` with `stride` on `input`; `None` when a
    /// `valid` window does not fit.
    pub fn output(self, input: Shape, kernel: usize, stride: usize) -> Option<(usize, usize)> {
        let one = |n: usize| match self {
            Padding::Valid => (n >= kernel).then(|| (n - kernel) / stride + 1),
            Padding::Same => (n > 0).then(|| n.div_ceil(stride)),
        };
        Some((one(input.height)?, one(input.width)?))
    }

    /// Padding rows (or columns) before the first input row for an input of `n` and `out`
    /// windows.
    fn before(self, n: usize, out: usize, kernel: usize, stride: usize) -> usize {
        match self {
            Padding::Valid => 0,
            Padding::Same => ((out - 1) * stride + kernel).saturating_sub(n) / 2,
        }
    }
}

impl fmt::Display for Padding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Padding::Valid => "valid",
            Padding::Same => "same",
        })
    }
}

/// Where the windows of a convolution or pooling layer lie on its input.
#[derive(Debug, Clone, Copy)]
pub(super) struct Windows {
    pub(super) input: Shape,
    pub(super) output: Shape,
    pub(super) kernel: usize,
    pub(super) stride: usize,
    pub(super) top: usize,
    pub(super) left: usize,
}

impl Windows {
    pub(super) fn new(input: Shape, output: Shape, kernel: usize, stride: usize, padding: Padding) -> Self {
        let top = padding.before(input.height, output.height, kernel, stride);
        let left = padding.before(input.width, output.width, kernel, stride);
        Windows { input, output, kernel, stride, top, left }
    }

    /// The part of kernel row `i` of output pixel (oh, ow) that lies on the image: `len` values
    /// (whole pixels of all channels) starting at `at` in the example's input, and `skip` values
    /// of padding before them in the kernel row. `None` when the whole row is padding.
    #[inline(always)]
    pub(super) fn run(&self, oh: usize, ow: usize, i: usize) -> Option<Run> {
        let row = (oh * self.stride + i).checked_sub(self.top).filter(|&r| r < self.input.height)?;
        let first = ow * self.stride;
        // Kernel columns j with left ≤ first + j < left + width lie on the image.
        let start = self.left.saturating_sub(first);
        let end = (self.left + self.input.width).saturating_sub(first).min(self.kernel);
        if start >= end {
            return None;
        }
        let channels = self.input.channels;
        let col = first + start - self.left;
        Some(Run {
            at: (row * self.input.width + col) * channels,
            skip: start * channels,
            len: (end - start) * channels,
        })
    }

    /// The input pixel (row, column) under kernel position (i, j) of output pixel (oh, ow), if it
    /// is not padding.
    #[inline(always)]
    pub(super) fn pixel(&self, oh: usize, ow: usize, i: usize, j: usize) -> Option<(usize, usize)> {
        let row = (oh * self.stride + i).checked_sub(self.top)?;
        let col = (ow * self.stride + j).checked_sub(self.left)?;
        (row < self.input.height && col < self.input.width).then_some((row, col))
    }
}

/// A contiguous run of one kernel row on the image (see [`Windows::run`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Run {
    pub(super) at: usize,
    pub(super) skip: usize,
    pub(super) len: usize,
}

/// A 2-D convolution: `filters` kernels of `kernel × kernel × C` over an NHWC input, with a
/// bias per filter and a fused nonlinearity. The kernels are stored filter by filter, each as
/// `kernel × kernel × C` (channels fastest).
pub struct Conv2d<F> {
    windows: Windows,
    activation: Activation,
    init: Init,
    padding: Padding,
    columns: Vec<F>,
}

impl<F: Float> Conv2d<F> {
    /// A convolution from `input` to `output` (as [`LayerSpec::output_shape`] computes it), with
    /// its column matrix sized for `max_batch` examples.
    ///
    /// [`LayerSpec::output_shape`]: super::LayerSpec::output_shape
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        input: Shape,
        output: Shape,
        kernel: usize,
        stride: usize,
        padding: Padding,
        activation: Activation,
        init: Init,
        max_batch: usize,
    ) -> Self {
        let windows = Windows::new(input, output, kernel, stride, padding);
        let rows = output.height * output.width;
        Conv2d { windows, activation, init, padding, columns: vec![F::ZERO; max_batch * rows * patch(&windows)] }
    }

    fn rows(&self, batch: usize) -> Rows {
        let pixels = self.windows.output.height * self.windows.output.width;
        Rows {
            count: batch * pixels,
            inputs: patch(&self.windows),
            outputs: self.windows.output.channels,
            activation: self.activation,
        }
    }

    /// Copies every receptive field of examples `first..first + count` of `input` into their rows
    /// of the column matrix. A field's row i is one run of the image (kernel × channels values,
    /// contiguous in NHWC) where it lies inside, so each is copied at once; padding is zeros.
    fn im2col(&mut self, input: &[F], first: usize, count: usize) {
        let w = self.windows;
        let in_len = w.input.len();
        let per_example = w.output.height * w.output.width * patch(&w);
        let columns = &mut self.columns[first * per_example..];
        for_each_example(columns, per_example, count, &|example, columns| {
            let image = &input[(first + example) * in_len..(first + example + 1) * in_len];
            for (pixel, row) in columns.chunks_exact_mut(patch(&w)).enumerate() {
                let (oh, ow) = (pixel / w.output.width, pixel % w.output.width);
                for (i, segment) in row.chunks_exact_mut(w.kernel * w.input.channels).enumerate() {
                    match w.run(oh, ow, i) {
                        Some(run) => {
                            segment[..run.skip].fill(F::ZERO);
                            segment[run.skip..run.skip + run.len].copy_from_slice(&image[run.at..run.at + run.len]);
                            segment[run.skip + run.len..].fill(F::ZERO);
                        }
                        None => segment.fill(F::ZERO),
                    }
                }
            }
        });
    }

    /// Examples per chunk of the column matrix: `CHUNK_BYTES` per thread, and at least one example
    /// per thread, so that im2col and col2im, which split by examples, keep every thread busy.
    fn chunk(&self, workspace: &Workspace<F>) -> usize {
        let per_example = self.windows.output.height * self.windows.output.width * patch(&self.windows);
        workspace.threads() * (CHUNK_BYTES / (per_example * std::mem::size_of::<F>())).max(1)
    }

    /// Adds the rows of examples `first..first + count` of the column matrix back onto the input
    /// pixels they were copied from.
    fn col2im(&self, input_grad: &mut [F], first: usize, count: usize) {
        let w = self.windows;
        let per_example = w.output.height * w.output.width * patch(&w);
        let columns = &self.columns[first * per_example..];
        let images = &mut input_grad[first * w.input.len()..];
        for_each_example(images, w.input.len(), count, &|example, image| {
            image.fill(F::ZERO);
            let rows = columns[example * per_example..(example + 1) * per_example].chunks_exact(patch(&w));
            for (pixel, row) in rows.enumerate() {
                let (oh, ow) = (pixel / w.output.width, pixel % w.output.width);
                for (i, segment) in row.chunks_exact(w.kernel * w.input.channels).enumerate() {
                    if let Some(run) = w.run(oh, ow, i) {
                        let source = &segment[run.skip..run.skip + run.len];
                        image[run.at..run.at + run.len].iter_mut().zip(source).for_each(|(x, &g)| *x += g);
                    }
                }
            }
        });
    }
}

/// Bytes of the column matrix filled and multiplied (forward) or multiplied and scattered back
/// (backward) at a time, per thread: about half of a core's L2 cache.
const CHUNK_BYTES: usize = 512 << 10;

/// Values in one receptive field: kernel × kernel × input channels.
fn patch(windows: &Windows) -> usize {
    windows.kernel * windows.kernel * windows.input.channels
}

impl<F: Float> Layer<F> for Conv2d<F> {
    fn describe(&self) -> String {
        let w = &self.windows;
        let stride = if w.stride > 1 { format!(", stride {}", w.stride) } else { String::new() };
        format!("conv {k}×{k}, {}→{}{stride}, {}", w.input.channels, w.output.channels, self.padding, k = w.kernel)
    }

    fn output_shape(&self) -> Shape {
        self.windows.output
    }

    fn tensors(&self) -> Vec<TensorSpec> {
        let w = &self.windows;
        let (fan_in, fan_out) = (patch(w), w.kernel * w.kernel * w.output.channels);
        affine_tensors(patch(w), w.output.channels, self.init, fan_in, fan_out)
    }

    /// A few examples at a time: their rows of the column matrix are still in cache when the
    /// product packs them (the whole batch's, 80 MB in the conv net, went out to memory and back).
    fn forward(&mut self, params: &[F], input: &[F], output: &mut [F], batch: usize, workspace: &mut Workspace<F>) {
        let per_example = self.windows.output.height * self.windows.output.width * patch(&self.windows);
        let out_len = self.windows.output.len();
        let chunk = self.chunk(workspace);
        for first in (0..batch).step_by(chunk) {
            let count = chunk.min(batch - first);
            self.im2col(input, first, count);
            let columns = &self.columns[first * per_example..(first + count) * per_example];
            let output = &mut output[first * out_len..(first + count) * out_len];
            self.rows(count).forward(params, columns, output, workspace);
        }
    }

    fn backward(
        &mut self,
        params: &[F],
        _: &[F],
        output: &[F],
        output_grad: &mut [F],
        grads: &mut [F],
        input_grad: Option<&mut [F]>,
        batch: usize,
        workspace: &mut Workspace<F>,
    ) {
        let rows = self.rows(batch);
        rows.backward(params, &self.columns, output, output_grad, grads, None, workspace);
        if let Some(input_grad) = input_grad {
            // ∂L/∂columns = dz·W into the column matrix, which forward's copy is no longer needed
            // in, a few examples at a time as in forward, each chunk scattered back while in cache.
            let (k, n) = (rows.inputs, rows.outputs);
            let w = &params[..k * n];
            let pixels = self.windows.output.height * self.windows.output.width;
            let chunk = self.chunk(workspace);
            for first in (0..batch).step_by(chunk) {
                let count = chunk.min(batch - first) * pixels;
                let dz = &output_grad[first * pixels * n..][..count * n];
                let columns = &mut self.columns[first * pixels * k..][..count * k];
                matmul(columns, dz, Stored::AsIs, w, Stored::AsIs, (count, n, k), false, workspace);
                self.col2im(input_grad, first, chunk.min(batch - first));
            }
        }
    }

    fn forward_flops(&self) -> f64 {
        let w = &self.windows;
        2.0 * (w.output.height * w.output.width * patch(w) * w.output.channels) as f64
    }

    fn scratch_bytes(&self, batch: usize) -> usize {
        let w = &self.windows;
        batch * w.output.height * w.output.width * patch(w) * std::mem::size_of::<F>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// |a − b|, and infinity where a is NaN (a value never written), which `f64::max` would skip.
    fn distance(a: f64, b: f64) -> f64 {
        if a.is_nan() {
            f64::INFINITY
        } else {
            (a - b).abs()
        }
    }

    /// A batch whose column matrix spans several chunks (1.3 MB per example in f64, one example per
    /// chunk on one thread): forward against the convolution summed directly, and backward's input
    /// gradient against the output gradient scattered directly, in f64.
    #[test]
    fn passes_in_chunks_are_the_direct_convolution() {
        let (batch, size, channels, filters, kernel) = (3, 40, 4, 3, 5);
        let (input, output) = (Shape::image(size, size, channels), Shape::image(size, size, filters));
        let mut conv =
            Conv2d::<f64>::new(input, output, kernel, 1, Padding::Same, Activation::Identity, Init::Zeros, batch);
        let per_example = size * size * patch(&conv.windows) * std::mem::size_of::<f64>();
        assert!(per_example > CHUNK_BYTES, "one example per chunk on one thread");
        let value = |i: usize, salt: f64| ((i as f64 + salt) * 0.37).sin();
        let x: Vec<f64> = (0..batch * input.len()).map(|i| value(i, 0.0)).collect();
        let params: Vec<f64> = (0..filters * kernel * kernel * channels + filters).map(|i| value(i, 0.5)).collect();
        let mut y = vec![f64::NAN; batch * output.len()];
        conv.forward(&params, &x, &mut y, batch, &mut Workspace::new(1));
        // Every (output, weight, input) index triple of a "same" convolution with an odd kernel
        // (two rows and columns of padding on each side), for the direct sums.
        let taps: Vec<(usize, usize, usize)> = (0..batch * size * size * filters)
            .flat_map(|o| {
                let (e, r, c, f) =
                    (o / (size * size * filters), o / (size * filters) % size, o / filters % size, o % filters);
                (0..kernel * kernel * channels).filter_map(move |t| {
                    let (i, j, ch) = (t / (kernel * channels), t / channels % kernel, t % channels);
                    let (row, col) = ((r + i).checked_sub(2)?, (c + j).checked_sub(2)?);
                    let inside = row < size && col < size;
                    inside.then_some((
                        o,
                        ((f * kernel + i) * kernel + j) * channels + ch,
                        e * input.len() + (row * size + col) * channels + ch,
                    ))
                })
            })
            .collect();
        let bias = &params[filters * kernel * kernel * channels..];
        let mut sums: Vec<f64> = (0..batch * output.len()).map(|o| bias[o % filters]).collect();
        for &(o, w, i) in &taps {
            sums[o] += params[w] * x[i];
        }
        let worst = y.iter().zip(&sums).map(|(&a, &b)| distance(a, b)).fold(0.0, f64::max);
        // 101 terms of size at most 1, each rounded once in f64.
        assert!(worst < 1e-13, "{worst}");

        // Backward over the same chunks: ∂L/∂x scattered directly from ∂L/∂y through the weights.
        let dy: Vec<f64> = (0..batch * output.len()).map(|i| value(i, 0.25)).collect();
        let mut expected = vec![0.0; batch * input.len()];
        for &(o, w, i) in &taps {
            expected[i] += dy[o] * params[w];
        }
        let (mut output_grad, mut grads, mut input_grad) = (dy, vec![0.0; params.len()], vec![f64::NAN; x.len()]);
        let mut workspace = Workspace::new(1);
        conv.backward(&params, &x, &y, &mut output_grad, &mut grads, Some(&mut input_grad), batch, &mut workspace);
        let worst = input_grad.iter().zip(&expected).map(|(&a, &b)| distance(a, b)).fold(0.0, f64::max);
        // At most 75 terms per input value (3 filters × 25 positions), each at most 1.
        assert!(worst < 1e-13, "{worst}");
    }
}
