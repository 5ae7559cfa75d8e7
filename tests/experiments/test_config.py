"""A run's config from defaults, --quick, --set key=value and --seed: parsing and validation."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from handgrad.experiments.config import (
    config_from_dict,
    config_to_dict,
    parse_overrides,
    parse_value,
    resolve_config,
)
from handgrad.experiments.repeated_words import RepeatedWordsConfig
from handgrad.experiments.vanishing_gradients import VanishingGradientsConfig


@dataclass(frozen=True)
class Toy:
    steps: int = 3
    lr: float = 0.5
    name: str = "a"
    flag: bool = False
    lags: tuple[int, ...] = (1, 2)
    rates: tuple[float, ...] = (0.1,)
    cells: tuple[str, ...] = ("x",)
    seed: int = 0


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        ("steps", "12", 12),
        ("steps", " -4 ", -4),
        ("lr", "1e-3", 0.001),
        ("lr", "2", 2.0),
        ("name", "tanh-0.9", "tanh-0.9"),
        ("flag", "true", True),
        ("flag", "No", False),
        ("flag", "1", True),
        ("lags", "2,5, 10", (2, 5, 10)),
        ("lags", "7", (7,)),
        ("lags", "", ()),
        ("rates", "0.5,1e-2", (0.5, 0.01)),
        ("cells", "RNN,LSTM", ("RNN", "LSTM")),
    ],
)
def test_values_parse_by_field_type(key, text, expected):
    parsed = parse_overrides(Toy, [f"{key}={text}"])
    assert parsed == {key: expected}
    assert type(parsed[key]) is type(expected)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("steps=abc", "steps must be an integer; got 'abc'"),
        ("steps=1.5", "steps must be an integer; got '1.5'"),
        ("lr=fast", "lr must be a number; got 'fast'"),
        ("flag=maybe", "flag must be true or false; got 'maybe'"),
        ("lags=2,x", "lags must be an integer; got 'x' (a comma-separated list such as 1,2,3)"),
        ("steps", "--set expects key=value; got 'steps'"),
        ("=3", "--set expects key=value; got '=3'"),
    ],
)
def test_bad_values_name_their_key(item, message):
    with pytest.raises(ValueError) as info:
        parse_overrides(Toy, [item])
    assert str(info.value) == message


def test_unknown_key_is_named_with_the_valid_keys():
    with pytest.raises(ValueError) as info:
        parse_overrides(Toy, ["stepz=3"])
    assert str(info.value) == (
        "--set: unknown key 'stepz'; valid keys: cells, flag, lags, lr, name, rates, seed, steps"
    )


def test_a_key_given_twice_is_refused():
    with pytest.raises(ValueError, match="key 'steps' is given twice"):
        parse_overrides(Toy, ["steps=1", "steps=2"])


def test_a_type_that_cannot_be_written_is_refused():
    with pytest.raises(ValueError, match="x cannot be set as key=value"):
        parse_value(dict[str, int], "1", "x")


def test_later_sources_win_defaults_quick_set_seed():
    quick = {"steps": 10, "lags": (5, 20)}
    cfg = resolve_config(RepeatedWordsConfig, quick_overrides=quick, overrides=["steps=7"])
    assert (cfg.steps, cfg.lags, cfg.seed, cfg.hidden_size) == (7, (5, 20), 0, 16)
    cfg = resolve_config(RepeatedWordsConfig, overrides=["seed=3"], seed=9)
    assert cfg.seed == 9 and cfg.steps == RepeatedWordsConfig().steps
    assert resolve_config(RepeatedWordsConfig) == RepeatedWordsConfig()
    # a mapping of values is taken as it is
    assert resolve_config(RepeatedWordsConfig, overrides={"steps": 5}).steps == 5


@pytest.mark.parametrize(
    ("items", "error", "message"),
    [
        (["steps=0"], ValueError, "steps must be a positive integer; got 0"),
        (["lr=nan"], ValueError, "lr must be a finite number; got nan"),
        (["lr=inf"], ValueError, "lr must be a finite number; got inf"),
        (["gate_bias=-inf"], ValueError, "gate_bias must be a finite number"),
        (["lags=0,3"], ValueError, "lags[0] must be a positive integer; got 0"),
        (["cells=RNN,TCN"], ValueError, "cells[1] must be one of"),
        (["lags="], ValueError, "lags must hold at least one lag"),
    ],
)
def test_the_config_validates_what_set_gives(items, error, message):
    with pytest.raises(error) as info:
        resolve_config(RepeatedWordsConfig, overrides=items)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["models=tanh-0.9,lstm"], "models[1] must be tanh-R"),
        (["models=tanh-0"], "models[0]: cannot read the number in 'tanh-0'"),
        (["models=gru,gru"], "models must be distinct"),
        (["max_lag=1"], "max_lag must be at least 2; got 1"),
        (["train_length=1"], "train_length must be at least 2; got 1"),
        (["task=copying"], "task must be one of 'repeated-words', 'adding'; got 'copying'"),
        (["seeds=0"], "seeds must be a positive integer; got 0"),
        (["max_grad_norm=-1"], "max_grad_norm must be in [0.0, inf); got -1.0"),
        (["lr=0"], "lr must be in (0.0, inf); got 0.0"),
        (
            ["task=adding", "train_length=5"],
            "task 'adding' needs train_length and max_lag of at least 11",
        ),
    ],
)
def test_vanishing_gradients_config_names_the_bad_key(items, message):
    with pytest.raises(ValueError) as info:
        resolve_config(VanishingGradientsConfig, overrides=items)
    assert message in str(info.value)


def test_config_round_trips_through_a_dict():
    cfg = RepeatedWordsConfig(lags=(3, 4), cells=("GRU",), lr=0.02)
    data = config_to_dict(cfg)
    assert data["lags"] == [3, 4] and data["cells"] == ["GRU"] and data["lr"] == 0.02
    assert config_from_dict(RepeatedWordsConfig, data) == cfg
    with pytest.raises(ValueError, match="unknown key 'bogus'"):
        config_from_dict(RepeatedWordsConfig, {**data, "bogus": 1})
    with pytest.raises(TypeError, match="config must be a dataclass instance"):
        config_to_dict({"steps": 1})
