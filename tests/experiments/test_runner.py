"""The runner: checkpoint files, the run folder and its files, resume, and where units run."""

from __future__ import annotations

import csv
import itertools
import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from handgrad.experiments.base import Experiment, Verdict
from handgrad.experiments.config import resolve_config
from handgrad.experiments.output import jsonable
from handgrad.experiments.registry import EXPERIMENTS, get_experiment
from handgrad.experiments.runner import (
    FileCheckpoint,
    default_out_dir,
    load_state,
    prepare_out_dir,
    run_experiment,
    save_state,
)


# -- a toy experiment: each unit is a random walk of `steps` steps, checkpointed ---------------
@dataclass(frozen=True)
class WalkConfig:
    walkers: int = 3
    steps: int = 12
    seed: int = 0

    def __post_init__(self) -> None:
        if self.walkers < 1:
            raise ValueError(f"walkers must be a positive integer; got {self.walkers}")


class Crash(RuntimeError):
    pass


CRASH_AT = {"step": -1}  # a unit raises Crash when it reaches this step (for the resume tests)


def walk_units(config):
    return [{"walker": i} for i in range(config.walkers)]


def walk_unit(config, unit, checkpoint, progress):
    i = unit["walker"]
    rng = np.random.default_rng([config.seed, i])
    position, path, start = 0.0, [], 0
    state = checkpoint.load()
    if state is not None:
        rng.bit_generator.state = state["rng"]
        position, path, start = state["position"], list(state["path"]), state["step"]
    for k in range(start, config.steps):
        if k == CRASH_AT["step"]:
            raise Crash(f"unit {i} stops at step {k}")
        position += float(rng.standard_normal())
        path.append(position)
        if (k + 1) % checkpoint.every == 0:
            state = {"rng": rng.bit_generator.state, "position": position, "path": path}
            checkpoint.save({**state, "step": k + 1})
        progress(k + 1, config.steps)
    rows = [{"walker": i, "step": k + 1, "position": p} for k, p in enumerate(path)]
    return {"results": rows, "ends": [{"walker": i, "end": position}]}


def walk_judge(config, rows):
    ends = [r["end"] for r in rows["ends"]]
    return Verdict(
        measured={"mean_end": float(np.mean(ends)), "ends": ends},
        reproduced=bool(np.all(np.isfinite(ends))),
        rule="every end is finite",
        notes=("a toy",),
    )


def walk_figures(config, rows):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 2))
    ax = fig.subplots()
    ax.plot([r["position"] for r in rows["results"]])
    return {"walk": fig}


WALK = Experiment(
    name="walk",
    claim="random walks end somewhere finite",
    reference="Pearson 1905",
    config_type=WalkConfig,
    units=walk_units,
    run_unit=walk_unit,
    judge=walk_judge,
    figures=walk_figures,
    quick={"steps": 4},
)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# -- checkpoint files -----------------------------------------------------------------------
def test_state_round_trips_exactly(tmp_path):
    rng = np.random.default_rng(123)
    rng.standard_normal(7)
    state = {
        "step": 40,
        "params": [np.arange(6.0).reshape(2, 3), np.array([1.5], dtype=np.float32)],
        "rng": rng.bit_generator.state,  # holds integers far beyond 64 bits
        "optimizer": {"step_count": 3, "state": [{"step": 3, "exp_avg": np.ones(2)}]},
        "rows": [{"cell": "LSTM", "x": 0.1 + 0.2, "ok": True, "none": None}],
        "pair": (1, 2.5),
        "tiny": 5e-324,
        "big": np.float64(1.7976931348623157e308),
        "nan": float("nan"),
    }
    path = tmp_path / "s.npz"
    save_state(path, state)
    back = load_state(path)
    assert back["step"] == 40 and back["pair"] == (1, 2.5) and back["tiny"] == 5e-324
    assert back["big"] == 1.7976931348623157e308 and np.isnan(back["nan"])
    assert back["rows"] == [{"cell": "LSTM", "x": 0.30000000000000004, "ok": True, "none": None}]
    assert back["params"][0].tobytes() == state["params"][0].tobytes()
    assert back["params"][1].dtype == np.float32 and back["params"][1][0] == 1.5
    assert back["optimizer"]["state"][0]["exp_avg"].tolist() == [1.0, 1.0]
    # the restored generator continues the same stream
    other = np.random.default_rng()
    other.bit_generator.state = back["rng"]
    assert other.standard_normal(3).tolist() == rng.standard_normal(3).tolist()


def test_state_refuses_what_it_cannot_restore(tmp_path):
    with pytest.raises(TypeError, match=r"state\['f'\] must hold arrays"):
        save_state(tmp_path / "s.npz", {"f": object()})
    with pytest.raises(TypeError, match="keys must be strings"):
        save_state(tmp_path / "s.npz", {"d": {1: 2}})
    assert not (tmp_path / "s.npz").exists()


