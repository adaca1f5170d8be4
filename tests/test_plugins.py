"""Plug-ins (arlearn.plugins): a user's task and model class, found by `arlearn --plugin`,
ARLEARN_PLUGINS or an entry point, get everything the built-ins get — list, show-task, train,
eval, sweep, report — and a run records the plug-in it needs. In-process, with the example
package tests/plugin_example on sys.path (tests/test_plugin_install.py installs it)."""

import json
import os
import sys
from pathlib import Path

import pytest

from arlearn import plugins
from arlearn.cli import main
from arlearn.config import resolve
from arlearn.errors import ArlearnError
from arlearn.tasks import TASKS

EXAMPLE = Path(__file__).parent / "plugin_example"
TINY = ["--set", "train.threads=1", "--set", "train.warmup=5", "--set", "train.batch_size=32",
        "--set", "train.train_examples=256", "--set", "eval.examples=40", "--set", "task.n=6", "--no-progress"]


@pytest.fixture
def example(monkeypatch):
    """The example plug-in importable (not yet imported); afterwards its task and model class,
    its modules and the loader's memory of them are gone again."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.setenv(plugins.ENV, "")  # records the variable's state before, restored after
    loaded = set(plugins._loaded)
    yield
    forget_plugin()
    plugins._loaded.clear()
    plugins._loaded.update(loaded)


def forget_plugin() -> None:
    """As a fresh process would be: the example neither imported nor registered nor named."""
    os.environ[plugins.ENV] = ""
    TASKS.pop("majority", None)
    plugins.MODEL_CLASSES.pop("bag", None)
    for m in [m for m in sys.modules if m.split(".")[0] == "arlearn_majority"]:
        del sys.modules[m]
    plugins._loaded.discard("arlearn_majority")


def out_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_without_the_plugin_the_task_is_unknown(example):
    from arlearn.tasks import make_task

    with pytest.raises(ArlearnError, match=r"unknown task 'majority'.*; known: .*; a plug-in's task is known once its "
                                           r"module is loaded \(`arlearn --plugin MODULE`, ARLEARN_PLUGINS=MODULE"):
        make_task("majority")
    with pytest.raises(ArlearnError, match=r"unknown model 'bag'.*; known: .*; a plug-in's model class is known once"):
        plugins.model_class("bag")


def test_a_plugin_named_by_its_file_says_to_name_the_module(example, capsys):
    for given in ("arlearn_majority.py", "./arlearn_majority.py", str(EXAMPLE / "arlearn_majority.py")):
        assert main(["--plugin", given, "list"]) == 2
        assert capsys.readouterr().err.strip() == (
            f"arlearn: error: plug-in {given!r} is a file: name its module instead, 'arlearn_majority' (found in the "
            "current directory or on PYTHONPATH)")
    assert os.environ[plugins.ENV] == ""  # a name that failed to load is not kept for later loads
    assert main(["--plugin", "arlearn_majority", "list"]) == 0  # the module name works


def test_a_plugin_that_failed_to_load_does_not_block_the_next(example):
    with pytest.raises(ArlearnError, match="plug-in module 'arlearn_majorty' not found"):
        plugins.add(["arlearn_majorty"])
    plugins.add(["arlearn_majority"])  # the misspelt name is not tried again
    assert "majority" in TASKS and plugins.env_modules() == ["arlearn_majority"]


def test_generate_warns_of_a_prompt_without_the_tasks_framing(example):
    from arlearn.cli.generate import unlike_prompts
    from arlearn.tasks import make_task

    plugins.add(["arlearn_majority"])
    task = make_task("majority", {"n": 6})
    assert unlike_prompts(task, ("<bos>", "1", "0", "1", "1", "0", "1", "=")) is None
    said = unlike_prompts(task, ("1", "0", "1", "1", "0", "1"))  # the bits alone: no <bos>, no =
    assert said.startswith("the task's prompts start with '<bos>', end with '=' and have 8 tokens (e.g. '<bos> ")
    assert said.endswith("this one, '1 0 1 1 0 1', does not, and is continued as given")
    assert unlike_prompts(task, ("<bos>", "1", "0", "=")) .startswith("the task's prompts have 8 tokens")
    # a built-in's parse_prompt writes the framing itself
    mult = make_task("multiplication", {"n": 2, "m": 2})
    assert unlike_prompts(mult, mult.parse_prompt("12 x 34")) is None


def test_list_and_show_task_see_a_plugin(example, capsys):
    assert main(["--plugin", "arlearn_majority", "list", "--json"]) == 0
    listed = out_json(capsys)
    assert listed["tasks"]["majority"] == {"version": 1, "cot_formats": ["none", "chunked", "running"],
                                           "plugin": "arlearn_majority"}
    assert listed["model_classes"]["bag"]["plugin"] == "arlearn_majority"
    assert listed["model_classes"]["bag"]["options"] == ["d", "hidden", "context"]
    assert listed["model_classes"]["linear"]["plugin"] is None and "bag" in listed["models"]
    assert main(["--plugin", "arlearn_majority", "show-task", "majority", "n=4", "cot=running", "-n", "2",
                 "--json"]) == 0
    shown = out_json(capsys)
    for ex in shown["examples"]:
        bits = [int(b) for b in ex["prompt"].split()[1:-1]]
        assert ex["cot"].split() == [f"c{sum(bits[:j])}" for j in range(1, 4)]
        assert ex["answer"] == str(int(2 * sum(bits) > 4))


def test_the_environment_variable_loads_it(example, monkeypatch, capsys):
    monkeypatch.setenv(plugins.ENV, "arlearn_majority")
    assert main(["list", "--json"]) == 0
    assert "majority" in out_json(capsys)["tasks"]


def test_a_missing_plugin_is_one_line(example, capsys):
    assert main(["--plugin", "no_such_plugin_module", "list"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("arlearn: error: plug-in module 'no_such_plugin_module' not found (install it, or put it on "
                   "PYTHONPATH or in the current directory)")


def test_a_plugin_model_has_its_own_validated_options(example):
    plugins.add(["arlearn_majority"])
    cfg = resolve("quick", None, ["task.name=majority", "model.name=bag", "model.hidden=16"])
    # quick's [model] options of the built-ins (d, hidden) that bag also has are kept; others dropped
    assert type(cfg.model).__name__ == "BagConfig" and cfg.model.hidden == 16 and cfg.model.d == 16
    with pytest.raises(ArlearnError, match=r"^model: unknown option 'chunk'"):
        resolve(None, None, ["task.name=majority", "model.name=bag", "model.chunk=4"])
    with pytest.raises(ArlearnError, match=r"^model 'bag': d must be ≥ 1, got 0$"):
        resolve(None, None, ["task.name=majority", "model.name=bag", "model.d=0"])
    with pytest.raises(ArlearnError, match=r"unknown model 'bagg' \(did you mean 'bag'\?\)"):
        resolve(None, None, ["task.name=majority", "model.name=bagg"])


def test_train_eval_report_and_a_missing_plugin(example, tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    assert main(["--plugin", "arlearn_majority", "train", "--task", "majority", "--model", "bag", "--steps", "60",
                 "-o", str(run), *TINY]) == 0
    res = out_json(capsys)
    assert res["model"] == "bag" and 0.0 <= res["exact_match"] <= 1.0 and res["steps"] == 60
    used = json.loads((run / "plugins.json").read_text())
    assert used["task"] == {"name": "majority", "module": "arlearn_majority", "distribution": None,
                            "version": "0.1.0"}
    assert used["model"]["name"] == "bag"
    # eval needs no --plugin: the run names its module, which is importable (a fresh process, as it were)
    forget_plugin()
    assert main(["eval", str(run), "--examples", "20"]) == 0
    assert out_json(capsys)["n"] >= 1
    assert main(["report", str(run), "-o", str(tmp_path / "r.html")]) == 0
    assert "majority" in (tmp_path / "r.md").read_text()
    # the plug-in gone: one line naming it
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(EXAMPLE)])
    forget_plugin()
    monkeypatch.chdir(tmp_path)
    assert main(["eval", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"arlearn: error: run {run} needs the plug-in arlearn_majority 0.1.0 (module 'arlearn_majority', "
                   "for its task 'majority'), which is not installed here: install it, or put its module on "
                   "PYTHONPATH"]


@pytest.mark.slow
def test_a_length_sweep_over_a_plugin_task_and_model(example, tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["--plugin", "arlearn_majority", "sweep", "length", "--task", "majority", "--models", "bag,linear",
                 "--cot", "none,running", "--steps", "30", "--executor", "serial", "-o", str(out), *TINY]) == 0
    rep = json.loads((out / "sweep.json").read_text())
    assert rep["cells_done"] == 4 and set(rep["length_complexity"]) == {"bag", "linear"}
    assert {c["cot_length"] for c in rep["cells"]} == {0, 5}


def test_registering_says_what_is_missing_in_one_line():
    from dataclasses import dataclass

    from arlearn.tasks import Task, register_task

    class NotADataclass(Task):
        pass

    with pytest.raises(ArlearnError, match="needs a Task or StreamTask subclass that is a dataclass"):
        register_task("broken")(NotADataclass)
    assert "broken" not in TASKS

    @dataclass
    class NoName:
        d: int = 1

    with pytest.raises(ArlearnError, match=r"model class 'nameless': its config must be a dataclass with a `name"):
        plugins.register_model("nameless", NoName, lambda cfg, V, T: None)
    assert "nameless" not in plugins.MODEL_CLASSES
