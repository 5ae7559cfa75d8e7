"""The character-level experiment: its text, its measures, min-char-rnn's loop as the speed
anchor, a resumed unit, the config's checks, the verdict, and a reduced quick run."""

from __future__ import annotations

import math

import numpy as np
import pytest

from handgrad.experiments.char_rnn import (
    CELLS,
    EXPERIMENT,
    CharRNNConfig,
    encode,
    heldout_bits,
    judge,
    load_corpus,
    run_unit,
    stdlib_files,
    unigram_bits,
    unigram_cross_bits,
    units,
)
from handgrad.experiments.char_speed import MinCharRNN, tokens_per_second, trainer
from handgrad.nn import LanguageModel
from unit_checkpoints import Killed, MemoryCheckpoint, no_progress


@pytest.fixture
def one_blas_thread():
    """Units run with BLAS at one thread, as the runner runs them."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture
def small_text(tmp_path):
    """A short text with structure to learn: repeated lines of a few words."""
    rng = np.random.default_rng(0)
    words = ["def ", "return ", "self", ".x", " = ", "(a, b)", ":\n", "    "]
    body = "".join(words[i] for i in rng.integers(0, len(words), 3000))
    path = tmp_path / "small.txt"
    path.write_text(body, encoding="utf-8")
    return str(path)


# -- the text ---------------------------------------------------------------------------------
def test_the_default_text_is_the_standard_librarys_source_in_a_fixed_order():
    root, names = stdlib_files()
    assert names == sorted(names) and len(names) > 100
    assert all(n.endswith(".py") for n in names)
    banned = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__"}
    assert not any(set(n.split("/")[:-1]) & banned for n in names)
    corpus = load_corpus("", 50_000)
    assert len(corpus.text) == 50_000 and corpus.source.startswith("python-stdlib-")
    # the files in order, whole, and the last one cut at the cap
    first = (root / names[0]).read_text(encoding="utf-8")
    assert corpus.text.startswith(first[:1000])
    joined = "".join((root / n).read_text(encoding="utf-8") for n in names[: corpus.files])
    assert corpus.text == joined[:50_000] and len(joined) >= 50_000
    assert load_corpus("", 50_000) == corpus  # the same every time


def test_a_given_text_file_is_read_up_to_the_cap(small_text):
    corpus = load_corpus(small_text, 500)
    assert corpus.files == 1 and corpus.source == "small.txt" and len(corpus.text) == 500
    with open(small_text, encoding="utf-8") as f:
        assert corpus.text == f.read()[:500]


def test_unreadable_texts_give_errors_naming_text(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(ValueError, match=r"text: no such file '.*nope\.txt'"):
        CharRNNConfig(text=str(missing))
    with pytest.raises(ValueError, match=r"text: '.*' is a folder; give a text file"):
        CharRNNConfig(text=str(tmp_path))
    binary = tmp_path / "latin.txt"
    binary.write_bytes(b"caf\xe9 " * 100)
    with pytest.raises(ValueError, match=r"text: '.*latin\.txt' is not UTF-8 text"):
        CharRNNConfig(text=str(binary))
    short = tmp_path / "short.txt"
    short.write_text("too short", encoding="utf-8")
    with pytest.raises(ValueError, match=r"text: '.*short\.txt' holds 9 characters; at least 100"):
        CharRNNConfig(text=str(short))
    with pytest.raises(TypeError, match="text must be a path"):
        CharRNNConfig(text=None)


def test_encode_and_unigram_worked_example():
    vocab, ids = encode("abaa\u00e9")
    assert vocab == "ab\u00e9" and ids.tolist() == [0, 1, 0, 0, 2]
    # frequencies (3/5, 1/5, 1/5): -(0.6 log2 0.6 + 2 * 0.2 log2 0.2) = 1.3709505944546687
    assert unigram_bits(ids, 3) == pytest.approx(1.3709505944546687, rel=1e-14)
    # add-one smoothing of the train part [0, 1, 0] over V = 3: q = (3/6, 2/6, 1/6);
    # the test part [0, 2]: -(log2 1/2 + log2 1/6) / 2 = (1 + 2.584962500721156) / 2
    cross = unigram_cross_bits(np.array([0, 1, 0]), np.array([0, 2]), 3)
    assert cross == pytest.approx((1 + math.log2(6)) / 2, rel=1e-14)


def test_heldout_bits_equals_a_stream_by_stream_loop():
    model = LanguageModel(6, 5, cell="gru", seed=2)
    ids = np.random.default_rng(1).integers(0, 6, 103)
    got = heldout_bits(model, ids, max_chars=101, streams=4)
    # 101 characters, 4 streams of T = (101 - 1) // 4 = 25 steps, each from the zero state
    total = 0.0
    for s in range(4):
        x, y = ids[s * 25 : s * 25 + 25], ids[s * 25 + 1 : s * 25 + 26]
        logits, _ = model(x)  # (25, V)
        z = logits - logits.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        total -= logp[np.arange(25), y].sum()
    assert got == pytest.approx(total / 100 / math.log(2), rel=1e-12)


# -- min-char-rnn's loop, the speed anchor ----------------------------------------------------
def test_min_char_rnn_gradients_by_central_differences():
    ref = MinCharRNN(5, 4, rng=np.random.default_rng(0))
    for p in ref.params:  # away from the tiny init, where every gradient is small
        p += np.random.default_rng(1).normal(0, 0.5, p.shape)
    inputs, targets = [0, 3, 1, 4, 2, 2], [3, 1, 4, 2, 2, 0]
    h0 = np.random.default_rng(2).normal(0, 0.5, (4, 1))
    _, grads, _ = ref.loss_and_grads(inputs, targets, h0)
    eps = 1e-6
    for p, g in zip(ref.params, grads, strict=True):
        num = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + eps
            up = ref.loss_and_grads(inputs, targets, h0)[0]
            p[i] = old - eps
            down = ref.loss_and_grads(inputs, targets, h0)[0]
            p[i] = old
            num[i] = (up - down) / (2 * eps)
        assert np.max(np.abs(num - g)) / max(1e-8, np.max(np.abs(g))) < 1e-7


def test_min_char_rnn_computes_what_handgrads_model_computes():
    # The same weights in both (one bias vector: bias_hh = 0): the same loss, state, gradients.
    ref = MinCharRNN(6, 5, rng=np.random.default_rng(3))
    for p in ref.params:
        p += np.random.default_rng(4).normal(0, 0.3, p.shape)
    model = LanguageModel(6, 5, seed=0)
    model.load_state_dict(
        {
            "rnn.weight_ih_l0": ref.Wxh,
            "rnn.weight_hh_l0": ref.Whh,
            "rnn.bias_ih_l0": ref.bh[:, 0],
            "rnn.bias_hh_l0": np.zeros(5),
            "head.weight": ref.Why,
            "head.bias": ref.by[:, 0],
        }
    )
    inputs, targets = np.array([1, 5, 0, 2, 4, 3, 3]), np.array([5, 0, 2, 4, 3, 3, 1])
    h0 = np.random.default_rng(5).normal(0, 0.5, (5, 1))
    loss, grads, h_last = ref.loss_and_grads(inputs, targets, h0)
    model.zero_grad()
    ours, g, state = model.loss_and_grad(inputs, targets, h0.T[None], reduction="sum")
    assert ours == pytest.approx(loss, rel=1e-13)
    np.testing.assert_allclose(state[0, 0], h_last[:, 0], rtol=1e-13, atol=1e-15)
    pairs = [
        ("rnn.weight_ih_l0", grads[0]),
        ("rnn.weight_hh_l0", grads[1]),
        ("head.weight", grads[2]),
        ("rnn.bias_ih_l0", grads[3][:, 0]),
        ("head.bias", grads[4][:, 0]),
    ]
    for name, expected in pairs:
        np.testing.assert_allclose(g[name], expected, rtol=1e-11, atol=1e-13)


def test_the_trainers_learn_and_carry_their_place(one_blas_thread):
    ids = np.tile(np.arange(5), 80)  # "01234" repeated: the next character is certain
    impls = ["handgrad", "numpy"]
    try:
        import torch  # noqa: F401

        impls.append("torch")
    except ImportError:  # torch is optional
        pass
    for impl in impls:
        train = trainer(impl, "rnn", ids, 5, hidden_size=8, seq_length=5, lr=0.3)
        first = train(1)
        for _ in range(6):
            last = train(20)  # 120 chunks: 1.5 passes over the 79 chunks of the stream
        assert last < 0.1 * first, impl  # summed loss of a chunk: 5 ln 5 = 8.0 at the start
    assert tokens_per_second(trainer("handgrad", "lstm", ids, 5, hidden_size=4), 5) > 0
    with pytest.raises(ValueError, match=r"the numpy loop .* is a tanh RNN; got cell='gru'"):
        trainer("numpy", "gru", ids, 5)
    with pytest.raises(ValueError, match="implementation must be one of"):
        trainer("jax", "rnn", ids, 5)


# -- a unit, resumed --------------------------------------------------------------------------
def _tiny(text, **changes):
    base = dict(
        text=text,
        hidden_size=8,
        seq_length=5,
        steps=30,
        eval_every=10,
        eval_chars=200,
        eval_streams=4,
        sample_length=12,
        sample_prefix="def",
        temperatures=(0.5, 1.0),
        speed_steps=0,
        repeats=2,
        cells=("lstm", "rnn"),
    )
    return CharRNNConfig(**{**base, **changes})


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_a_unit_killed_and_resumed_ends_with_the_same_rows(
    cell, small_text, tmp_path, one_blas_thread
):
    from handgrad.experiments.runner import FileCheckpoint

    cfg = _tiny(small_text)
    unit = {"kind": "train", "cell": cell, "run": 1}
    straight = run_unit(cfg, unit, FileCheckpoint(tmp_path / "straight.npz", 1000), no_progress)
    checkpoint = FileCheckpoint(tmp_path / "killed.npz", 7)  # the runner's: an .npz file

    def kill_at_21(done, total):
        if done == 21:
            raise Killed

    with pytest.raises(Killed):
        run_unit(cfg, unit, checkpoint, kill_at_21)
    assert checkpoint.load()["step"] == 21  # saved, then killed
    seen = []
    resumed = run_unit(cfg, unit, checkpoint, lambda d, t: seen.append(d))
    assert seen[0] == 21  # it went on from the checkpoint, not from the start
    assert resumed == straight  # also with other cuts between updates (every 7 vs every 1000)
    assert [r["step"] for r in straight["curves"]] == [10, 20, 30]
    assert [r["temperature"] for r in straight["samples"]] == [0.5, 1.0]
    assert all(len(r["sample"]) == 12 for r in straight["samples"])


def test_units_and_bad_units(small_text):
    cfg = _tiny(small_text, speed_steps=10)
    assert units(cfg) == [
        {"kind": "train", "cell": "lstm", "run": 0},
        {"kind": "train", "cell": "rnn", "run": 0},
        {"kind": "train", "cell": "lstm", "run": 1},
        {"kind": "train", "cell": "rnn", "run": 1},
        {"kind": "speed"},
    ]
    cp = MemoryCheckpoint(every=100)
    with pytest.raises(ValueError, match=r"unit\['cell'\] must be one of 'lstm', 'rnn'"):
        run_unit(cfg, {"kind": "train", "cell": "gru", "run": 0}, cp, no_progress)
    with pytest.raises(ValueError, match=r"unit\['run'\] must be below repeats = 2; got 5"):
        run_unit(cfg, {"kind": "train", "cell": "rnn", "run": 5}, cp, no_progress)
    with pytest.raises(ValueError, match="unit must be a dict with kind 'train' or 'speed'"):
        run_unit(cfg, {"cell": "rnn"}, cp, no_progress)
    bad_prefix = _tiny(small_text, sample_prefix="zq", steps=2, eval_every=2)
    with pytest.raises(ValueError, match=r"sample_prefix must use characters of the text; \['q'"):
        run_unit(bad_prefix, {"kind": "train", "cell": "rnn", "run": 0}, cp, no_progress)


def test_the_speed_unit_times_every_implementation(small_text, one_blas_thread):
    cfg = _tiny(small_text, speed_steps=5, cells=("rnn", "gru"))
    rows = run_unit(cfg, {"kind": "speed"}, MemoryCheckpoint(10), no_progress)
    assert rows["results"] == []
    got = {(r["implementation"], r["cell"]) for r in rows["speed"]}
    expected = {("handgrad", "rnn"), ("handgrad", "gru"), ("numpy", "rnn")}
    try:
        import torch  # noqa: F401

        expected |= {("torch", "rnn"), ("torch", "gru")}
    except ImportError:  # torch is optional
        pass
    assert got == expected
    assert all(r["tokens_per_second"] > 0 and r["chars_timed"] == 25 for r in rows["speed"])


# -- the config -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"max_chars": 0}, ValueError, "max_chars must be a positive integer"),
        ({"heldout_fraction": 0.0}, ValueError, r"heldout_fraction must be in \(0.0, 1.0\]"),
        ({"heldout_fraction": 1.0}, ValueError, "heldout_fraction must be below 1"),
        ({"cells": ()}, ValueError, "cells must name at least one"),
        ({"cells": ("rnn", "tcn")}, ValueError, r"cells\[1\] must be one of 'rnn', 'lstm', 'gru'"),
        ({"cells": ("rnn", "rnn")}, ValueError, "cells must be distinct"),
        ({"hidden_size": 0}, ValueError, "hidden_size must be a positive integer"),
        ({"seq_length": 2.5}, TypeError, "seq_length must be an integer"),
        ({"lr": -0.1}, ValueError, r"lr must be in \(0.0, inf\)"),
        ({"clip": 0.0}, ValueError, r"clip must be in \(0.0, inf\)"),
        ({"steps": 0}, ValueError, "steps must be a positive integer"),
        ({"eval_every": 0}, ValueError, "eval_every must be a positive integer"),
        ({"eval_chars": 0}, ValueError, "eval_chars must be a positive integer"),
        ({"eval_streams": -1}, ValueError, "eval_streams must be a positive integer"),
        ({"sample_length": -1}, ValueError, "sample_length must be a non-negative integer"),
        ({"sample_prefix": ""}, ValueError, "sample_prefix must be a non-empty string"),
        ({"temperatures": (1.0, 0.0)}, ValueError, r"temperatures\[1\] must be in \(0.0, inf\)"),
        ({"temperatures": "hot"}, TypeError, "temperatures must be a sequence of numbers"),
        ({"speed_steps": -1}, ValueError, "speed_steps must be a non-negative integer"),
        ({"repeats": 0}, ValueError, "repeats must be a positive integer"),
        ({"seed": -2}, ValueError, "seed must be a non-negative integer; got -2"),
    ],
)
def test_bad_config_values_name_the_key(changes, error, message, small_text):
    with pytest.raises(error, match=message):
        CharRNNConfig(**{"text": small_text, **changes})


def test_defaults_are_the_classic_setting():
    cfg = CharRNNConfig()
    assert (cfg.hidden_size, cfg.seq_length, cfg.lr, cfg.clip) == (100, 25, 0.1, 5.0)
    assert cfg.cells == CELLS and cfg.text == ""
    CharRNNConfig(**EXPERIMENT.quick)
    assert EXPERIMENT.name == "char-rnn" and EXPERIMENT.config_type is CharRNNConfig


# -- the verdict and the figure ---------------------------------------------------------------
def test_judge_applies_its_rule(small_text):
    cfg = _tiny(small_text)
    base = {"unigram_bpc": 3.0, "unigram_heldout_bpc": 3.1, "train_bpc": 1.0, "text": "t"}
    rows = {
        "results": [
            {**base, "cell": c, "run": r, "heldout_bpc": 2.0 + 0.1 * r}
            for r in range(2)
            for c in ("lstm", "rnn")
        ],
        "speed": [
            {"implementation": "handgrad", "cell": "rnn", "tokens_per_second": 5000.0},
            {"implementation": "numpy", "cell": "rnn", "tokens_per_second": 2000.0},
        ],
    }
    v = judge(cfg, rows)
    assert v.reproduced
    assert v.measured["per_cell"]["rnn"]["heldout_bpc"] == [2.0, 2.1]
    assert v.measured["tokens_per_second"]["handgrad_over_numpy_rnn"] == 2.5
    assert "unigram entropy" in v.rule
    rows["results"][3]["heldout_bpc"] = 3.0  # one run not below the entropy
    assert not judge(cfg, rows).reproduced
    assert not judge(cfg, {"results": rows["results"][:2]}).reproduced  # runs missing


def test_quick_held_out_loss_falls_below_the_unigram_entropy(one_blas_thread):
    # The quick setting on the standard library's source, 1000 updates per cell instead of
    # 3000 and no speed unit, to keep the test short; every cell ends below the entropy.
    cfg = CharRNNConfig(**{**EXPERIMENT.quick, "steps": 1000, "speed_steps": 0})
    rows: dict = {}
    for unit in units(cfg):
        for name, table in run_unit(cfg, unit, MemoryCheckpoint(10**9), no_progress).items():
            rows.setdefault(name, []).extend(table)
    unigram = rows["results"][0]["unigram_bpc"]
    assert 4.0 < unigram < 5.0  # Python source: about 4.5 bits per character
    for r in rows["results"]:
        assert r["heldout_bpc"] < unigram - 0.3, r["cell"]
        first = next(c for c in rows["curves"] if c["cell"] == r["cell"])
        assert first["heldout_bpc"] > r["heldout_bpc"]  # it fell during training
    assert judge(cfg, rows).reproduced
    assert len(rows["samples"]) == 3 * len(cfg.temperatures)
    from handgrad.experiments.plots_recurrent import char_rnn_loss_figure

    fig = char_rnn_loss_figure(cfg, rows)
    (ax,) = fig.axes
    labels = [ln.get_label() for ln in ax.get_lines()]
    assert labels == [
        *(f"{c} {k}" for c in CELLS for k in ("train", "held-out")),
        "unigram entropy",
    ]
    held = ax.get_lines()[1]
    assert list(held.get_ydata()) == [
        c["heldout_bpc"] for c in rows["curves"] if c["cell"] == "rnn"
    ]
