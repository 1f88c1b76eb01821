//! The optimizer: an update rule, its state over a flat parameter buffer, parameter groups,
//! clipping and weight decay, applied in one fused pass per group.

use std::ops::Range;

use crate::algorithms::{Algorithm, OptimizerConfig, Overrides, StepContext, TensorRule, UpdateRule};
use crate::clip::{scale_for_norm, Clip};
use crate::error::{ConfigError, StateError, StepError};
use crate::parallel::{for_each_piece, sum_of_squares, StateViews, MAX_STATE};
use crate::Float;

/// Settings for a contiguous range of the flat parameter buffer (e.g. one layer's biases).
///
/// As in PyTorch's `param_groups`, a value a group sets overrides the optimizer's for that
/// group, and a value it leaves unset is the optimizer's: weight decay, a factor on the learning
/// rate, and the rule's hyperparameters (β₁, β₂, momentum, ρ, δ, …, through
/// [`with_overrides`](Self::with_overrides)). Every part of the buffer must be in a group; with no
/// groups, the whole buffer is one group with the optimizer's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamGroup {
    /// The elements of the flat buffer this group covers.
    pub range: Range<usize>,
    /// Multiplies the learning rate of each step for this group (1 for the same rate).
    pub lr_scale: f64,
    /// Weight decay for this group; `None` takes the optimizer's.
    pub weight_decay: Option<f64>,
    /// The tensor's shape as a matrix (rows, columns), for the rules that need it (Adafactor,
    /// Muon); `None` for a vector. Element (i, j) is at `range.start + i·columns + j`.
    pub shape: Option<(usize, usize)>,
    /// The rule's hyperparameters this group sets for itself (unset: the optimizer's).
    pub overrides: Overrides,
}

impl ParamGroup {
    /// A group over `range` with the optimizer's settings.
    pub fn new(range: Range<usize>) -> Self {
        ParamGroup { range, lr_scale: 1.0, weight_decay: None, shape: None, overrides: Overrides::default() }
    }

    /// This group as a `rows` × `cols` matrix (row-major).
    pub fn with_shape(mut self, rows: usize, cols: usize) -> Self {
        self.shape = Some((rows, cols));
        self
    }

    /// This group with its own weight decay (0 for none, as is usual for biases).
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = Some(weight_decay);
        self
    }

    /// This group with its learning rate scaled by `lr_scale`.
    pub fn with_lr_scale(mut self, lr_scale: f64) -> Self {
        self.lr_scale = lr_scale;
        self
    }

    /// This group with its own values of the rule's hyperparameters (PyTorch's
    /// `{"params": …, "betas": (0.8, 0.99), "eps": 1e-6}`); those left `None` stay the
    /// optimizer's. [`Optimizer::with_groups`] refuses a value the rule does not have, one out of
    /// range, and one that would change the state the optimizer keeps: a switch such as
    /// `centered`, momentum from 0 to non-zero, AdaGrad's initial accumulator (PyTorch, too,
    /// starts every group's from the constructor's value), or a value that state shared by all
    /// groups depends on (torch NAdam's μ product on β₁ and ψ; schedule-free's averaging
    /// weights on β₂). PyTorch keeps NAdam's μ product per tensor, so it takes β₁ per group
    /// where descent does not.
    pub fn with_overrides(mut self, overrides: Overrides) -> Self {
        self.overrides = overrides;
        self
    }
}

/// Runs `$body` with `$rule` bound to the concrete config inside an [`Algorithm`] when it is an
/// elementwise [`UpdateRule`], and `$tensor_body` with `$tensor` bound when it is a
/// [`TensorRule`].
macro_rules! dispatch {
    ($algorithm:expr, $rule:ident => $body:expr, $tensor:ident => $tensor_body:expr) => {
        match $algorithm {
            Algorithm::Sgd($rule) => $body,
            Algorithm::Adagrad($rule) => $body,
            Algorithm::Rmsprop($rule) => $body,
            Algorithm::Adam($rule) => $body,
            Algorithm::Nadam($rule) => $body,
            Algorithm::Adadelta($rule) => $body,
            Algorithm::Adamax($rule) => $body,
            Algorithm::Radam($rule) => $body,
            Algorithm::Lion($rule) => $body,
            Algorithm::ScheduleFree($rule) => $body,
            Algorithm::Adafactor($tensor) => $tensor_body,
            Algorithm::Muon($tensor) => $tensor_body,
        }
    };
}

/// The state buffers of either kind of rule, by name, with their starting values.
fn rule_state_buffers(algorithm: &Algorithm) -> Vec<(&'static str, f64)> {
    dispatch!(algorithm, rule => UpdateRule::state_buffers(rule), tensor => TensorRule::state_buffers(tensor))
}

/// A named per-parameter state buffer.
#[derive(Debug, Clone, PartialEq)]
struct StateBuffer<F> {
    name: &'static str,
    values: Vec<F>,
}

