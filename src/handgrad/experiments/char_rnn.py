r"""A character-level language model in min-char-rnn's minimal setting: tanh RNN vs LSTM vs GRU.

The setting (Karpathy's min-char-rnn, 2015)
-------------------------------------------
One stream of characters; a single-layer vanilla tanh RNN with H = 100 hidden units reads one-hot
characters and predicts the next one (softmax over the vocabulary); the summed cross-entropy of
25 consecutive predictions is back-propagated 25 steps (truncated BPTT, k1 = k2 = 25), every
gradient element is clipped to [-5, 5] and Adagrad (learning rate 0.1) updates the weights; the
hidden state is carried from one chunk of 25 characters to the next and reset to zero at the
start of each pass over the text. The LSTM and the GRU are trained the same way, with the same
H. Everything goes through :class:`handgrad.nn.LanguageModel` and
:func:`handgrad.nn.bptt.truncated_bptt`.

The text
--------
``text`` names a UTF-8 text file. Empty (the default), it is the Python standard library's own
source: every ``*.py`` file under ``sysconfig.get_paths()["stdlib"]``, outside the directories
``site-packages``, ``dist-packages``, ``test``, ``tests``, ``idle_test`` and ``__pycache__``,
read in the order of their relative paths (sorted as strings), decoded as UTF-8 (an invalid
byte becomes U+FFFD) and concatenated, until ``max_chars`` characters (the last file is cut).
It is on every machine that runs Python, so nothing is downloaded; its content depends on the
Python version, which the results record with the number of files and characters used. The
vocabulary is the set of characters of the text used, sorted by code point. The last
``heldout_fraction`` of the text is held out: never trained on, evaluated every ``eval_every``
steps.

Measures
--------
* Bits per character: the cross-entropy in nats / ln 2. Training: the mean over the chunks since
  the previous curve point (each chunk's loss taken before its update). Held-out: over the
  first ``eval_chars`` held-out characters, cut into ``eval_streams`` streams read in parallel
  from the zero state (the first characters of a stream are predicted from less context).
* The unigram entropy of the text, :math:`-\sum_c p_c \log_2 p_c` with :math:`p_c` the
  frequency of character c in the text used: the loss of the best model that ignores context.
  Also reported: the held-out cross-entropy of the training text's character frequencies
  (add-one smoothed over the vocabulary).
* Samples: ``sample_length`` characters after ``sample_prefix`` at each temperature, drawn by
  :meth:`handgrad.nn.LanguageModel.sample`.
* Speed (the ``{"kind": "speed"}`` unit, when ``speed_steps`` > 0): training characters per
  second of handgrad's loop, of min-char-rnn's own per-step loop in plain NumPy (vanilla RNN
  only) and of PyTorch's (when installed), each on one thread in the classic setting
  (:mod:`handgrad.experiments.char_speed`). These rows are timings: unlike every other row
  they differ from one run to the next.

Differences from min-char-rnn
-----------------------------
Weights start as PyTorch's (uniform in :math:`\pm 1/\sqrt{H}`) rather than Gaussian with standard
deviation 0.01; the RNN has two bias vectors (PyTorch's ``bias_ih`` and ``bias_hh``) where
min-char-rnn has one; Adagrad divides by :math:`\sqrt{s} + 10^{-10}` (PyTorch's) rather than
:math:`\sqrt{s + 10^{-8}}`; and a held-out part of the text is kept aside.

Randomness
----------
Training reads the text in order, so only the initial weights and the samples are random: run r
of cell k starts from ``default_rng([seed, 1, r, k])`` and draws its sample at temperature j from
``default_rng([seed, 3, r, k, j])`` (k the index in :data:`CELLS`).
"""

from __future__ import annotations

import math
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from handgrad._checks import check_choice, check_positive_int, check_real
from handgrad.experiments.base import (
    Checkpoint,
    Experiment,
    Progress,
    Rows,
    Verdict,
    load_optimizer_state,
    optimizer_state,
)
from handgrad.experiments.char_speed import (
    one_torch_thread,
    tokens_per_second,
    torch_available,
    trainer,
)