def test_file_checkpoint(tmp_path):
    cp = FileCheckpoint(tmp_path / "u.npz", 5)
    assert cp.every == 5 and cp.load() is None
    cp.save({"step": 5, "w": np.zeros(2)})
    cp.save({"step": 10, "w": np.ones(2)})  # replaces the previous one
    assert cp.load()["step"] == 10 and cp.load()["w"].tolist() == [1.0, 1.0]
    assert [p.name for p in tmp_path.iterdir()] == ["u.npz"]  # no temporary file left
    with pytest.raises(ValueError, match="checkpoint_every must be a positive integer; got 0"):
        FileCheckpoint(tmp_path / "v.npz", 0)


# -- the run folder ---------------------------------------------------------------------------
def test_default_out_dir():
    from datetime import datetime

    now = datetime(2026, 3, 4, 5, 6, 7)
    assert default_out_dir("walk", now) == Path("runs/walk-20260304-050607")


def test_run_writes_the_folder(tmp_path):
    out = tmp_path / "run"
    seen = []
    result = run_experiment(
        WALK, WalkConfig(), out, checkpoint_every=5, progress=lambda d, t: seen.append((d, t))
    )
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "checkpoints",
        "config.json",
        "ends.csv",
        "results.csv",
        "summary.json",
        "summary.md",
        "walk.png",
        "walk.svg",
    ]
    assert result.files == (
        "config.json",
        "results.csv",
        "ends.csv",
        "walk.png",
        "walk.svg",
        "summary.json",
        "summary.md",
    )
    # finished units keep their rows, not their training state
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        f"unit-000{i}.rows.json" for i in range(3)
    ]
    rows = read_csv(out / "results.csv")
    assert len(rows) == 3 * 12 and list(rows[0]) == ["walker", "step", "position"]
    # floats are written with repr: they read back to the same numbers
    positions = [float(r["position"]) for r in rows]
    assert positions == [r["position"] for r in result.rows["results"]]
    config = json.loads((out / "config.json").read_text())
    assert config["experiment"] == "walk" and config["seed"] == 0 and config["quick"] is False
    assert config["config"] == {"walkers": 3, "steps": 12, "seed": 0}
    assert set(config["versions"]) == {"handgrad", "numpy", "python"}
    assert config["versions"]["numpy"] == np.__version__
    summary = json.loads((out / "summary.json").read_text())
    for key in ("experiment", "claim", "measured", "reference", "reproduced", "rule"):
        assert key in summary
    assert summary["reproduced"] is True and summary["rule"] == "every end is finite"
    assert summary["measured"]["ends"] == [r["end"] for r in result.rows["ends"]]
    assert summary["run"]["units"] == 3 and summary["run"]["where"] == "serial"
    md = (out / "summary.md").read_text()
    assert "**Claim.** random walks end somewhere finite" in md
    assert "**Reference.** Pearson 1905" in md
    assert "**Reproduced: yes.** Rule: every end is finite" in md
    assert "- a toy" in md and "![walk](walk.png)" in md
    assert (out / "walk.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (out / "walk.svg").read_bytes()[:400]
    # progress: from 0 to 3 units, never backwards
    assert seen[0] == (0.0, 3) and seen[-1] == (3.0, 3)
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(seen))


