use descent_optim::Init;

use super::*;
use crate::layers::Padding;
use crate::loss::{Loss, Metric};

/// Deterministic inputs in (−1, 1).
fn values(len: usize, salt: f64) -> Vec<f64> {
    (0..len).map(|i| ((i as f64 + 1.0) * 0.6180339 + salt).sin()).collect()
}

/// Checks every parameter's gradient against central differences of the mean loss, in f64.
fn check_gradients(network: &mut Network<f64>, input: &[f64], targets: Targets<'_, f64>, batch: usize) {
    // Keep parameters off zero so that no ReLU sits exactly at its kink and no pooling tie forms.
    let shift = values(network.params.len(), 0.3);
    network.params.iter_mut().zip(&shift).for_each(|(p, s)| *p += 0.05 * s);
    network.gradients(input, targets, batch);
    let analytic = network.grads.clone();
    let h = 1e-6;
    for (i, &expected) in analytic.iter().enumerate() {
        let original = network.params[i];
        network.params[i] = original + h;
        let plus = network.evaluate(input, targets, batch).0 / batch as f64;
        network.params[i] = original - h;
        let minus = network.evaluate(input, targets, batch).0 / batch as f64;
        network.params[i] = original;
        let numeric = (plus - minus) / (2.0 * h);
        let tensor = network.tensors().iter().find(|t| t.range.contains(&i)).map(|t| t.name.clone());
        assert!(
            (numeric - expected).abs() < 1e-6 * (1.0 + numeric.abs()),
            "parameter {i} ({tensor:?}): numeric {numeric} vs analytic {expected}"
        );
    }
}

#[test]
fn dense_gradients_match_central_differences_for_every_activation() {
    let input = values(4 * 5, 0.0);
    let labels = [0, 2, 1, 2];
    for activation in [Activation::Relu, Activation::Tanh, Activation::Sigmoid, Activation::Identity] {
        let specs = [
            LayerSpec::dense(4, activation, Init::GlorotUniform),
            LayerSpec::dense(3, activation, Init::GlorotUniform),
            LayerSpec::dense(3, Activation::Identity, Init::GlorotUniform),
        ];
        let mut network = Network::new(Shape::flat(5), &specs, Objective::CLASSIFY, 8, 3, 1).unwrap();
        check_gradients(&mut network, &input, Targets::Classes(&labels), 4);
    }
}

/// Convolutions and pooling on ragged shapes: odd sizes, stride 2, valid and same padding, several
/// channels, a standalone activation and a flatten, under each loss.
#[test]
fn conv_and_pool_gradients_match_central_differences_on_ragged_shapes() {
    let specs = [
        LayerSpec::conv2d(3, 3, Padding::Same, Activation::Tanh, Init::GlorotUniform),
        LayerSpec::MaxPool2d { size: 2, stride: 2, padding: Padding::Same },
        LayerSpec::Conv2d {
            filters: 2,
            kernel: 2,
            stride: 2,
            padding: Padding::Valid,
            activation: Activation::Identity,
            init: Init::GlorotUniform,
        },
        LayerSpec::Activation { activation: Activation::Relu },
        LayerSpec::Conv2d {
            filters: 4,
            kernel: 3,
            stride: 2,
            padding: Padding::Same,
            activation: Activation::Sigmoid,
            init: Init::HeUniform,
        },
        LayerSpec::MaxPool2d { size: 2, stride: 1, padding: Padding::Valid },
        LayerSpec::Flatten,
        LayerSpec::dense(3, Activation::Identity, Init::GlorotUniform),
    ];
    // 13×17×2 → conv 3, same: 13×17×3 → pool 2, same: 7×9×3 → conv 2/2, valid: 3×4×2 → conv 3/2,
    // same: 2×2×4 → pool 2 stride 1, valid: 1×1×4 → dense 3.
    let input_shape = Shape::image(13, 17, 2);
    let batch = 2;
    let input = values(batch * input_shape.len(), 1.0);
    let labels = [2, 0];
    let mut network = Network::new(input_shape, &specs, Objective::CLASSIFY, batch, 7, 2).unwrap();
    assert_eq!(network.output_width(), 3);
    check_gradients(&mut network, &input, Targets::Classes(&labels), batch);

    let targets: Vec<f64> = values(batch * 3, 2.0).iter().map(|v| v.abs()).collect();
    for loss in [Loss::SigmoidCrossEntropy, Loss::SquaredError] {
        let objective = Objective { loss, metric: Metric::SquaredError };
        let mut network = Network::new(input_shape, &specs, objective, batch, 7, 1).unwrap();
        check_gradients(&mut network, &input, Targets::Values(&targets), batch);
    }
}

