"""The adding problem: the generator (the paper's task, sequence by sequence), the padding
convention, the stopping rule's window, a resumed unit, the config's checks, the verdict, and a
reduced quick run that shows the effect."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from handgrad.experiments.adding_problem import (
    EXPERIMENT,
    MODELS,
    AddingConfig,
    _answer,
    _build,
    _Window,
    constant_mse,
    judge,
    make_adding_batch,
    run_unit,
    units,
)
from unit_checkpoints import Killed, MemoryCheckpoint, no_progress


@pytest.fixture
def one_blas_thread():
    """Units run with BLAS at one thread, as the runner runs them (tiny products are slower,
    and burn more CPU, on two)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


# -- the generator ----------------------------------------------------------------------------
@pytest.mark.parametrize(("T", "seed"), [(11, 0), (20, 1), (37, 2), (100, 3)])
def test_every_sequence_is_the_papers(T, seed):
    N = 3000
    x, y, lengths = make_adding_batch(T, N, np.random.default_rng(seed))
    L = int(lengths.max())
    K = T // 2 - 1  # X2 is marked among the first K pairs
    assert x.shape == (L, N, 2) and y.shape == (N,) and lengths.shape == (N,)
    assert x.dtype == y.dtype == np.float64 and lengths.dtype == np.int64
    assert lengths.min() >= T and lengths.max() <= T + T // 10
    for n in range(N):
        n_len = int(lengths[n])
        values, markers = x[:n_len, n, 0], x[:n_len, n, 1]
        assert np.all((values >= -1) & (values <= 1))
        assert markers[0] == -1 and markers[-1] == -1  # first and last pair
        ones = np.flatnonzero(markers == 1)
        assert set(np.unique(markers)) <= {-1.0, 0.0, 1.0}
        assert np.count_nonzero(markers == -1) == 2
        if len(ones) == 2:  # neither mark on the first pair: one among the first ten (i1),
            a, b = ones  # the other among the first K (i2)
            assert (a < 10 and b < K) or (b < 10 and a < K)
        else:  # one mark fell on the first pair: it keeps -1, its value is 0
            assert len(ones) == 1 and ones[0] < max(10, K) and values[0] == 0.0
        # the target, recomputed from the inputs alone: 0.5 + (sum of the marked values) / 4
        assert y[n] == 0.5 + (values[ones].sum() + 0.0) / 4
        assert np.all(x[n_len:, n] == 0.0)  # padding