/// An optimizer over one flat buffer of parameters.
///
/// State buffers are allocated at the first [`step`](Self::step), as long as the parameter buffer;
/// after that a step allocates nothing.
///
/// ```
/// use descent_optim::{Convention, Optimizer, OptimizerConfig};
///
/// // Minimize f(x, y) = x² + 10y² from (1, 1) with Adam, on the caller's own buffers.
/// let config = OptimizerConfig::named("adam", Convention::Book).unwrap();
/// let mut optimizer = Optimizer::<f32>::from_config(&config).unwrap();
/// let mut params = vec![1.0f32, 1.0];
/// let mut grads = vec![0.0f32; 2];
/// for _ in 0..2000 {
///     grads[0] = 2.0 * params[0];
///     grads[1] = 20.0 * params[1];
///     optimizer.step(&mut params, &grads, 0.01).unwrap();
/// }
/// assert!(params.iter().all(|p| p.abs() < 1e-2));
/// ```
#[derive(Debug, Clone)]
pub struct Optimizer<F: Float> {
    algorithm: Algorithm,
    weight_decay: f64,
    maximize: bool,
    clip: Option<Clip>,
    groups: Vec<ParamGroup>,
    /// Each group's rule: the optimizer's with the group's overrides (empty with no groups).
    group_algorithms: Vec<Algorithm>,
    buffers: Vec<StateBuffer<F>>,
    /// Per group (or the one whole-buffer group), each buffer's elements for that group: the
    /// group's own range for elementwise rules, consecutive segments for tensor rules.
    segments: Vec<[Range<usize>; MAX_STATE]>,
    scratch: Vec<F>,
    scalar_names: Vec<&'static str>,
    scalar_values: Vec<f64>,
    steps_taken: u64,
    len: Option<usize>,
    last_grad_norm: Option<f64>,
}

/// The name under which the step count is exported with the scalar state.
pub const STEP_STATE_NAME: &str = "step";

impl<F: Float> Optimizer<F> {
    /// An optimizer for `algorithm` with no weight decay, no clipping and one group.
    pub fn new(algorithm: Algorithm) -> Result<Self, ConfigError> {
        algorithm.validate()?;
        let (scalar_names, scalar_values) =
            dispatch!(algorithm, rule => rule.scalar_state(), _tensor => Vec::new()).into_iter().unzip();
        Ok(Optimizer {
            algorithm,
            weight_decay: 0.0,
            maximize: false,
            clip: None,
            groups: Vec::new(),
            group_algorithms: Vec::new(),
            buffers: Vec::new(),
            segments: Vec::new(),
            scratch: Vec::new(),
            scalar_names,
            scalar_values,
            steps_taken: 0,
            len: None,
            last_grad_norm: None,
        })
    }