/// The convolution by its definition, in f64, with TensorFlow's padding: out[b][oh][ow][f] =
/// bias[f] + Σ_{i,j,c} W[f][i][j][c] · x[b][oh·s + i − top][ow·s + j − left][c].
#[allow(clippy::too_many_arguments)]
fn direct_convolution(
    x: &[f64],
    weights: &[f64],
    bias: &[f64],
    (batch, height, width, channels): (usize, usize, usize, usize),
    (filters, kernel, stride): (usize, usize, usize),
    (out_h, out_w): (usize, usize),
    (top, left): (usize, usize),
) -> Vec<f64> {
    let mut out = vec![0.0; batch * out_h * out_w * filters];
    for b in 0..batch {
        for oh in 0..out_h {
            for ow in 0..out_w {
                for f in 0..filters {
                    let mut sum = bias[f];
                    for i in 0..kernel {
                        for j in 0..kernel {
                            let (r, c) =
                                ((oh * stride + i) as isize - top as isize, (ow * stride + j) as isize - left as isize);
                            if r < 0 || c < 0 || r >= height as isize || c >= width as isize {
                                continue;
                            }
                            for ch in 0..channels {
                                let xv = x[((b * height + r as usize) * width + c as usize) * channels + ch];
                                sum += weights[((f * kernel + i) * kernel + j) * channels + ch] * xv;
                            }
                        }
                    }
                    out[((b * out_h + oh) * out_w + ow) * filters + f] = sum;
                }
            }
        }
    }
    out
}

#[test]
fn convolution_matches_its_definition_with_tensorflow_padding() {
    // (height, width, kernel, stride, padding) → expected output size and padding before.
    let cases = [
        (7, 6, 3, 1, Padding::Same, (7, 6), (1, 1)),
        (6, 7, 3, 2, Padding::Same, (3, 4), (0, 1)), // 6: total (3−1)·2+3−6 = 1 → 0 before; 7: 2 → 1
        (7, 6, 4, 1, Padding::Same, (7, 6), (1, 1)), // even kernel: 3 pad, 1 before, 2 after
        (7, 6, 3, 2, Padding::Valid, (3, 2), (0, 0)),
        (5, 5, 5, 1, Padding::Valid, (1, 1), (0, 0)),
    ];
    for (height, width, kernel, stride, padding, (out_h, out_w), before) in cases {
        let (batch, channels, filters) = (2, 3, 4);
        let spec = [LayerSpec::Conv2d {
            filters,
            kernel,
            stride,
            padding,
            activation: Activation::Identity,
            init: Init::GlorotUniform,
        }];
        let shape = Shape::image(height, width, channels);
        let mut network = Network::<f64>::new(shape, &spec, Objective::CLASSIFY, batch, 1, 1).unwrap();
        assert_eq!(network.output_width(), out_h * out_w * filters, "{height}×{width} k{kernel} s{stride} {padding}");
        let bias_start = kernel * kernel * channels * filters;
        let bias = values(filters, 5.0);
        network.params[bias_start..].copy_from_slice(&bias);
        let x = values(batch * shape.len(), 0.5);
        let expected = direct_convolution(
            &x,
            &network.params[..bias_start],
            &bias,
            (batch, height, width, channels),
            (filters, kernel, stride),
            (out_h, out_w),
            before,
        );
        let got = network.forward(&x, batch);
        let worst = got.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst < 1e-12, "{height}×{width} k{kernel} s{stride} {padding}: {worst}");
    }
}

#[test]
fn max_pooling_by_hand() {
    // One 3×3 single-channel image, 2×2 windows with stride 2 and same padding: the windows are
    // {1,5,4,2}, {3,6}, {7,0}, {8}; gradients go back to where the maxima were.
    let x = [1.0, 5.0, 3.0, 4.0, 2.0, 6.0, 7.0, 0.0, 8.0];
    let spec = [LayerSpec::max_pool(2, Padding::Same), LayerSpec::dense(1, Activation::Identity, Init::Zeros)];
    let objective = Objective { loss: Loss::SquaredError, metric: Metric::Loss };
    let mut network = Network::<f64>::new(Shape::image(3, 3, 1), &spec, objective, 1, 1, 1).unwrap();
    network.params[..4].copy_from_slice(&[1.0, 10.0, 100.0, 1000.0]);
    assert_eq!(network.forward(&x, 1), &[5.0 + 60.0 + 700.0 + 8000.0]);
    // Loss ½(o − 0)²: ∂L/∂W_k = o · pooled_k.
    network.gradients(&x, Targets::Values(&[0.0]), 1);
    let o = 8765.0;
    assert_eq!(&network.grads[..4], &[5.0 * o, 6.0 * o, 7.0 * o, 8.0 * o]);
}