def test_marks_and_lengths_cover_their_ranges_uniformly():
    T, N = 100, 20000
    x, _, lengths = make_adding_batch(T, N, np.random.default_rng(7))
    K = T // 2 - 1
    assert set(np.unique(lengths)) == set(range(T, T + T // 10 + 1))  # 100 .. 110 all drawn
    markers = x[:, :, 1]
    marked = [np.flatnonzero(markers[:, n] == 1) for n in range(N)]
    positions = np.concatenate(marked)
    assert positions.min() == 0 + 1 and positions.max() == K - 1  # 0 never shows a 1 marker
    # the first pair is marked with probability P(i1 = 0) + P(i2 = 0) = 0.1 + 0.9 / (K - 1)
    p = 0.1 + 0.9 / (K - 1)
    first = np.mean([len(m) == 1 for m in marked])
    assert abs(first - p) < 5 * np.sqrt(p * (1 - p) / N)
    # position j is marked with probability P(i1 = j) + P(i2 = j): for j in 1..9,
    # 0.1 + 0.9 / (K - 1) (i2 avoids i1); for j in 10..K-1, 1 / (K - 1) (i1 < 10 < j);
    # every frequency within 5 standard deviations
    freq = np.bincount(positions, minlength=K) / N  # (K,)
    expected = np.r_[0.0, np.full(9, 0.1 + 0.9 / (K - 1)), np.full(K - 10, 1 / (K - 1))]
    sd = np.sqrt(expected * (1 - expected) / N)
    assert np.all(np.abs(freq[1:] - expected[1:]) < 5 * sd[1:])
    assert freq[0] == 0.0


def test_constant_mse_worked_example_and_simulation():
    # T = 100: K = 49, P(i1 = 0) = 0.1, P(i2 = 0) = 0.9 / 48 = 0.01875;
    # ((1 - 0.1) / 3 + (1 - 0.01875) / 3) / 16 = (0.3 + 0.3270833...) / 16 = 0.0391927083...
    assert constant_mse(100) == pytest.approx(0.6270833333333333 / 16, rel=1e-14)
    for T, seed in ((100, 0), (20, 1)):
        rng = np.random.default_rng(seed)
        sq = np.concatenate(  # (200000,) squared errors of the answer 0.5, in batches
            [
                (make_adding_batch(T, 20_000, rng, fixed_length=True)[1] - 0.5) ** 2
                for _ in range(10)
            ]
        )
        # the sample mean is within 5 standard errors of the formula
        assert abs(sq.mean() - constant_mse(T)) < 5 * sq.std() / np.sqrt(len(sq))
    assert constant_mse(11) != constant_mse(100)  # K = 4 < 10: i2 avoids i1 less often


def test_options_dtype_fixed_length_and_determinism():
    x, _, lengths = make_adding_batch(30, 50, np.random.default_rng(3), fixed_length=True)
    assert x.shape == (30, 50, 2) and np.all(lengths == 30)
    assert np.all(x[-1, :, 1] == -1)
    x32, y32, _ = make_adding_batch(30, 50, np.random.default_rng(3), dtype=np.float32)
    assert x32.dtype == y32.dtype == np.float32
    a = make_adding_batch(40, 20, np.random.default_rng(9))
    b = make_adding_batch(40, 20, np.random.default_rng(9))
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((10, 4, np.random.default_rng(0)), {}, ValueError, "T must be at least 11"),
        ((20, 0, np.random.default_rng(0)), {}, ValueError, "N must be a positive integer"),
        ((20.0, 4, np.random.default_rng(0)), {}, TypeError, "T must be an integer"),
        ((20, 4, 0), {}, TypeError, r"rng must be a numpy\.random\.Generator; got int"),
        ((20, 4, np.random.default_rng(0)), {"dtype": np.int32}, TypeError, "dtype must be"),
        ((20, 4, np.random.default_rng(0)), {"fixed_length": 1}, TypeError, "fixed_length"),
    ],
)
def test_generator_rejects_bad_arguments(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        make_adding_batch(*args, **kwargs)


# -- padding, the window ----------------------------------------------------------------------
@pytest.mark.parametrize("model", ["lstm", "gru", "rnn"])
def test_answers_are_read_after_each_sequences_own_last_pair(model):
    cfg = AddingConfig(hidden_size=5, dtype="float64")
    layer, head = _build(cfg, model, 0)
    x, _, lengths = make_adding_batch(20, 6, np.random.default_rng(1))
    assert len(set(lengths.tolist())) > 1  # the batch is padded
    _, batch = _answer(layer, head, x, lengths)
    for n in range(6):
        alone = x[: lengths[n], n : n + 1]  # (len, 1, 2): the sequence without padding
        _, one = _answer(layer, head, alone, lengths[n : n + 1])
        np.testing.assert_allclose(batch[n], one[0], rtol=1e-12, atol=1e-14)


def test_window_keeps_the_last_errors():
    rng = np.random.default_rng(0)
    win, ref = _Window(7), deque(maxlen=7)
    for n in (3, 1, 5, 7, 9, 2):
        e = rng.uniform(0, 0.1, n)
        win.add(e)
        ref.extend(e.tolist())
        assert win.filled == len(ref)
        assert sorted(win.errors[: win.filled]) == sorted(ref)
        assert win.mse() == pytest.approx(np.mean(np.square(list(ref))), rel=1e-13)
    win.errors[:] = 0.01
    assert win.solved(0.04, 0.01)
    win.errors[3] = 0.05  # one sequence wrong: not solved
    assert not win.solved(0.04, 0.01)
    half = _Window(4)
    half.add(np.zeros(3))
    assert not half.solved(0.04, 0.01)  # fewer sequences than the window


# -- a unit, resumed --------------------------------------------------------------------------
TINY = dict(
    T=11,
    hidden_size=4,
    batch_size=8,
    budget=8 * 30,
    window=40,
    test_size=64,
    log_every=4,
    repeats=2,
    models=("lstm", "rnn"),
)


@pytest.mark.parametrize("model", ["lstm", "rnn"])
def test_a_unit_killed_and_resumed_ends_with_the_same_rows(model, tmp_path, one_blas_thread):
    from handgrad.experiments.runner import FileCheckpoint

    cfg = AddingConfig(**TINY)
    unit = {"model": model, "run": 1}
    straight = run_unit(cfg, unit, FileCheckpoint(tmp_path / "straight.npz", 7), no_progress)
    checkpoint = FileCheckpoint(tmp_path / "killed.npz", 7)  # the runner's: an .npz file

    def kill_at_17(done, total):
        if done == 17:
            raise Killed

    with pytest.raises(Killed):
        run_unit(cfg, unit, checkpoint, kill_at_17)
    assert checkpoint.load()["step"] == 14  # saved at steps 7 and 14
    seen = []
    resumed = run_unit(cfg, unit, checkpoint, lambda d, t: seen.append((d, t)))
    assert seen[0] == (14, 30)  # it went on from the checkpoint, not from the start
    assert resumed == straight
    assert straight["results"][0]["steps"] == 30 and not straight["results"][0]["solved"]
    assert [r["step"] for r in straight["curves"]] == [4, 8, 12, 16, 20, 24, 28, 30]


def test_units_and_bad_units():
    cfg = AddingConfig(**TINY)
    assert units(cfg) == [
        {"model": "lstm", "run": 0},
        {"model": "rnn", "run": 0},
        {"model": "lstm", "run": 1},
        {"model": "rnn", "run": 1},
    ]
    cp = MemoryCheckpoint(every=100)
    with pytest.raises(ValueError, match=r"unit\['model'\] must be one of 'lstm', 'rnn'"):
        run_unit(cfg, {"model": "gru", "run": 0}, cp, no_progress)
    with pytest.raises(ValueError, match=r"unit\['run'\] must be below repeats = 2; got 2"):
        run_unit(cfg, {"model": "lstm", "run": 2}, cp, no_progress)
    with pytest.raises(ValueError, match="unit must be a dict with keys 'model' and 'run'"):
        run_unit(cfg, {"model": "lstm"}, cp, no_progress)


# -- the config -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"T": 10}, ValueError, "T must be at least 11"),
        ({"T": 20.5}, TypeError, "T must be an integer"),
        ({"models": ()}, ValueError, "models must name at least one"),
        ({"models": ("lstm", "tcn")}, ValueError, r"models\[1\] must be one of"),
        ({"models": ("lstm", "lstm")}, ValueError, "models must be distinct"),
        ({"models": 3}, TypeError, "models must be a sequence of names"),
        ({"hidden_size": 0}, ValueError, "hidden_size must be a positive integer; got 0"),
        ({"gate_bias": float("nan")}, ValueError, "gate_bias must be a finite number"),
        ({"gate_bias": "5"}, TypeError, "gate_bias must be a real number"),
        ({"batch_size": -1}, ValueError, "batch_size must be a positive integer"),
        ({"lr": 0.0}, ValueError, r"lr must be in \(0.0, inf\)"),
        ({"clip_norm": 0.0}, ValueError, r"clip_norm must be in \(0.0, inf\)"),
        ({"budget": 0}, ValueError, "budget must be a positive integer"),
        ({"window": 0}, ValueError, "window must be a positive integer"),
        ({"tolerance": -0.04}, ValueError, "tolerance must be in"),
        ({"max_mse": None}, TypeError, "max_mse must be a real number"),
        ({"test_size": 0}, ValueError, "test_size must be a positive integer"),
        ({"log_every": 0}, ValueError, "log_every must be a positive integer"),
        ({"repeats": 0}, ValueError, "repeats must be a positive integer"),
        ({"dtype": "float16"}, ValueError, "dtype must be one of 'float32', 'float64'"),
        ({"seed": -1}, ValueError, "seed must be a non-negative integer; got -1"),
    ],
)
def test_bad_config_values_name_the_key(changes, error, message):
    with pytest.raises(error, match=message):
        AddingConfig(**changes)


