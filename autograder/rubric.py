"""Points for assignment a2: the one place where they are decided.

``POINTS``: each key is a notebook of ``solutions/a2/``; each inner key the ``grade_id`` of one
autograded test cell (a hidden test the judge decides); each value its points. Notebooks 01 to 05
total 100, notebook 06 adds 25: ``AUTO_TOTAL`` is 125, the score ``autograder grade`` gives.

``MANUAL_POINTS``: the written answers that a TA grades by hand (nbgrader "manually graded
answer" cells: ``solution`` and ``grade`` markdown cells whose model answer and rubric sit in the
source notebook's solution region, stripped from the release). They are kept out of ``POINTS``:
the judge cannot decide them, so the autograded score never waits for them. A TA enters them in
nbgrader's formgrader; ``export``, the report and the feedback add them (``MANUAL_TOTAL`` more
points, ``TOTAL`` in all).

``autograder.student_release.rubric_mismatches`` checks that the notebooks' nbgrader metadata
carries exactly these points (``autograder release`` refuses otherwise), and ``tests/test_course``
checks the totals.
"""

ASSIGNMENT = "a2"

POINTS: dict[str, dict[str, int]] = {
    "01_flat_backprop": {
        "test_sigmoid_circuit": 3,
        "test_svm_loss_vectorized": 4,
        "test_softmax_loss_vectorized": 4,
        "test_two_layer_net": 5,
        "test_sample_log_uniform": 2,
        "test_should_abort": 2,
    },
    "02_jacobian_free_gradients": {
        "test_relu_jacobian": 2,
        "test_relu_backward_implicit": 2,
        "test_matmul_backward": 3,
        "test_matmul_jacobians": 3,
        "test_explicit_jacobian_bytes": 2,
        "test_broadcast_backward": 3,
    },
    "03_modular_backprop": {
        "test_multiply_gate": 2,
        "test_graph_backward": 3,
        "test_affine_forward": 2,
        "test_affine_backward": 2,
        "test_relu_forward": 1,
        "test_relu_backward": 1,
        "test_sigmoid_layer": 2,
        "test_svm_loss": 2,
        "test_softmax_loss": 2,
        "test_affine_relu": 2,
        "test_fc_net": 4,
        "test_overfit_small": 1,
        "test_sgd_momentum": 2,
        "test_rmsprop": 2,
        "test_adam": 2,
    },
    "04_dropout": {
        "test_dropout_forward": 3,
        "test_dropout_backward": 2,
        "test_fc_net_dropout": 3,
        "test_vanilla_dropout_predict": 2,
    },
    "05_conv_nets": {
        "test_conv_output_size": 2,
        "test_conv_param_count": 2,
        "test_conv_forward_naive": 4,
        "test_conv_backward_naive": 4,
        "test_max_pool_forward_naive": 3,
        "test_max_pool_backward_naive": 3,
        "test_three_layer_convnet": 5,
        "test_hand_set_filters": 2,
    },
    "06_batch_normalization": {
        "test_batchnorm_forward": 4,
        "test_batchnorm_backward": 4,
        "test_batchnorm_backward_alt": 3,
        "test_layernorm_forward": 2,
        "test_layernorm_backward": 3,
        "test_spatial_batchnorm": 4,
        "test_fc_net_norm": 5,
    },
}

def _inline_questions(count: int) -> dict[str, int]:
    """``inline_question_1`` .. ``inline_question_<count>``, 2 points each (notebooks 01-05)."""
    return {f"inline_question_{k}": 2 for k in range(1, count + 1)}


MANUAL_POINTS: dict[str, dict[str, int]] = {
    "01_flat_backprop": _inline_questions(6),
    "02_jacobian_free_gradients": _inline_questions(4),
    "03_modular_backprop": _inline_questions(6),
    "04_dropout": _inline_questions(3),
    "05_conv_nets": _inline_questions(5),
    "06_batch_normalization": {
        "bn_graph_answer": 2,
        "ln_vs_bn_answer": 2,
        "init_scale_answer": 3,
        "batch_size_answer": 3,
    },
}

AUTO_TOTAL = sum(sum(cells.values()) for cells in POINTS.values())
MANUAL_TOTAL = sum(sum(cells.values()) for cells in MANUAL_POINTS.values())
TOTAL = AUTO_TOTAL + MANUAL_TOTAL