    /// The optimizer a named configuration describes (its rule and weight decay; the learning
    /// rate is given at each step).
    pub fn from_config(config: &OptimizerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self::new(config.algorithm)?.with_weight_decay(config.weight_decay)?.with_maximize(config.maximize))
    }

    /// Ascends instead of descends: every rule sees −g (PyTorch's `maximize`), after clipping's
    /// measurements, which do not depend on the sign.
    pub fn with_maximize(mut self, maximize: bool) -> Self {
        self.maximize = maximize;
        self
    }

    /// Sets the default weight decay λ (coupled L2, or decoupled for AdamW).
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Result<Self, ConfigError> {
        crate::algorithms::check_non_negative("weight_decay", weight_decay)?;
        self.weight_decay = weight_decay;
        Ok(self)
    }

    /// Clips gradients before each update (folded into the update pass).
    pub fn with_clip(mut self, clip: Option<Clip>) -> Result<Self, ConfigError> {
        if let Some(clip) = clip {
            clip.validate()?;
        }
        self.clip = clip;
        Ok(self)
    }

    /// Splits the buffer into parameter groups with their own settings. The ranges must not
    /// overlap; they are checked against the buffer's length at the first step. Each group's
    /// hyperparameters are checked here (see [`ParamGroup::with_overrides`]), so call this after
    /// the optimizer's own settings.
    pub fn with_groups(mut self, groups: Vec<ParamGroup>) -> Result<Self, ConfigError> {
        let mut group_algorithms = Vec::with_capacity(groups.len());
        for (index, group) in groups.iter().enumerate() {
            group_algorithms.push(self.group_algorithm(index, group)?);
            let valid_decay = group.weight_decay.is_none_or(|w| w.is_finite() && w >= 0.0);
            if !(group.lr_scale.is_finite() && group.lr_scale >= 0.0 && valid_decay) {
                return Err(bad_group(index, group, "has a negative or non-finite lr_scale or weight_decay"));
            }
            if group.range.start > group.range.end {
                return Err(bad_group(index, group, "is reversed"));
            }
            if let Some((rows, cols)) =
                group.shape.filter(|(rows, cols)| rows.checked_mul(*cols) != Some(group.range.len()))
            {
                return Err(bad_group(
                    index,
                    group,
                    &format!("has {} elements, not {rows} × {cols}", group.range.len()),
                ));
            }
            let overlaps = groups[..index]
                .iter()
                .any(|other| other.range.start < group.range.end && group.range.start < other.range.end);
            if overlaps {
                return Err(bad_group(index, group, "overlaps an earlier group"));
            }
        }
        self.groups = groups;
        self.group_algorithms = group_algorithms;
        Ok(self)
    }

    /// The optimizer's rule with `group`'s overrides, checked: each value must be one the rule
    /// has, in range, and must leave the state the optimizer keeps as it is.
    fn group_algorithm(&self, index: usize, group: &ParamGroup) -> Result<Algorithm, ConfigError> {
        let mut algorithm = self.algorithm;
        for (parameter, value) in group.overrides.pairs() {
            if value.is_some_and(|value| !algorithm.set(parameter, value)) {
                let problem = format!("sets {}, which {} does not have", parameter.name(), self.algorithm.name());
                return Err(bad_group(index, group, &problem));
            }
        }
        algorithm.validate().map_err(|error| bad_group(index, group, &format!("is invalid: {error}")))?;
        // The state is laid out and started once for all groups (as PyTorch's Adagrad fills every
        // group's sum from the constructor's initial_accumulator_value).
        let buffers = |algorithm: &Algorithm| -> Vec<String> {
            rule_state_buffers(algorithm).into_iter().map(|(name, initial)| format!("{name} from {initial}")).collect()
        };
        if buffers(&algorithm) != buffers(&self.algorithm) {
            let problem = format!(
                "would keep the state [{}] where the optimizer keeps [{}]: set that on the optimizer",
                buffers(&algorithm).join(", "),
                buffers(&self.algorithm).join(", ")
            );
            return Err(bad_group(index, group, &problem));
        }
        if shared_scalars_after(&algorithm, 3) != shared_scalars_after(&self.algorithm, 3) {
            let problem = format!(
                "sets a value {}'s state shared by all groups depends on: set that on the optimizer",
                self.algorithm.name()
            );
            return Err(bad_group(index, group, &problem));
        }
        Ok(algorithm)
    }

    /// Back to the state before the first step (buffers are allocated again at the next).
    pub(crate) fn reset_state(&mut self) {
        self.scalar_values = dispatch!(self.algorithm, rule => rule.scalar_state(), _tensor => Vec::new())
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        self.buffers.clear();
        self.segments.clear();
        self.steps_taken = 0;
        self.len = None;
    }

    /// The parameters the state was allocated for (`None` before the first step).
    pub fn parameter_count(&self) -> Option<usize> {
        self.len
    }

    /// The update rule.
    pub fn algorithm(&self) -> &Algorithm {
        &self.algorithm
    }

    /// Number of updates made so far (t after the last step).
    pub fn steps_taken(&self) -> u64 {
        self.steps_taken
    }

    /// The gradient norm measured for clipping at the last step (global, or the largest group
    /// norm for per-group clipping); `None` when not clipping by norm.
    pub fn last_grad_norm(&self) -> Option<f64> {
        self.last_grad_norm
    }

    /// One update: θ ← θ + Δθ(g) at learning rate `lr` (scaled per group).
    pub fn step(&mut self, params: &mut [F], grads: &[F], lr: f64) -> Result<(), StepError> {
        if params.len() != grads.len() {
            return Err(StepError::LengthMismatch { params: params.len(), grads: grads.len() });
        }
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(StepError::BadLearningRate(lr));
        }
        self.ensure_state(params.len())?;
        let step = self.steps_taken + 1;
        let algorithm = self.algorithm;
        dispatch!(algorithm, rule => rule.advance(step, lr, &mut self.scalar_values), _tensor => ());

        let whole = [ParamGroup::new(0..params.len())];
        let groups = if self.groups.is_empty() { &whole[..] } else { &self.groups[..] };
        let global_scale = match self.clip {
            Some(Clip::GlobalNorm(max_norm)) => {
                let squares: f64 = groups.iter().map(|group| sum_of_squares(&grads[group.range.clone()])).sum();
                self.last_grad_norm = Some(squares.sqrt());
                scale_for_norm(squares.sqrt(), max_norm)
            }
            _ => 1.0,
        };
        let mut largest_group_norm: f64 = 0.0;
        for (index, (group, segments)) in groups.iter().zip(&self.segments).enumerate() {
            let rule = self.group_algorithms.get(index).unwrap_or(&algorithm);
            let range = group.range.clone();
            let (grad_scale, clip_value) = match self.clip {
                Some(Clip::Value(bound)) => (1.0, bound),
                Some(Clip::Norm(max_norm)) => {
                    let norm = sum_of_squares(&grads[range.clone()]).sqrt();
                    largest_group_norm = largest_group_norm.max(norm);
                    (scale_for_norm(norm, max_norm), f64::INFINITY)
                }
                Some(Clip::GlobalNorm(_)) | None => (global_scale, f64::INFINITY),
            };
            let context = StepContext {
                step,
                lr: lr * group.lr_scale,
                weight_decay: group.weight_decay.unwrap_or(self.weight_decay),
                grad_scale: if self.maximize { -grad_scale } else { grad_scale },
                clip_value,
                scalars: &self.scalar_values,
            };
            let used = self.buffers.len();
            let mut views: StateViews<'_, F> = Default::default();
            for ((view, buffer), segment) in views.iter_mut().zip(self.buffers.iter_mut()).zip(segments) {
                *view = &mut buffer.values[segment.clone()];
            }
            let (params, grads) = (&mut params[range.clone()], &grads[range]);
            dispatch!(rule, rule => {
                let kernel = rule.prepare::<F>(&context);
                for_each_piece(params, grads, views, used, &|p: &mut [F], g: &[F], s: &mut [&mut [F]]| {
                    crate::parallel::apply_kernel(&kernel, p, g, s)
                });
            }, tensor => tensor.step_group(&context, group.shape, params, grads, &mut views[..used], &mut self.scratch));
        }
        if matches!(self.clip, Some(Clip::Norm(_))) {
            self.last_grad_norm = Some(largest_group_norm);
        }
        self.steps_taken = step;
        Ok(())
    }

    /// Allocates the state at the first step; afterwards checks that the buffer kept its size.
    fn ensure_state(&mut self, len: usize) -> Result<(), StepError> {
        match self.len {
            Some(expected) if expected == len => return Ok(()),
            Some(expected) => return Err(StepError::ResizedParameters { expected, found: len }),
            None => {}
        }
        for (index, group) in self.groups.iter().enumerate() {
            if group.range.end > len {
                let ParamGroup { range, .. } = group;
                let problem = format!("reaches past the {len} parameters");
                return Err(StepError::BadGroup { index, start: range.start, end: range.end, problem });
            }
        }
        // Parameters outside every group would silently never move; freezing is said explicitly,
        // with a group of lr_scale 0.
        if !self.groups.is_empty() {
            let mut starts: Vec<&Range<usize>> = self.groups.iter().map(|g| &g.range).collect();
            starts.sort_by_key(|range| range.start);
            let mut covered = 0;
            for range in starts.into_iter().chain([&(len..len)]) {
                if range.start > covered {
                    return Err(StepError::Uncovered { start: covered, end: range.start });
                }
                covered = covered.max(range.end);
            }
        }
        let lengths = self.lay_out(len);
        self.buffers = rule_state_buffers(&self.algorithm)
            .into_iter()
            .zip(lengths)
            .map(|((name, initial), length)| StateBuffer { name, values: vec![F::from_f64(initial); length] })
            .collect();

        debug_assert!(self.buffers.len() <= MAX_STATE);
        self.len = Some(len);
        Ok(())
    }

    /// The groups a step runs over: those given, or one over the whole buffer of `len`.
    fn effective_groups(&self, len: usize) -> Vec<ParamGroup> {
        if self.groups.is_empty() {
            vec![ParamGroup::new(0..len)]
        } else {
            self.groups.clone()
        }
    }

    /// Sets each group's segment of each buffer, and the scratch a tensor rule needs, for a
    /// parameter buffer of `len`; returns each buffer's length.
    fn lay_out(&mut self, len: usize) -> Vec<usize> {
        let groups = self.effective_groups(len);
        let count = rule_state_buffers(&self.algorithm).len();
        let mut lengths = vec![0; count];
        let mut scratch = 0;
        self.segments = groups
            .iter()
            .map(|group| {
                let mut segments: [Range<usize>; MAX_STATE] = Default::default();
                for (index, (segment, length)) in segments.iter_mut().zip(lengths.iter_mut()).enumerate() {
                    dispatch!(&self.algorithm, _rule => {
                        *segment = group.range.clone();
                        *length = len;
                    }, tensor => {
                        let size = tensor.buffer_len(index, group.range.len(), group.shape);
                        *segment = *length..*length + size;
                        *length += size;
                        scratch = scratch.max(tensor.scratch_len(group.range.len(), group.shape));
                    });
                }
                segments
            })
            .collect();
        self.scratch = vec![F::ZERO; scratch];
        lengths
    }

    /// Exchanges `params` with the point the rule wants evaluated, over every group, exactly;
    /// a second call exchanges them back. Only schedule-free AdamW has such a point (the average
    /// x, while the parameters hold y, where gradients are taken); for every other rule, and
    /// before the first step, it does nothing.
    pub fn swap_evaluation_point(&mut self, params: &mut [F]) {
        let Some(index) = dispatch!(&self.algorithm, rule => rule.evaluation_buffer(), _tensor => None) else {
            return;
        };
        if self.len != Some(params.len()) {
            return;
        }
        for segments in &self.segments {
            let range = segments[index].clone();
            params[range.clone()].swap_with_slice(&mut self.buffers[index].values[range]);
        }
    }

    /// The per-parameter state buffers by name (empty before the first step).
    pub fn state_buffers(&self) -> impl Iterator<Item = (&'static str, &[F])> + '_ {
        self.buffers.iter().map(|buffer| (buffer.name, &buffer.values[..]))
    }

    /// The scalar state by name, starting with the step count ([`STEP_STATE_NAME`]).
    pub fn state_scalars(&self) -> Vec<(&'static str, f64)> {
        let mut scalars = vec![(STEP_STATE_NAME, self.steps_taken as f64)];
        scalars.extend(self.scalar_names.iter().copied().zip(self.scalar_values.iter().copied()));
        scalars
    }

    /// Restores state saved with [`state_buffers`](Self::state_buffers) and
    /// [`state_scalars`](Self::state_scalars), for a parameter buffer of length `len`.
    ///
    /// Every buffer and scalar the rule keeps must be given, with nothing else; on error the
    /// optimizer is unchanged.
    pub fn load_state(
        &mut self,
        len: usize,
        buffers: &[(&str, &[F])],
        scalars: &[(&str, f64)],
    ) -> Result<(), StateError> {
        let expected_buffers = rule_state_buffers(&self.algorithm);
        let mut expected: Vec<&'static str> = expected_buffers.iter().map(|(name, _)| *name).collect();
        expected.push(STEP_STATE_NAME);
        expected.extend(self.scalar_names.iter().copied());
        let unknown = buffers
            .iter()
            .map(|(name, _)| *name)
            .chain(scalars.iter().map(|(name, _)| *name))
            .find(|name| !expected.contains(name));
        if let Some(name) = unknown {
            return Err(StateError::UnknownName {
                optimizer: self.algorithm.name().to_string(),
                name: name.to_string(),
                expected: expected.join(", "),
            });
        }
        let mut laid_out = self.clone();
        let lengths = laid_out.lay_out(len);
        let mut restored = Vec::with_capacity(expected_buffers.len());
        for ((name, _), len) in expected_buffers.iter().zip(lengths) {
            let (_, values) = buffers
                .iter()
                .find(|(given, _)| given == name)
                .ok_or_else(|| StateError::Missing { name: name.to_string() })?;
            if values.len() != len {
                return Err(StateError::WrongLength { name: name.to_string(), expected: len, found: values.len() });
            }
            restored.push(StateBuffer { name, values: values.to_vec() });
        }
        let scalar = |name: &str| {
            scalars
                .iter()
                .find(|(given, _)| *given == name)
                .map(|(_, value)| *value)
                .ok_or_else(|| StateError::Missing { name: name.to_string() })
        };
        let steps = scalar(STEP_STATE_NAME)?;
        let values = self.scalar_names.iter().map(|name| scalar(name)).collect::<Result<Vec<_>, _>>()?;
        self.buffers = restored;
        (self.segments, self.scratch) = (laid_out.segments, laid_out.scratch);
        self.scalar_values = values;
        self.steps_taken = steps as u64;
        self.len = Some(len);
        Ok(())
    }
}