def test_defaults_are_the_full_run_and_quick_overrides_are_fields():
    cfg = AddingConfig()
    assert cfg.T == 100 and cfg.models == MODELS and cfg.window == 2000
    assert cfg.tolerance == 0.04 and cfg.max_mse == 0.01 and cfg.test_size == 2560
    assert cfg.steps == 12_500  # 400,000 sequences in batches of 32
    assert AddingConfig(models="lstm").models == ("lstm",)
    AddingConfig(**EXPERIMENT.quick)  # valid
    assert EXPERIMENT.name == "adding-problem" and EXPERIMENT.config_type is AddingConfig


# -- the verdict ------------------------------------------------------------------------------
def _row(model, run, solved, sequences=1000, wrong=0, mse=1e-4):
    return {
        "model": model,
        "run": run,
        "solved": solved,
        "diverged": False,
        "sequences": sequences,
        "test_wrong": wrong,
        "test_mse": mse,
        "window_mse": mse,
    }


def test_judge_applies_its_rule():
    cfg = AddingConfig(models=("lstm", "gru", "rnn", "rnn_clip"), repeats=2)
    good = [
        _row("lstm", 0, True, 80_000, wrong=1),
        _row("lstm", 1, True, 120_000, wrong=3),
        _row("gru", 0, False, 400_000, mse=0.03),
        _row("gru", 1, True, 60_000),
        *(
            _row(m, r, False, 400_000, wrong=2000, mse=0.039)
            for m in ("rnn", "rnn_clip")
            for r in (0, 1)
        ),
    ]
    v = judge(cfg, {"results": good})
    assert v.reproduced
    lstm = v.measured["per_model"]["lstm"]
    assert lstm["sequences_to_solve"] == [80_000, 120_000]
    assert lstm["median_sequences_to_solve"] == 100_000.0
    assert v.measured["lstm_median_over_paper"] == pytest.approx(100_000 / 74_000)
    assert v.measured["per_model"]["gru"]["solved"] == 1
    assert "74,000" in v.rule and "2560" in v.rule and "400,000" in v.rule
    assert any("forget gate" in n for n in v.notes) and any("online" in n for n in v.notes)
    # an LSTM run that erred on 4 of 2560 test sequences: not the paper's result
    worse = [dict(r, test_wrong=4) if r["model"] == "lstm" and r["run"] == 1 else r for r in good]
    assert not judge(cfg, {"results": worse}).reproduced
    # an LSTM run out of budget
    unsolved = [
        dict(r, solved=False) if r["model"] == "lstm" and r["run"] == 0 else r for r in good
    ]
    assert not judge(cfg, {"results": unsolved}).reproduced
    # a clipped tanh RNN that solves
    rnn_solves = [
        dict(r, solved=True) if r["model"] == "rnn_clip" and r["run"] == 1 else r for r in good
    ]
    assert not judge(cfg, {"results": rnn_solves}).reproduced
    # without a tanh RNN there is nothing to compare with
    only = AddingConfig(models=("lstm",), repeats=2)
    v = judge(only, {"results": good[:2]})
    assert not v.reproduced and any("No tanh RNN" in n for n in v.notes)


