"""Every numeric tolerance the course uses, in one place.

Notebooks, tests and the autograder import these names instead of writing numbers inline, so a
tolerance is changed (and justified) once. All relative errors here are measured with
``cs231kit.gradient_check.rel_error``: ``max |x - y| / max(1e-8, |x| + |y|)``, elementwise.

Rough guide for reading a relative error (after the CS231n notes on gradient checking):

    > 1e-2          the gradient is probably wrong
    1e-4 ... 1e-2   suspicious; acceptable only at a kink (ReLU, max, SVM hinge)
    1e-7 ... 1e-4   fine for objectives with kinks, too large for smooth ones
    < 1e-7          a correct gradient of a smooth function
"""

# ---------------------------------------------------------------------------------------------
# Numeric gradients
# ---------------------------------------------------------------------------------------------

# Step of the centred difference (f(x+h) - f(x-h)) / 2h. Its truncation error is ~h^2 * f''' ~ 1e-10
# and its rounding error ~eps / h ~ 1e-11 in float64 (eps ~ 2.2e-16): 1e-5 balances the two.
# In float32 (eps ~ 1.2e-7) the rounding error would be ~1e-2, which is why checks need float64.
GRAD_CHECK_H = 1e-5

# Floor of the denominator in rel_error, so that two tiny values (e.g. 1e-12 and 0) do not give a
# huge relative error: differences below ~1e-8 in absolute terms count as agreement.
REL_ERROR_FLOOR = 1e-8

# ---------------------------------------------------------------------------------------------
# Gradient-check verdicts (analytic vs numeric gradient, float64, h = GRAD_CHECK_H)
# ---------------------------------------------------------------------------------------------

# A correct gradient of a smooth function (sigmoid, softmax loss, affine) agrees with the centred
# difference to ~1e-9 or better; the CS231n notes call <= 1e-7 the "happy" band.
REL_ERROR_SMOOTH = 1e-7

# Near a kink (ReLU, max pooling, SVM hinge) the centred difference straddles a corner and can be
# off by a large fraction; the notes call 1e-4 "okay for objectives with kinks". Networks with
# ReLUs checked at reg = 0 show ~1e-5 on some weights, which this still accepts.
REL_ERROR_KINK = 1e-4

# Above this a gradient is "probably wrong" (CS231n notes); used in messages, never as a pass bar.
REL_ERROR_WRONG = 1e-2

# Kink detection (gradient_check.has_kink) predicts the gap between the one-sided slopes just right
# and just left of x from the slopes further out on each side. For a smooth f the prediction is
# right up to fourth-order terms, so gap / prediction ~ 1; a kink within h adds its jump in slope
# to the gap. A gap more than this many times the prediction (plus noise) is reported as a kink.
# 5 flagged no smooth case in 14,400 probes of tanh/softplus/sin/cubic networks with inputs scaled
# from 0.1 to 100, and ~97% of ReLU kinks planted within h (the rest have a negligible jump).
KINK_GAP_FACTOR = 5.0

# Relative rounding error assumed for one evaluation of f in float64: a loss summed over up to
# ~1e5 terms is good to ~1e-14 (eps alone is 2.2e-16); 1e-13 leaves a margin. It sets the noise
# floor of the kink test, so that rounding is never mistaken for a kink.
KINK_NOISE_REL = 1e-13

# ---------------------------------------------------------------------------------------------
# Forward values and fast-vs-naive agreement
# ---------------------------------------------------------------------------------------------

# A float64 forward pass (affine, conv, pooling, losses) against a reference computed in float64
# agrees to ~1e-12; 1e-7 also accepts expected values printed with 8 significant digits.
FORWARD_REL_ERROR = 1e-7

# Fast layers (im2col / stride tricks) against the naive loops, float64: the two sum the same
# products in a different order, so they agree to ~1e-14; CS231n expects "e-9 or less".
FAST_VS_NAIVE_FLOAT64 = 1e-10

# The same comparison in float32 (eps ~ 1.2e-7): summation-order differences over a few hundred
# products reach ~1e-6 relative, so 1e-5 passes correct code and still catches wrong indexing.
FAST_VS_NAIVE_FLOAT32 = 1e-5

# ---------------------------------------------------------------------------------------------
# Update rules (one step of sgd_momentum / rmsprop / adam against expected arrays, float64)
# ---------------------------------------------------------------------------------------------

# The expected arrays are computed in float64 by the same formulas; CS231n asks for < 1e-8
# (momentum) and ~1e-7 (rmsprop, adam). One bar for all three: a wrong formula is off by >1e-3.
UPDATE_RULE_REL_ERROR = 1e-7