/// The rule's scalar state (shared by all groups) after `steps` updates at rate 1: the same for
/// two settings of a rule exactly when that state does not depend on what tells them apart.
fn shared_scalars_after(algorithm: &Algorithm, steps: u64) -> Vec<(&'static str, f64)> {
    let (names, mut values): (Vec<&'static str>, Vec<f64>) =
        dispatch!(algorithm, rule => rule.scalar_state(), _tensor => Vec::new()).into_iter().unzip();
    for step in 1..=steps {
        dispatch!(algorithm, rule => rule.advance(step, 1.0, &mut values), _tensor => ());
    }
    names.into_iter().zip(values).collect()
}

fn bad_group(index: usize, group: &ParamGroup, problem: &str) -> ConfigError {
    ConfigError::BadGroup { index, start: group.range.start, end: group.range.end, problem: problem.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::{AdamConfig, Convention, SgdConfig};

    fn sgd() -> Optimizer<f64> {
        Optimizer::new(SgdConfig::plain(Convention::Book).into()).unwrap()
    }

    #[test]
    fn groups_scale_lr_and_override_decay_and_freeze_on_request() {
        // θ = (1, 1, 1), g = (1, 1, 1), ε = 0.1, λ = 0.5 by default.
        // group 0..1: λ = 0 → 1 − 0.1·1 = 0.9; group 1..2: lr ×2, λ = 0.5 → 1 − 0.2·1.5 = 0.7;
        // group 2..3: lr ×0, frozen, stays 1.
        let groups = vec![
            ParamGroup::new(0..1).with_weight_decay(0.0),
            ParamGroup::new(1..2).with_lr_scale(2.0),
            ParamGroup::new(2..3).with_lr_scale(0.0),
        ];
        let mut optimizer = sgd().with_weight_decay(0.5).unwrap().with_groups(groups).unwrap();
        let mut params = [1.0, 1.0, 1.0];
        optimizer.step(&mut params, &[1.0, 1.0, 1.0], 0.1).unwrap();
        assert!((params[0] - 0.9).abs() < 1e-15 && (params[1] - 0.7).abs() < 1e-15 && params[2] == 1.0);
    }

    #[test]
    fn a_groups_own_hyperparameters_override_the_optimizers() {
        // Torch momentum SGD, μ = 0.9, g = 1 at every step, ε = 0.1: the buffer b ← μb + g, then
        // θ ← θ − εb. Step 1: b = 1, θ = 0.9 in both groups. Step 2: b = 1 + μ, so θ = 0.9 − 0.15
        // = 0.75 in the group with μ = 0.5 and 0.9 − 0.19 = 0.71 in the optimizer's.
        let momentum = SgdConfig::momentum(Convention::Torch).into();
        let half = Overrides { momentum: Some(0.5), ..Overrides::default() };
        let groups = vec![ParamGroup::new(0..1).with_overrides(half), ParamGroup::new(1..2)];
        let mut optimizer = Optimizer::<f64>::new(momentum).unwrap().with_groups(groups).unwrap();
        let mut params = [1.0, 1.0];
        for _ in 0..2 {
            optimizer.step(&mut params, &[1.0, 1.0], 0.1).unwrap();
        }
        assert!((params[0] - 0.75).abs() < 1e-15 && (params[1] - 0.71).abs() < 1e-15, "{params:?}");
        // Adam's first step is ε·g/(|g| + δ) whatever β₁, β₂: with g = 1 and a group's δ = 1,
        // ε/2; with the optimizer's δ = 1e-8, ε/(1 + 1e-8).
        let wide = Overrides { eps: Some(1.0), beta1: Some(0.5), ..Overrides::default() };
        let groups = vec![ParamGroup::new(0..1), ParamGroup::new(1..2).with_overrides(wide)];
        let adam = AdamConfig::adam(Convention::Torch).into();
        let mut optimizer = Optimizer::<f64>::new(adam).unwrap().with_groups(groups).unwrap();
        let mut params = [0.0, 0.0];
        optimizer.step(&mut params, &[1.0, 1.0], 0.1).unwrap();
        assert!((params[0] + 0.1 / (1.0 + 1e-8)).abs() < 1e-17 && (params[1] + 0.05).abs() < 1e-17, "{params:?}");
    }

    #[test]
    fn a_groups_bad_hyperparameters_are_named() {
        let with = |algorithm: Algorithm, overrides: Overrides| {
            let groups = vec![ParamGroup::new(0..2), ParamGroup::new(2..4).with_overrides(overrides)];
            Optimizer::<f64>::new(algorithm).unwrap().with_groups(groups).unwrap_err().to_string()
        };
        let adam: Algorithm = AdamConfig::adam(Convention::Torch).into();
        let cases = [
            (adam, Overrides { rho: Some(0.9), ..Default::default() }, "sets rho, which adam does not have"),
            (
                adam,
                Overrides { beta2: Some(1.2), ..Default::default() },
                "is invalid: beta2 must be in [0, 1), got 1.2",
            ),
            (
                SgdConfig::momentum(Convention::Torch).into(),
                Overrides { momentum: Some(0.0), ..Default::default() },
                "would keep the state [] where the optimizer keeps [momentum_buffer from 0]: set that on the optimizer",
            ),
            (
                crate::AdagradConfig::new(Convention::Torch).into(),
                Overrides { initial_accumulator: Some(0.5), ..Default::default() },
                "would keep the state [sum from 0.5] where the optimizer keeps [sum from 0]: set that on the optimizer",
            ),
            (
                crate::NadamConfig::new(Convention::Torch).into(),
                Overrides { beta1: Some(0.8), ..Default::default() },
                "sets a value nadam's state shared by all groups depends on: set that on the optimizer",
            ),
        ];
        for (algorithm, overrides, problem) in cases {
            assert_eq!(with(algorithm, overrides), format!("parameter group 1 (2..4) {problem}"));
        }
        // What the shared state does not depend on is a group's own (torch NAdam's β₂).
        let beta2 = Overrides { beta2: Some(0.9), ..Default::default() };
        let groups = vec![ParamGroup::new(0..2).with_overrides(beta2)];
        assert!(Optimizer::<f64>::new(crate::NadamConfig::new(Convention::Torch).into())
            .unwrap()
            .with_groups(groups)
            .is_ok());
    }

    #[test]
    fn parameters_outside_every_group_are_refused_not_frozen() {
        // (groups as (start, end) pairs, the first gap).
        let cases = [(vec![(0, 1), (2, 3)], (1, 2)), (vec![(1, 3)], (0, 1)), (vec![(0, 2)], (2, 3))];
        for (groups, gap) in cases {
            let groups = groups.into_iter().map(|(start, end)| ParamGroup::new(start..end)).collect();
            let mut optimizer = sgd().with_groups(groups).unwrap();
            let mut params = [1.0; 3];
            let error = optimizer.step(&mut params, &[1.0; 3], 0.1).unwrap_err();
            assert_eq!(error, StepError::Uncovered { start: gap.0, end: gap.1 });
            assert_eq!(params, [1.0; 3], "nothing moves on a refused step");
        }
    }

    #[test]
    fn groups_with_bad_scales_decays_or_ranges_are_named() {
        let problem = |group: ParamGroup| sgd().with_groups(vec![group]).unwrap_err().to_string();
        let bad_numbers = "parameter group 0 (0..2) has a negative or non-finite lr_scale or weight_decay";
        for group in [
            ParamGroup::new(0..2).with_lr_scale(-1.0),
            ParamGroup::new(0..2).with_lr_scale(f64::INFINITY),
            ParamGroup::new(0..2).with_weight_decay(-0.1),
            ParamGroup::new(0..2).with_weight_decay(f64::NAN),
        ] {
            assert_eq!(problem(group), bad_numbers);
        }
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = ParamGroup::new(3..1);
        assert_eq!(problem(reversed), "parameter group 0 (3..1) is reversed");
        // Zero is a valid scale and decay (a frozen group, a bias without decay), and an empty
        // range a valid group (a layer without parameters).
        let groups = vec![ParamGroup::new(0..2).with_lr_scale(0.0).with_weight_decay(0.0), ParamGroup::new(2..2)];
        assert!(sgd().with_groups(groups).is_ok());
        // Groups that touch without overlapping are accepted in either order.
        assert!(sgd().with_groups(vec![ParamGroup::new(2..4), ParamGroup::new(0..2)]).is_ok());
    }

    #[test]
    fn overlapping_or_outside_groups_are_rejected() {
        let overlap = sgd().with_groups(vec![ParamGroup::new(0..4), ParamGroup::new(3..6)]);
        assert_eq!(overlap.unwrap_err().to_string(), "parameter group 1 (3..6) overlaps an earlier group");
        let mut outside = sgd().with_groups(vec![ParamGroup::new(0..4)]).unwrap();
        let error = outside.step(&mut [0.0; 3], &[0.0; 3], 0.1).unwrap_err();
        assert_eq!(error.to_string(), "parameter group 0 (0..4) reaches past the 3 parameters");
    }

    #[test]
    fn global_norm_clipping_is_fused_into_the_step() {
        // g = (3, 4), ‖g‖ = 5, clip to 1: g' = g/(5 + 1e-6); SGD at ε = 1 moves by −g'.
        let mut optimizer = sgd().with_clip(Some(Clip::GlobalNorm(1.0))).unwrap();
        let mut params = [0.0, 0.0];
        optimizer.step(&mut params, &[3.0, 4.0], 1.0).unwrap();
        let s = 1.0 / (5.0 + 1e-6);
        assert!((params[0] + 3.0 * s).abs() < 1e-15 && (params[1] + 4.0 * s).abs() < 1e-15);
        assert_eq!(optimizer.last_grad_norm(), Some(5.0));
    }

    #[test]
    fn value_and_per_group_norm_clipping() {
        let mut by_value = sgd().with_clip(Some(Clip::Value(0.5))).unwrap();
        let mut params = [0.0, 0.0];
        by_value.step(&mut params, &[3.0, -0.25], 1.0).unwrap();
        assert_eq!(params, [-0.5, 0.25]);
        // Per group: (3, 4) and (0.3, 0.4) clipped to 1 separately: only the first shrinks.
        let groups = vec![ParamGroup::new(0..2), ParamGroup::new(2..4)];
        let mut by_norm = sgd().with_clip(Some(Clip::Norm(1.0))).unwrap().with_groups(groups).unwrap();
        let mut params = [0.0; 4];
        by_norm.step(&mut params, &[3.0, 4.0, 0.3, 0.4], 1.0).unwrap();
        let s = 1.0 / (5.0 + 1e-6);
        assert!((params[0] + 3.0 * s).abs() < 1e-15 && params[2] == -0.3 && params[3] == -0.4);
    }

    #[test]
    fn bad_steps_are_errors_not_panics() {
        let mut optimizer = sgd();
        assert!(matches!(optimizer.step(&mut [0.0; 2], &[0.0; 3], 0.1), Err(StepError::LengthMismatch { .. })));
        assert!(matches!(optimizer.step(&mut [0.0; 2], &[0.0; 2], -1.0), Err(StepError::BadLearningRate(_))));
        optimizer.step(&mut [0.0; 2], &[0.0; 2], 0.1).unwrap();
        assert!(matches!(optimizer.step(&mut [0.0; 3], &[0.0; 3], 0.1), Err(StepError::ResizedParameters { .. })));
    }

    #[test]
    fn state_round_trip_resumes_exactly() {
        // Ten steps straight equal five steps, export, load into a fresh optimizer, five more.
        let grad = |p: &[f64]| vec![2.0 * p[0] - p[1], 3.0 * p[1].powi(3)];
        let run = |optimizer: &mut Optimizer<f64>, params: &mut Vec<f64>, steps: usize| {
            for _ in 0..steps {
                let g = grad(params);
                optimizer.step(params, &g, 0.01).unwrap();
            }
        };
        for config in [AdamConfig::amsgrad(Convention::Book).into(), crate::NadamConfig::new(Convention::Torch).into()]
        {
            let mut straight = Optimizer::<f64>::new(config).unwrap();
            let mut a = vec![1.0, -0.5];
            run(&mut straight, &mut a, 10);

            let mut first = Optimizer::<f64>::new(config).unwrap();
            let mut b = vec![1.0, -0.5];
            run(&mut first, &mut b, 5);
            let buffers: Vec<(&str, Vec<f64>)> = first.state_buffers().map(|(n, v)| (n, v.to_vec())).collect();
            let views: Vec<(&str, &[f64])> = buffers.iter().map(|(n, v)| (*n, &v[..])).collect();
            let mut second = Optimizer::<f64>::new(config).unwrap();
            second.load_state(2, &views, &first.state_scalars()).unwrap();
            run(&mut second, &mut b, 5);
            assert_eq!(a, b);
            assert_eq!(second.steps_taken(), 10);
        }
    }

    #[test]
    fn load_state_names_what_is_wrong() {
        let mut optimizer = Optimizer::<f64>::new(AdamConfig::adam(Convention::Book).into()).unwrap();
        let zeros = [0.0; 2];
        let error =
            optimizer.load_state(2, &[("exp_avg", &zeros), ("velocity", &zeros)], &[("step", 3.0)]).unwrap_err();
        assert!(error.to_string().contains("no state named 'velocity'"), "{error}");
        let error = optimizer.load_state(2, &[("exp_avg", &zeros)], &[("step", 3.0)]).unwrap_err();
        assert_eq!(error.to_string(), "state 'exp_avg_sq' is missing");
        let error =
            optimizer.load_state(3, &[("exp_avg", &zeros), ("exp_avg_sq", &zeros)], &[("step", 3.0)]).unwrap_err();
        assert_eq!(error.to_string(), "state 'exp_avg' has length 2, expected 3");
    }

    #[test]
    fn results_do_not_depend_on_thread_count() {
        // f64 throughout, and gradients with full mantissas, so that the clip scale carries the
        // last bits of the sum of squares: a reduction cut by thread count would show.
        let n = 200_000;
        let mut grads: Vec<f64> = (0..n).map(|i| (i as f64 * 0.754_877_666).sin()).collect();
        // One huge gradient near a cut of the reduction (see parallel.rs's test of the same).
        grads[3 * crate::parallel::CHUNK - 5] = 1e8;
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut optimizer = Optimizer::<f64>::new(AdamConfig::adam(Convention::Book).into())
                .unwrap()
                .with_clip(Some(Clip::GlobalNorm(10.0)))
                .unwrap();
            let mut params = vec![0.5f64; n];
            pool.install(|| {
                for _ in 0..3 {
                    optimizer.step(&mut params, &grads, 0.01).unwrap();
                }
            });
            params.iter().map(|p| p.to_bits()).collect::<Vec<_>>()
        };
        let one = run(1);
        assert!(one == run(2) && one == run(3));
    }

    #[test]
    fn maximize_ascends_as_descending_the_negated_gradient() {
        // PyTorch's maximize is `grad = -grad`: maximizing with g must give, bit for bit, what
        // minimizing with −g gives, for every rule (elementwise and tensor, with clipping).
        let grad = |p: &[f64]| vec![2.0 * p[0] - p[1] + 0.3, 3.0 * p[1].powi(3) - 1.0, p[2] - p[0], 0.5 * p[3]];
        for name in crate::OPTIMIZER_NAMES {
            for clip in [None, Some(Clip::Value(0.7)), Some(Clip::GlobalNorm(0.5))] {
                let config = OptimizerConfig::named(name, crate::Convention::Torch).unwrap();
                let groups = || vec![ParamGroup::new(0..4).with_shape(2, 2)];
                let build = |maximize| {
                    Optimizer::<f64>::from_config(&OptimizerConfig { maximize, ..config.clone() })
                        .unwrap()
                        .with_clip(clip)
                        .unwrap()
                        .with_groups(groups())
                        .unwrap()
                };
                let (mut up, mut down) = (build(true), build(false));
                let (mut a, mut b) = (vec![1.0, -0.5, 0.25, 2.0], vec![1.0, -0.5, 0.25, 2.0]);
                for _ in 0..5 {
                    let g = grad(&a);
                    up.step(&mut a, &g, 0.01).unwrap();
                    let negated: Vec<f64> = grad(&b).iter().map(|g| -g).collect();
                    down.step(&mut b, &negated, 0.01).unwrap();
                }
                assert_eq!(a, b, "{name} with {clip:?}");
                assert_ne!(a, vec![1.0, -0.5, 0.25, 2.0], "{name} moved");
            }
        }
    }
}