# -- the effect, on a reduced quick run -------------------------------------------------------
def test_quick_lstm_solves_a_short_problem_where_the_tanh_rnn_stays_at_the_constant(
    one_blas_thread,
):
    # The quick setting (T = 20), seed 0, the only one the test runs: the LSTM meets the
    # paper's stopping rule after about 72,000 sequences (runs 0-2 took 72,000-92,000); the
    # unclipped tanh RNN, given 64,000 sequences here to keep the test short (it was still at
    # the constant's error after the quick budget of 128,000), ends at the constant's error.
    lstm_cfg = AddingConfig(**{**EXPERIMENT.quick, "models": ("lstm", "rnn"), "test_size": 1024})
    rnn_cfg = AddingConfig(**{**lstm_cfg.__dict__, "budget": 64_000})
    rows = {"results": [], "curves": []}
    for cfg, model in ((lstm_cfg, "lstm"), (rnn_cfg, "rnn")):
        got = run_unit(cfg, {"model": model, "run": 0}, MemoryCheckpoint(10**9), no_progress)
        rows["results"] += got["results"]
        rows["curves"] += got["curves"]
    lstm, rnn = rows["results"]
    assert lstm["solved"] and lstm["sequences"] < lstm_cfg.budget
    assert lstm["test_mse"] < lstm_cfg.max_mse and lstm["test_wrong"] <= 10
    assert not rnn["solved"] and rnn["sequences"] == 64_000
    # the RNN's test error is that of answering 0.5 (within 10 %)
    assert abs(rnn["test_mse"] - rnn["constant_test_mse"]) < 0.1 * rnn["constant_test_mse"]
    assert rnn["constant_test_mse"] == pytest.approx(constant_mse(20), rel=0.15)
    cfg = lstm_cfg
    # the figure: one curve per model, the two reference lines
    from handgrad.experiments.plots_recurrent import adding_training_figure

    fig = adding_training_figure(cfg, rows)
    left, _ = fig.axes
    labels = [ln.get_label() for ln in left.get_lines()]
    assert labels == ["lstm", "rnn", "constant 0.5", "stopping threshold"]
    xs = left.get_lines()[0].get_xdata()
    assert xs[-1] == lstm["sequences"]