__all__ = [
    "CELLS",
    "EXPERIMENT",
    "CharRNNConfig",
    "Corpus",
    "encode",
    "heldout_bits",
    "judge",
    "load_corpus",
    "run_unit",
    "stdlib_files",
    "unigram_bits",
    "unigram_cross_bits",
    "units",
]

CELLS = ("rnn", "lstm", "gru")
EXCLUDED_DIRS = frozenset(  # folders of the standard library not read: packages, tests
    {"site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__"}
)
MIN_CHARS = 100  # a text shorter than this cannot give both a training and a held-out part


# -- the text ---------------------------------------------------------------------------------
def stdlib_files() -> tuple[Path, list[str]]:
    """The standard library's directory and its ``*.py`` files (see the module docstring), as
    POSIX paths relative to it, sorted."""
    import os

    root = Path(sysconfig.get_paths()["stdlib"])
    files = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in EXCLUDED_DIRS]  # not walked into at all
        rel = Path(folder).relative_to(root)
        files += [(rel / n).as_posix() for n in names if n.endswith(".py")]
    return root, sorted(files)


@dataclass(frozen=True)
class Corpus:
    """A text and where it came from.

    Attributes
    ----------
    text : str
        The characters used (at most ``max_chars``).
    source : str
        ``"python-stdlib-X.Y.Z"`` for the default corpus, else the file's name.
    files : int
        Files read (1 for a given file).
    """

    text: str
    source: str
    files: int


def load_corpus(text: str = "", max_chars: int = 1_000_000) -> Corpus:
    """The text of a run: the file ``text``, or the standard library's source when empty.

    Raises ``ValueError`` naming ``text`` when the file cannot be read, is not UTF-8, or holds
    fewer than 100 characters (or when the standard library's source cannot be found).
    """
    import platform

    if not isinstance(text, str):
        raise TypeError(f"text must be a path (a string; empty: the default); got {text!r}")
    cap = check_positive_int(max_chars, "max_chars")
    if text:
        path = Path(text)
        try:
            with path.open(encoding="utf-8") as f:
                body = f.read(cap)
        except FileNotFoundError:
            raise ValueError(f"text: no such file {text!r}") from None
        except IsADirectoryError:
            raise ValueError(f"text: {text!r} is a folder; give a text file") from None
        except UnicodeDecodeError as exc:
            raise ValueError(f"text: {text!r} is not UTF-8 text ({exc.reason})") from None
        except OSError as exc:
            raise ValueError(f"text: cannot read {text!r} ({exc.strerror or exc})") from None
        corpus = Corpus(body, path.name, 1)
    else:
        root, names = stdlib_files()
        parts: list[str] = []
        count = 0
        for name in names:
            if count >= cap:
                break
            body = (root / name).read_bytes().decode("utf-8", errors="replace")
            parts.append(body[: cap - count])
            count += len(parts[-1])
        if not parts:
            raise ValueError(
                "text: the default text (the Python standard library's source) was not found; "
                "give a text file with --text FILE"
            )
        corpus = Corpus("".join(parts), f"python-stdlib-{platform.python_version()}", len(parts))
    if len(corpus.text) < MIN_CHARS:
        raise ValueError(
            f"text: {text or 'the default text'!r} holds {len(corpus.text)} characters; at least "
            f"{MIN_CHARS} are needed"
        )
    return corpus


def encode(text: str) -> tuple[str, NDArray[np.int64]]:
    """The vocabulary (the text's distinct characters, by code point) and the text's ids (n,)."""
    points = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")  # (n,) code points
    unique, ids = np.unique(points, return_inverse=True)
    return "".join(map(chr, unique.tolist())), ids.astype(np.int64)