#[test]
fn deepobs_2c2d_has_its_published_parameter_count() {
    let specs = [
        LayerSpec::conv2d(32, 5, Padding::Same, Activation::Relu, Init::UniformFanIn),
        LayerSpec::max_pool(2, Padding::Same),
        LayerSpec::conv2d(64, 5, Padding::Same, Activation::Relu, Init::UniformFanIn),
        LayerSpec::max_pool(2, Padding::Same),
        LayerSpec::Flatten,
        LayerSpec::dense(1024, Activation::Relu, Init::UniformFanIn),
        LayerSpec::dense(10, Activation::Identity, Init::UniformFanIn),
    ];
    let network = Network::<f32>::new(Shape::image(28, 28, 1), &specs, Objective::CLASSIFY, 1, 1, 1).unwrap();
    assert_eq!(network.params.len(), 3_274_634);
    assert_eq!(network.tensors().len(), 8);
}

#[test]
fn shapes_that_do_not_fit_are_refused() {
    let too_big = [LayerSpec::conv2d(2, 5, Padding::Valid, Activation::Relu, Init::Zeros)];
    let message = Network::<f32>::new(Shape::image(4, 4, 1), &too_big, Objective::CLASSIFY, 1, 1, 1)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(message.contains("5×5 on 4×4×1"), "{message}");
    let zero = [LayerSpec::dense(0, Activation::Relu, Init::Zeros)];
    assert!(Network::<f32>::new(Shape::flat(3), &zero, Objective::CLASSIFY, 1, 1, 1).is_err());
}

#[test]
fn streamed_gradients_hand_over_each_layer_once_last_first_and_change_nothing() {
    // conv → pool → flatten → dense → dense: the pool and flatten have no parameters and must
    // not be handed over; the sink negates what it gets, so that a part handed twice, or one
    // handed before backward finished it, shows.
    let specs = [
        LayerSpec::conv2d(3, 3, Padding::Same, Activation::Tanh, Init::GlorotUniform),
        LayerSpec::max_pool(2, Padding::Valid),
        LayerSpec::Flatten,
        LayerSpec::dense(5, Activation::Relu, Init::GlorotUniform),
        LayerSpec::dense(4, Activation::Identity, Init::GlorotUniform),
    ];
    let build = || Network::<f32>::new(Shape::image(6, 6, 2), &specs, Objective::CLASSIFY, 3, 9, 1).unwrap();
    let input: Vec<f32> = values(3 * 72, 0.1).iter().map(|&v| v as f32).collect();
    let labels = [1, 3, 0];
    let mut plain = build();
    let expected = plain.gradients(&input, Targets::Classes(&labels), 3);
    let mut streamed = build();
    let handed = std::sync::Mutex::new(Vec::new());
    let got = streamed.gradients_streamed(&input, Targets::Classes(&labels), 3, &|part: &mut [f32]| {
        handed.lock().unwrap().push((part.as_ptr() as usize, part.len()));
        part.iter_mut().for_each(|g| *g = -*g);
    });
    assert_eq!(got, expected);
    let negated: Vec<f32> = plain.grads.iter().map(|g| -g).collect();
    assert_eq!(streamed.grads, negated, "every value handed over once, after it was final");
    // Three layers own parameters: dense 4, dense 5, conv, in that order.
    let base = streamed.grads.as_ptr() as usize;
    let parts: Vec<(usize, usize)> = handed.into_inner().unwrap().iter().map(|&(p, n)| ((p - base) / 4, n)).collect();
    let ranges: Vec<(usize, usize)> =
        streamed.tensors().chunks(2).map(|t| (t[0].range.start, t[1].range.end - t[0].range.start)).collect();
    assert_eq!(parts, ranges.into_iter().rev().collect::<Vec<_>>());
    // What a rank with no rows sums instead must be the same parts in the same order.
    let declared: Vec<(usize, usize)> =
        crate::model::Model::streamed_parts(&streamed).iter().map(|r| (r.start, r.len())).collect();
    assert_eq!(parts, declared);
}