def test_an_existing_folder_is_refused_unless_resumed(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="already exists; choose a new folder, or add --resume"):
        run_experiment(WALK, WalkConfig(), out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    with pytest.raises(ValueError, match="is a file"):
        prepare_out_dir(out / "keep.txt", WALK, WalkConfig(), option="--out")
    with pytest.raises(ValueError, match=r"--out: .* does not exist; there is no run to resume"):
        prepare_out_dir(tmp_path / "none", WALK, WalkConfig(), resume=True, option="--out")


def test_resume_refuses_another_config(tmp_path):
    out = tmp_path / "run"
    run_experiment(WALK, WalkConfig(steps=4), out)
    with pytest.raises(ValueError) as info:
        run_experiment(WALK, WalkConfig(steps=5, seed=1), out, resume=True)
    assert "another config (seed is 0 there, 1 here; steps is 4 there, 5 here)" in str(info.value)


def test_resume_after_a_crash_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    whole = run_experiment(WALK, WalkConfig(), tmp_path / "whole", checkpoint_every=5)
    out = tmp_path / "broken"
    monkeypatch.setitem(CRASH_AT, "step", 7)
    with pytest.raises(Crash):
        run_experiment(WALK, WalkConfig(), out, checkpoint_every=5)
    # the crashed unit left its checkpoint of step 5; nothing else was written
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["unit-0000.npz"]
    assert load_state(out / "checkpoints" / "unit-0000.npz")["step"] == 5
    assert not (out / "results.csv").exists()
    monkeypatch.setitem(CRASH_AT, "step", -1)
    again = run_experiment(WALK, WalkConfig(), out, checkpoint_every=5, resume=True)
    assert again.rows == whole.rows and again.resumed_units == 0
    assert (out / "results.csv").read_bytes() == (tmp_path / "whole" / "results.csv").read_bytes()
    assert (out / "ends.csv").read_bytes() == (tmp_path / "whole" / "ends.csv").read_bytes()
    # resuming a finished run runs nothing and writes the same tables
    third = run_experiment(WALK, WalkConfig(), out, resume=True)
    assert third.resumed_units == 3 and third.rows == whole.rows


def test_run_checks_its_arguments(tmp_path):
    with pytest.raises(TypeError, match="config must be a WalkConfig"):
        run_experiment(WALK, object(), tmp_path / "a")
    with pytest.raises(ValueError, match="jobs must be a positive integer; got 0"):
        run_experiment(WALK, WalkConfig(), tmp_path / "a", jobs=0)
    with pytest.raises(ValueError, match="dask_timeout must be in"):
        run_experiment(WALK, WalkConfig(), tmp_path / "a", dask_timeout=0)
    assert not (tmp_path / "a").exists()


def test_jsonable():
    value = {"a": np.float64(1.5), "b": [np.int64(2), np.bool_(True)], "c": float("nan")}
    value["d"] = (float("inf"), -np.inf, np.arange(2))
    assert jsonable(value) == {"a": 1.5, "b": [2, True], "c": "nan", "d": ["inf", "-inf", [0, 1]]}


def test_registry():
    assert {"vanishing-gradients", "repeated-words"} <= set(EXPERIMENTS)
    for name, experiment in EXPERIMENTS.items():
        assert experiment.name == name
        assert experiment.claim and experiment.reference
        resolve_config(experiment.config_type, quick_overrides=experiment.quick)  # valid
    with pytest.raises(ValueError, match="unknown experiment 'nope'; the experiments are: "):
        get_experiment("nope")


# -- where units run: serial, local processes, a Dask cluster ---------------------------------
SMALL = [
    "models=tanh-0.9,lstm-fb1",
    "seeds=2",
    "steps=3",
    "probe_size=2",
    "hidden_size=6",
    "max_lag=8",
    "train_length=4",
    "test_size=4",
]


def test_serial_processes_and_dask_give_identical_results(tmp_path):
    distributed = pytest.importorskip("distributed")
    experiment = EXPERIMENTS["vanishing-gradients"]
    config = resolve_config(experiment.config_type, overrides=SMALL)
    serial = run_experiment(experiment, config, tmp_path / "serial")
    local = run_experiment(experiment, config, tmp_path / "jobs", jobs=2)
    assert (serial.where, local.where) == ("serial", "processes (2)")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        on_dask = run_experiment(
            experiment, config, tmp_path / "dask", dask_scheduler=cluster.scheduler_address
        )
    assert on_dask.where.startswith("dask (tcp://")
    assert len(serial.rows["results"]) == 4 * 2 * 2 * 8
    for name in ("results.csv", "training.csv"):
        reference = (tmp_path / "serial" / name).read_bytes()
        assert (tmp_path / "jobs" / name).read_bytes() == reference
        assert (tmp_path / "dask" / name).read_bytes() == reference
    measured = json.loads((tmp_path / "serial" / "summary.json").read_text())["measured"]
    for other in ("jobs", "dask"):
        assert json.loads((tmp_path / other / "summary.json").read_text())["measured"] == measured


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_scheduler_that_does_not_answer_is_a_clear_error_in_time(tmp_path):
    pytest.importorskip("distributed")
    address = f"tcp://127.0.0.1:{_free_port()}"
    start = time.monotonic()
    with pytest.raises(ValueError) as info:
        run_experiment(WALK, WalkConfig(), tmp_path / "run", dask_scheduler=address, dask_timeout=1)
    assert time.monotonic() - start < 30
    assert str(info.value).startswith(f"no Dask scheduler answered at '{address}' within 1 s")
    assert not (tmp_path / "run").exists()  # refused before any work


def test_without_dask_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    import handgrad._dask as dask_module

    monkeypatch.setattr(dask_module, "dask_available", lambda: False)
    with pytest.raises(ValueError, match=r"needs Dask: pip install 'handgrad\[dask\]'"):
        run_experiment(WALK, WalkConfig(), tmp_path / "run", dask_scheduler="tcp://x:1")