def unigram_bits(ids: NDArray[np.int64], vocab_size: int) -> float:
    r"""Entropy in bits of the ids' frequencies: :math:`-\sum_c p_c \log_2 p_c`."""
    p = np.bincount(ids, minlength=vocab_size) / len(ids)  # (V,)
    p = p[p > 0]
    return float(-np.sum(p * np.log2(p)))


def unigram_cross_bits(train: NDArray[np.int64], test: NDArray[np.int64], vocab_size: int) -> float:
    """Bits per character of ``test`` under ``train``'s add-one smoothed frequencies."""
    q = (np.bincount(train, minlength=vocab_size) + 1.0) / (len(train) + vocab_size)  # (V,)
    return float(-np.mean(np.log2(q[test])))


# -- the config -------------------------------------------------------------------------------
@dataclass(frozen=True)
class CharRNNConfig:
    """Everything a run depends on; the defaults are the full run."""

    # the text
    text: str = ""  # a UTF-8 text file; "" = the Python standard library's source
    max_chars: int = 1_000_000  # use at most this many characters, from the text's start
    heldout_fraction: float = 0.1  # the last part of the text, never trained on (0 < f < 1)
    # the models
    cells: tuple[str, ...] = CELLS  # any of "rnn" (tanh), "lstm", "gru"
    hidden_size: int = 100  # H (min-char-rnn: 100)
    # training (min-char-rnn's)
    seq_length: int = 25  # characters per chunk: k1 = k2 of truncated BPTT
    lr: float = 0.1  # Adagrad's learning rate
    clip: float = 5.0  # every gradient element is clipped to [-clip, clip]
    steps: int = 50_000  # chunks (updates) per model: 1.25 million characters
    # evaluation
    eval_every: int = 2000  # steps between curve points (held-out evaluations)
    eval_chars: int = 50_000  # held-out characters evaluated, at most
    eval_streams: int = 100  # the held-out characters are read as this many parallel streams
    sample_length: int = 300  # characters drawn after the prefix, per temperature
    sample_prefix: str = "def "  # every character must be in the text
    temperatures: tuple[float, ...] = (0.5, 0.8, 1.0)
    speed_steps: int = 400  # chunks timed per implementation for tokens/s (0: no speed unit)
    repeats: int = 2  # runs per cell (different initial weights)
    seed: int = 0  # the root of every random draw (see the module docstring)

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise TypeError(
                f"text must be a path (a string; empty: the default); got {self.text!r}"
            )
        check_positive_int(self.max_chars, "max_chars")
        if self.text:
            load_corpus(self.text, self.max_chars)  # a bad file fails here, naming "text"
        check_real(self.heldout_fraction, "heldout_fraction", 0.0, 1.0, low_inclusive=False)
        if self.heldout_fraction >= 1.0:
            raise ValueError(f"heldout_fraction must be below 1; got {self.heldout_fraction}")
        cells = (self.cells,) if isinstance(self.cells, str) else self.cells
        if not isinstance(cells, tuple | list):
            raise TypeError(f"cells must be a sequence of cell names; got {self.cells!r}")
        cells = tuple(cells)
        if not cells:
            raise ValueError(f"cells must name at least one of {CELLS}; got none")
        for i, cell in enumerate(cells):
            check_choice(cell, f"cells[{i}]", CELLS)
        if len(set(cells)) != len(cells):
            raise ValueError(f"cells must be distinct; got {cells}")
        object.__setattr__(self, "cells", cells)
        check_positive_int(self.hidden_size, "hidden_size")
        check_positive_int(self.seq_length, "seq_length")
        check_real(self.lr, "lr", 0.0, None, low_inclusive=False)
        check_real(self.clip, "clip", 0.0, None, low_inclusive=False)
        check_positive_int(self.steps, "steps")
        check_positive_int(self.eval_every, "eval_every")
        check_positive_int(self.eval_chars, "eval_chars")
        check_positive_int(self.eval_streams, "eval_streams")
        check_positive_int(self.sample_length, "sample_length", allow_zero=True)
        if not isinstance(self.sample_prefix, str) or not self.sample_prefix:
            raise ValueError(
                f"sample_prefix must be a non-empty string; got {self.sample_prefix!r}"
            )
        temps = self.temperatures
        if isinstance(temps, str) or not isinstance(temps, Sequence):
            raise TypeError(f"temperatures must be a sequence of numbers; got {temps!r}")
        temps = tuple(temps)
        for i, t in enumerate(temps):
            check_real(t, f"temperatures[{i}]", 0.0, None, low_inclusive=False)
        object.__setattr__(self, "temperatures", temps)
        check_positive_int(self.speed_steps, "speed_steps", allow_zero=True)
        check_positive_int(self.repeats, "repeats")
        check_positive_int(self.seed, "seed", allow_zero=True)


@dataclass(frozen=True)
class _Data:
    """The encoded text of a run, split."""

    corpus: Corpus
    vocab: str
    train: NDArray[np.int64]  # (n_train,)
    heldout: NDArray[np.int64]  # (n_heldout,)
    unigram_bpc: float
    unigram_heldout_bpc: float


def _data(config: CharRNNConfig) -> _Data:
    corpus = load_corpus(config.text, config.max_chars)
    vocab, ids = encode(corpus.text)
    n = len(ids)
    n_held = min(max(2, round(config.heldout_fraction * n)), n - config.seq_length - 2)
    if n_held < 2:
        raise ValueError(
            f"text: {n} characters leave no held-out part with seq_length {config.seq_length}; "
            "give a longer text or a shorter seq_length"
        )
    train, heldout = ids[: n - n_held], ids[n - n_held :]
    V = len(vocab)
    return _Data(
        corpus, vocab, train, heldout, unigram_bits(ids, V), unigram_cross_bits(train, heldout, V)
    )


# -- training and evaluation ------------------------------------------------------------------
def _model(config: CharRNNConfig, cell: str, run: int, vocab_size: int) -> Any:
    from handgrad.nn import LanguageModel

    rng = np.random.default_rng([config.seed, 1, run, CELLS.index(cell)])
    return LanguageModel(vocab_size, config.hidden_size, cell=cell, rng=rng)


def heldout_bits(model: Any, ids: NDArray[np.int64], max_chars: int, streams: int) -> float:
    """Bits per character of ``model`` on ``ids[:max_chars]``, read as ``streams`` parallel
    streams from the zero state (each predicting the next character of its own part)."""
    from handgrad.losses import softmax_cross_entropy

    n = min(len(ids), max_chars)
    S = max(1, min(streams, (n - 1) // 2))
    T = (n - 1) // S  # steps per stream
    starts = np.arange(S) * T  # (S,)
    steps = np.arange(T)[:, None]  # (T, 1)
    x = ids[starts[None, :] + steps]  # (T, S) inputs
    y = ids[starts[None, :] + steps + 1]  # (T, S) the characters to predict
    logits, _ = model(x)  # (T, S, V)
    loss = softmax_cross_entropy(logits.reshape(T * S, -1), y.reshape(-1), "mean")
    return float(loss) / math.log(2.0)


def units(config: CharRNNConfig) -> list[dict[str, Any]]:
    """One unit per (run, cell), ``{"kind": "train", "cell": c, "run": r}``, then (when
    ``speed_steps`` > 0) one ``{"kind": "speed"}``."""
    out: list[dict[str, Any]] = [
        {"kind": "train", "cell": c, "run": r} for r in range(config.repeats) for c in config.cells
    ]
    if config.speed_steps:
        out.append({"kind": "speed"})
    return out


def run_unit(
    config: CharRNNConfig, unit: dict[str, Any], checkpoint: Checkpoint, progress: Progress
) -> Rows:
    """Train one cell (or time the implementations, for the speed unit).

    A training unit saves its state through ``checkpoint`` every ``checkpoint.every`` steps and,
    when ``checkpoint.load()`` returns one, continues from it to the same rows, bit for bit.

    Returns
    -------
    Rows
        ``"results"`` (one row: final bits per character, the unigram entropy, the text),
        ``"curves"`` (training and held-out bits per character every ``eval_every`` steps) and
        ``"samples"`` (one row per temperature); the speed unit returns ``"speed"`` only (and an
        empty ``"results"``).
    """
    if not isinstance(unit, dict) or unit.get("kind") not in ("train", "speed"):
        raise ValueError(f"unit must be a dict with kind 'train' or 'speed'; got {unit!r}")
    if unit["kind"] == "speed":
        return {"results": [], "speed": _speed_rows(config, _data(config), progress)}
    check_choice(unit.get("cell"), "unit['cell']", config.cells)
    run = check_positive_int(unit.get("run"), "unit['run']", allow_zero=True)
    if run >= config.repeats:
        raise ValueError(f"unit['run'] must be below repeats = {config.repeats}; got {run}")
    return _train(config, unit["cell"], run, _data(config), checkpoint, progress)


def _train(
    config: CharRNNConfig,
    cell: str,
    run: int,
    data: _Data,
    checkpoint: Checkpoint,
    progress: Progress,
) -> Rows:
    from handgrad.nn.bptt import truncated_bptt
    from handgrad.optim import Adagrad

    V, L = len(data.vocab), config.seq_length
    model = _model(config, cell, run, V)
    opt = Adagrad(model, lr=config.lr)
    train = data.train
    per_epoch = (len(train) - 1) // L  # chunks per pass over the training text
    step, state = 0, None  # updates done; the recurrent state carried into the next chunk
    loss_sum, loss_count = 0.0, 0  # chunk losses (summed over their L characters) since a point
    curve: list[dict[str, Any]] = []
    saved = checkpoint.load()
    if saved is not None:
        step, state = int(saved["step"]), saved["state"]
        model.load_state_dict(saved["params"])
        load_optimizer_state(opt, saved["optimizer"])
        loss_sum, loss_count = float(saved["loss_sum"]), int(saved["loss_count"])
        curve = [dict(r) for r in saved["curve"]]
    total, every = config.steps, max(1, checkpoint.every)
    progress(step, total)
    while step < total:
        pos = step % per_epoch  # chunk index within the pass
        if pos == 0:
            state = None  # a new pass starts from the zero state (min-char-rnn's reset)
        stop = min(
            total,
            (step // config.eval_every + 1) * config.eval_every,
            (step // every + 1) * every,
            step + per_epoch - pos,
        )
        lo, m = pos * L, stop - step
        result = truncated_bptt(
            model,
            train[lo : lo + m * L],
            train[lo + 1 : lo + m * L + 1],
            L,
            optimizer=opt,
            state=state,
            reduction="sum",
            clip_value=config.clip,
        )
        state = result.state
        for loss in result.losses:  # one at a time: the same sum however the steps were cut
            loss_sum += float(loss)
            loss_count += 1
        step = stop
        if step % config.eval_every == 0 or step == total:
            curve.append(
                {
                    "cell": cell,
                    "run": run,
                    "step": step,
                    "chars": step * L,
                    "train_bpc": loss_sum / (loss_count * L * math.log(2.0)),
                    "heldout_bpc": heldout_bits(
                        model, data.heldout, config.eval_chars, config.eval_streams
                    ),
                }
            )
            loss_sum, loss_count = 0.0, 0
        if step % every == 0 and step < total:
            checkpoint.save(
                {
                    "step": step,
                    "state": state,
                    "params": model.state_dict(),
                    "optimizer": optimizer_state(opt),
                    "loss_sum": loss_sum,
                    "loss_count": loss_count,
                    "curve": curve,
                }
            )
        progress(step, total)
    samples = _samples(config, model, data.vocab, cell, run)
    last = curve[-1]
    result_row = {
        "cell": cell,
        "run": run,
        "steps": total,
        "chars_trained": total * L,
        "passes": total / per_epoch,
        "train_bpc": last["train_bpc"],
        "heldout_bpc": last["heldout_bpc"],
        "unigram_bpc": data.unigram_bpc,
        "unigram_heldout_bpc": data.unigram_heldout_bpc,
        "vocab_size": V,
        "text": data.corpus.source,
        "text_files": data.corpus.files,
        "text_chars": len(data.corpus.text),
        "train_chars": len(train),
        "heldout_chars": len(data.heldout),
        "heldout_chars_evaluated": min(len(data.heldout), config.eval_chars),
    }
    return {"results": [result_row], "curves": curve, "samples": samples}


def _samples(
    config: CharRNNConfig, model: Any, vocab: str, cell: str, run: int
) -> list[dict[str, Any]]:
    index = {c: i for i, c in enumerate(vocab)}
    missing = sorted({c for c in config.sample_prefix if c not in index})
    if missing:
        raise ValueError(
            f"sample_prefix must use characters of the text; {missing!r} do not occur in it"
        )
    prefix = [index[c] for c in config.sample_prefix]
    rows = []
    for j, temperature in enumerate(config.temperatures):
        rng = np.random.default_rng([config.seed, 3, run, CELLS.index(cell), j])
        drawn = model.sample(prefix, config.sample_length, temperature, rng)
        rows.append(
            {
                "cell": cell,
                "run": run,
                "temperature": temperature,
                "prefix": config.sample_prefix,
                "sample": "".join(vocab[int(i)] for i in drawn),
            }
        )
    return rows


# -- speed -----------------------------------------------------------------------------------
def _speed_rows(config: CharRNNConfig, data: _Data, progress: Progress) -> list[dict[str, Any]]:
    """Tokens per second of each implementation and cell, each on one thread."""
    from threadpoolctl import threadpool_limits

    jobs = [("handgrad", c) for c in config.cells]
    if "rnn" in config.cells:
        jobs.append(("numpy", "rnn"))
    if torch_available():
        jobs += [("torch", c) for c in config.cells]
    rows = []
    progress(0, len(jobs))
    for k, (impl, cell) in enumerate(jobs):
        train = trainer(
            impl,
            cell,
            data.train,
            len(data.vocab),
            hidden_size=config.hidden_size,
            seq_length=config.seq_length,
            lr=config.lr,
            clip=config.clip,
            seed=config.seed,
        )
        with threadpool_limits(limits=1), one_torch_thread(impl == "torch"):
            rate = tokens_per_second(train, config.speed_steps, config.seq_length)
        rows.append(
            {
                "implementation": impl,
                "cell": cell,
                "tokens_per_second": rate,
                "chars_timed": config.speed_steps * config.seq_length,
                "threads": 1,
            }
        )
        progress(k + 1, len(jobs))
    return rows


# -- the verdict ------------------------------------------------------------------------------
def _speed_summary(rows: Rows) -> dict[str, Any]:
    rates = {
        (r["implementation"], r["cell"]): r["tokens_per_second"] for r in rows.get("speed", [])
    }
    out: dict[str, Any] = {f"{i}/{c}": v for (i, c), v in rates.items()}
    ours = rates.get(("handgrad", "rnn"))
    if ours is not None and ("numpy", "rnn") in rates:
        out["handgrad_over_numpy_rnn"] = ours / rates[("numpy", "rnn")]
    for cell in CELLS:
        if ("handgrad", cell) in rates and ("torch", cell) in rates:
            out[f"handgrad_over_torch_{cell}"] = rates[("handgrad", cell)] / rates[("torch", cell)]
    return out


def judge(config: CharRNNConfig, rows: Rows) -> Verdict:
    """Every run's final held-out bits per character below the text's unigram entropy."""
    results = rows["results"]
    unigram = results[0]["unigram_bpc"] if results else None
    per_cell: dict[str, Any] = {}
    for cell in config.cells:
        mine = sorted((r for r in results if r["cell"] == cell), key=lambda r: r["run"])
        held = [r["heldout_bpc"] for r in mine]
        per_cell[cell] = {
            "heldout_bpc": held,
            "train_bpc": [r["train_bpc"] for r in mine],
            "mean_heldout_bpc": float(np.mean(held)) if held else None,
        }
    ok = (
        unigram is not None
        and len(results) == config.repeats * len(config.cells)
        and all(np.isfinite(r["heldout_bpc"]) and r["heldout_bpc"] < unigram for r in results)
    )
    first = results[0] if results else {}
    measured: dict[str, Any] = {
        "unigram_bpc": unigram,
        "unigram_heldout_bpc": first.get("unigram_heldout_bpc"),
        "per_cell": per_cell,
        "text": first.get("text"),
        "text_files": first.get("text_files"),
        "text_chars": first.get("text_chars"),
        "vocab_size": first.get("vocab_size"),
        "chars_trained_per_run": config.steps * config.seq_length,
        "tokens_per_second": _speed_summary(rows),
    }
    rule = (
        "Reproduced when every run of every cell ends with held-out bits per character below the "
        "unigram entropy of the text (the loss of the best model that ignores context). Whether "
        "the LSTM and the GRU beat the RNN is reported, not judged."
    )
    notes = [
        f"Text: {first.get('text', '?')}, {first.get('text_files', '?')} file(s), "
        f"{first.get('text_chars', '?')} characters ({config.max_chars:,} at most), the last "
        f"{config.heldout_fraction:g} held out; vocabulary of {first.get('vocab_size', '?')} "
        "characters. The standard library's source differs between Python versions.",
        "Differences from min-char-rnn: PyTorch's initialisation (uniform in +-1/sqrt(H)) "
        "instead of N(0, 0.01^2); two bias vectors (bias_ih, bias_hh) instead of one; Adagrad "
        "divides by sqrt(sum) + 1e-10 (PyTorch's) instead of sqrt(sum + 1e-8); a held-out part "
        "of the text.",
        f"Held-out bits per character over the first {config.eval_chars:,} held-out characters, "
        f"read as {config.eval_streams} streams from the zero state; training bits per character "
        "are each chunk's loss before its update, averaged since the previous point.",
        "Tokens per second are wall-clock timings on one thread (handgrad, min-char-rnn's "
        "plain-NumPy loop, PyTorch when installed), float64, batch of one stream: unlike the "
        "other numbers they change from run to run.",
    ]
    return Verdict(measured=measured, reproduced=bool(ok), rule=rule, notes=tuple(notes))


def figures(config: CharRNNConfig, rows: Rows) -> dict[str, Any]:
    """``loss``: training and held-out bits per character against the characters trained on."""
    from handgrad.experiments.plots_recurrent import char_rnn_loss_figure

    return {"loss": char_rnn_loss_figure(config, rows)}


EXPERIMENT = Experiment(
    name="char-rnn",
    claim=(
        "A vanilla tanh RNN trained in min-char-rnn's minimal setting (H = 100, 25-step truncated "
        "BPTT, Adagrad with learning rate 0.1, gradients clipped to [-5, 5]) models a text better "
        "than its character frequencies do: its held-out loss falls below the text's unigram "
        "entropy; an LSTM and a GRU of the same size, trained the same way, do too."
    ),
    reference=(
        "Karpathy 2015, min-char-rnn.py and 'The Unreasonable Effectiveness of Recurrent Neural "
        "Networks'; Karpathy, Johnson & Fei-Fei 2015, 'Visualizing and Understanding Recurrent "
        "Networks' (character-level LSTM and GRU models of source code and prose)."
    ),
    config_type=CharRNNConfig,
    units=units,
    run_unit=run_unit,
    judge=judge,
    figures=figures,
    quick={
        "max_chars": 200_000,
        "steps": 3000,
        "eval_every": 500,
        "eval_chars": 10_000,
        "repeats": 1,
        "sample_length": 120,
        "speed_steps": 100,
    },
    quick_time="28 s",
    full_time="17 min, serially",
)
