"""Run directories: everything a run leaves behind, written atomically, and the one loader
(`load_run`) every command uses to read a run back.

    config.toml          the fully resolved configuration (re-loadable as a config file)
    metrics.jsonl        one JSON object per logged step / eval
    model.safetensors    the weights (safetensors only: nothing is ever unpickled)
    results.json         the final evaluation summary
    eval_examples.jsonl  per-example generations of the final evaluation
    inputs.json          the run's input files (below): name → task option, bytes, sha256, source
    plugins.json         the plug-ins its task and model class came from (module, distribution,
                         version; only when one is not built in): loading the run imports them, and
                         a missing one is one line naming it
    <input files>        what the task's options refer to, copied by content (a .bench netlist,
                         a machine spec, a text run's tokenizer.json and valid.u16)
    checkpoints/         resumable checkpoints (arlearn.training.checkpoint)
    compile.json, compiled.safetensors, verify.json, prove.json   compiled runs (arlearn.compile)

Loading a run reads its config (checking its input files' SHA-256) and builds its task once:
a caller that holds them already (`load_run_config`, then a task) passes them on —
`load_run(run_dir, cfg)`, `load_model(run_dir, cfg, task)` — instead of loading them again.

A run directory is self-contained: it can be moved or copied to another machine and every
command that reads it (eval, generate, sample, verify, report) works there. The one mechanism:
a task lists the files its options refer to with `task.assets()` → {option: (file name,
bytes)}; `prepare_run_dir` writes each into the run directory, records its SHA-256 in
inputs.json and points the option at the copy (relative to the run directory, resolved again
by `load_run_config`, which also checks every recorded SHA-256). Training data that may be
gigabytes (a text corpus) is never copied: only training reads it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from arlearn.config import RunConfig, dumps_toml, from_dict, load_toml
from arlearn.errors import ArlearnError
from arlearn.fileio import atomic_path, load_safetensors, save_safetensors, sha256_file, write_json, write_text
from arlearn.models import context_for, make_model
from arlearn.models.base import ARModel
from arlearn.plugins import MODEL_CLASSES, import_plugin, origin
from arlearn.tasks import TASKS, Task, TaskBase, make_task

CONFIG, MODEL, RESULTS, METRICS, EXAMPLES = (
    "config.toml", "model.safetensors", "results.json", "metrics.jsonl", "eval_examples.jsonl"
)
PACKED = "compiled.safetensors"  #: a compiled run's packed non-zeros (arlearn.compile)
COMPILE, VERIFY = "compile.json", "verify.json"  #: a compiled run's report; the last `arlearn verify`
PROVE = "prove.json"  #: the last `arlearn verify --prove`
INPUTS = "inputs.json"  #: the run's input files: name → {option, bytes, sha256, source}
PLUGINS = "plugins.json"  #: the plug-ins of a run's task and model class: role → {name, module, version, ...}
CHECKPOINTS = "checkpoints"  #: arlearn.training.checkpoint.DIRNAME
#: the files a run writes (besides its input files and checkpoints/): what overwriting deletes
OWN_FILES = (CONFIG, MODEL, RESULTS, METRICS, EXAMPLES, PACKED, COMPILE, VERIFY, PROVE, INPUTS, PLUGINS)


def _files_inside(task: dict, run_dir: Path) -> dict:
    """Task options naming files inside the run directory, rewritten relative to it, so a run
    directory (e.g. a compiled circuit with its copied .bench) can be moved and still loads."""
    out = dict(task)
    for key, value in task.items():
        if isinstance(value, str) and key != "name" and value and Path(value).is_file():
            try:
                out[key] = Path(value).resolve().relative_to(run_dir.resolve()).as_posix()
            except ValueError:
                pass  # outside the run directory: keep as given
    return out


def _resolve_files(task: dict, run_dir: Path) -> dict:
    """Inverse of `_files_inside`: relative file options found in the run directory."""
    return {k: str(run_dir / v) if isinstance(v, str) and v and k != "name" and not Path(v).is_absolute()
            and (run_dir / v).is_file() else v for k, v in task.items()}


def portable_config(cfg: RunConfig, run_dir: str | Path) -> dict:
    """The config as config.toml stores it: file options inside the run directory relative to
    it (what checkpoints record, so a moved run still resumes)."""
    d = cfg.to_dict()
    d["task"] = _files_inside(d["task"], Path(run_dir))
    return d


# -- input files ----------------------------------------------------------------------------------
def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def task_assets(task: TaskBase) -> dict[str, tuple[str, bytes]]:
    """The files a task's options refer to: {option: (file name, bytes)} (none for most tasks)."""
    return dict(task.assets())


def _input_name(name: str) -> str:
    name = Path(name).name
    return f"input-{name}" if name in (*OWN_FILES, CHECKPOINTS) or name.startswith(".") or not name else name


def read_inputs(run_dir: Path) -> dict:
    """inputs.json ({} for runs without input files, or written before it existed)."""
    try:
        manifest = json.loads((run_dir / INPUTS).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArlearnError(f"{run_dir}/{INPUTS} is unreadable: {e}") from None
    if not isinstance(manifest, dict):
        raise ArlearnError(f"{run_dir}/{INPUTS} is not a table of input files")
    return manifest


def store_inputs(run_dir: Path, options: dict, assets: dict, write: bool = True) -> dict:
    """Write each asset into the run directory (unless an identical copy is there), record it in
    inputs.json, and return the task options pointing at the copies (relative names)."""
    old = read_inputs(run_dir) if write and (run_dir / INPUTS).is_file() else {}
    out, manifest = dict(options), {}
    for option, (name, data) in assets.items():
        name, digest = _input_name(name), _sha256_bytes(data)
        path = run_dir / name
        if write and not (path.is_file() and path.stat().st_size == len(data) and sha256_file(path) == digest):
            with atomic_path(path) as tmp:
                tmp.write_bytes(data)
        prev = old.get(name, {})
        given = options.get(option)
        source = prev.get("source") if prev.get("sha256") == digest else None
        if not source and isinstance(given, str) and given and Path(given).resolve() != path.resolve():
            source = given
        manifest[name] = {"option": option, "bytes": len(data), "sha256": digest,
                          **({"source": str(source)} if source else {})}
        out[option] = name
    if write and (manifest or old):
        write_json(run_dir / INPUTS, manifest)
    return out


def check_inputs(run_dir: Path) -> None:
    """Every input file inputs.json records is present, with its recorded size and SHA-256."""
    for name, rec in read_inputs(run_dir).items():
        path = run_dir / name
        what = f"{run_dir}/{name} (the run's {rec.get('option', 'input')} input)" if isinstance(rec, dict) else name
        if not path.is_file():
            raise ArlearnError(f"{what} is missing: a run directory must be copied whole")
        if not isinstance(rec, dict) or path.stat().st_size != rec.get("bytes") or sha256_file(path) != rec.get("sha256"):
            raise ArlearnError(f"{what} has changed since the run was made (size or sha256 mismatch)")


# -- creating a run directory ---------------------------------------------------------------------
def run_files(run_dir: Path) -> list[str]:
    """The run's own files and directories present in `run_dir` (what overwriting deletes)."""
    try:
        inputs = list(read_inputs(run_dir))
    except ArlearnError:
        inputs = []
    names = [*OWN_FILES, *inputs, CHECKPOINTS]
    return [n for n in names if (run_dir / n).exists() or (run_dir / n).is_symlink()]


def claim_run_dir(run_dir: str | Path, overwrite: bool = False) -> None:
    """Make `run_dir` ready for a new run. Absent or empty: fine. Holding anything: refused,
    unless `overwrite`, which deletes the run's own files first (config.toml, weights, metrics,
    results, input files, checkpoints/ …); other files in the directory are left alone."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return  # absent (or a file: creating it fails with a clear error)
    held = sorted(p.name for p in run_dir.iterdir())
    if not held:
        return
    if not overwrite:
        shown = ", ".join(held[:4]) + (f", … ({len(held)} entries)" if len(held) > 4 else "")
        raise ArlearnError(f"run directory {run_dir} is not empty (it holds {shown}); choose another, or "
                           "replace the run in it (overwrite=True / --force)")
    for name in run_files(run_dir):
        p = run_dir / name
        try:
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        except OSError as e:
            raise ArlearnError(f"cannot delete {p} to overwrite the run: {e.strerror}") from None


def prepare_run_dir(run_dir: str | Path, cfg: RunConfig, assets: dict | None = None,
                    write: bool = True) -> tuple[Path, RunConfig]:
    """Create the run directory (failing early if it is unwritable), store the task's input
    files (`assets`: `task_assets(task)`) and write config.toml. Returns the directory and the
    config as stored (what `load_run_config` reads back). `write=False`: compute, write nothing."""
    run_dir = Path(run_dir)
    try:
        if write:
            run_dir.mkdir(parents=True, exist_ok=True)
        d = cfg.to_dict()
        assets = assets or {}
        d["task"] = {"name": cfg.task_name, **store_inputs(run_dir, cfg.task_options, assets, write)}
        d["task"] = _files_inside(d["task"], run_dir)
        if write:
            write_text(run_dir / CONFIG, dumps_toml(d))
            used = plugins_used(cfg)
            if used:
                write_json(run_dir / PLUGINS, used)
    except OSError as e:
        raise ArlearnError(f"cannot write run directory {run_dir}: {e.strerror or e}") from None
    stored = from_dict(d)
    stored.task = _resolve_files(stored.task, run_dir)
    return run_dir, stored


def build(cfg: RunConfig, before_model=None) -> tuple[Task, ARModel]:
    """The run's task and (freshly initialised) model. `before_model(task, T)` is called before the
    model is built (the trainer's memory check refuses there, in one line, a run that would not fit)."""
    task = make_task(cfg.task_name, cfg.task_options)
    T = context_for(cfg.model, task.seq_len)
    if before_model is not None:
        before_model(task, T)
    return task, make_model(cfg.model, len(task.vocab), T)


def model_for(cfg: RunConfig, task: TaskBase) -> ARModel:
    """The (freshly initialised) model of `cfg` for its already built `task`."""
    return make_model(cfg.model, len(task.vocab), context_for(cfg.model, task.seq_len))


def save_model(run_dir: Path, model: ARModel) -> None:
    state = {k: v for k, v in model.state_dict().items()}
    save_safetensors(run_dir / MODEL, state, metadata={"format": "arlearn-model-v1"})


def load_model_state(model: ARModel, path: Path) -> None:
    state = load_safetensors(path)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise ArlearnError(
            f"checkpoint {path} does not match the config's model "
            f"(missing {missing[:3]}, unexpected {extra[:3]})"
        )
    for k, v in state.items():
        if v.shape != expected[k].shape:
            raise ArlearnError(
                f"checkpoint {path}: '{k}' has shape {tuple(v.shape)}, the config's model needs "
                f"{tuple(expected[k].shape)}"
            )
    model.load_state_dict(state)


def plugins_used(cfg: RunConfig) -> dict:
    """The plug-ins `cfg`'s task and model class come from: {"task"|"model": {"name", "module",
    "distribution", "version"}}; built-ins are left out (empty: nothing but arlearn)."""
    out = {}
    task_cls = TASKS.get(cfg.task_name)
    if task_cls is not None and task_cls.__module__.split(".")[0] != "arlearn":
        out["task"] = {"name": cfg.task_name, **origin(task_cls.__module__)}
    mc = MODEL_CLASSES.get(cfg.model.name)
    if mc is not None and not mc.builtin:
        out["model"] = {"name": mc.name, **origin(mc.module)}
    gen = cfg.task.get("generator")
    if isinstance(gen, str) and gen.startswith("py:"):  # a traced function, py:MODULE:FUNCTION (circuits.trace)
        out["function"] = {"name": gen, **origin(gen[3:].rpartition(":")[0])}
    return out


def _load_plugins_of(run_dir: Path) -> None:
    """Import the plug-ins a run recorded (plugins.json) that are not registered yet; a missing
    one is one line naming it."""
    path = run_dir / PLUGINS
    if not path.is_file():
        return
    try:
        used = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ArlearnError(f"cannot read {path}: {e}") from None
    for role, info in used.items():
        registry = {"task": TASKS, "model": MODEL_CLASSES}.get(role, {})
        if info.get("name") in registry:
            continue
        try:
            import_plugin(info["module"])
        except ArlearnError as e:
            version = f" {info['version']}" if info.get("version") else ""
            dist = info.get("distribution") or info["module"]
            why = "is not installed here" if "not found" in str(e) else f"fails to load here ({e})"
            raise ArlearnError(f"run {run_dir} needs the plug-in {dist}{version} (module {info['module']!r}, for "
                               f"its {role} {info.get('name')!r}), which {why}: install it, or put its module on "
                               "PYTHONPATH") from None


def load_run_config(run_dir: str | Path) -> RunConfig:
    """The resolved config a run directory was trained with (its input files checked)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ArlearnError(f"run directory not found: {run_dir}")
    if not (run_dir / CONFIG).is_file():
        raise ArlearnError(f"{run_dir} is not a run directory (no {CONFIG})")
    _load_plugins_of(run_dir)
    cfg = from_dict(load_toml(run_dir / CONFIG))
    check_inputs(run_dir)
    cfg.task = _resolve_files(cfg.task, run_dir)
    return cfg


def _check_dense(run_dir: Path) -> None:
    if not (run_dir / MODEL).exists() and (run_dir / PACKED).exists():
        raise ArlearnError(f"{run_dir} is a compiled run written without its dense {MODEL} (it exceeded the "
                           "compiler's max_dense_bytes): verify it, or recompile with a larger limit to "
                           "evaluate or generate from it")


def load_model(run_dir: str | Path, cfg: RunConfig, task: TaskBase) -> ARModel:
    """A run's trained model, for its config and task as already loaded (`load_run_config`, and
    the task built from it): neither is read or built again."""
    run_dir = Path(run_dir)
    _check_dense(run_dir)
    model = model_for(cfg, task)
    load_model_state(model, run_dir / MODEL)
    return model


def load_run(run_dir: str | Path, cfg: RunConfig | None = None) -> tuple[RunConfig, Task, ARModel]:
    """(config, task, trained model) of a run directory: the config read (input files checked:
    `load_run_config`) unless given as `cfg`, the task built once, the weights loaded."""
    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir) if cfg is None else cfg
    _check_dense(run_dir)
    task = make_task(cfg.task_name, cfg.task_options)
    return cfg, task, load_model(run_dir, cfg, task)


def finished_steps(run_dir: str | Path) -> int | None:
    """The steps of a finished run (it wrote results.json), else None."""
    path = Path(run_dir) / RESULTS
    if not path.is_file():
        return None
    try:
        steps = json.loads(path.read_text(encoding="utf-8")).get("steps")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return 0
    return steps if isinstance(steps, int) else 0


def same_run_config(run_dir: str | Path, cfg: RunConfig, ignore: frozenset = frozenset()) -> RunConfig | None:
    """The config `run_dir` was started with (its config.toml, input files resolved) when it
    trains what `cfg` trains — the same values but for the (section, key) pairs in `ignore` (how
    a run is executed or logged), file options compared by their bytes (`cfg` may name the user's
    file, config.toml names the run directory's copy); None when it is another run or unreadable.
    What continues a killed run of a grid (a sweep's cell, one of several seeds) from its checkpoint."""
    try:
        stored = load_run_config(run_dir)
    except ArlearnError:
        return None

    def content(c: RunConfig) -> dict:
        d = c.to_dict()
        for section, key in ignore:
            d.get(section, {}).pop(key, None)
        d["task"] = {k: sha256_file(v) if k != "name" and isinstance(v, str) and v and Path(v).is_file() else v
                     for k, v in d["task"].items()}
        return d

    return stored if content(stored) == content(cfg) else None


def unfinish(run_dir: Path) -> None:
    """A finished run that trains further: its results (and their examples) no longer hold."""
    for name in (RESULTS, EXAMPLES):
        try:
            (run_dir / name).unlink()
        except FileNotFoundError:
            pass


def write_results(run_dir: Path, results: dict, records: list[dict] | None = None) -> None:
    write_json(run_dir / RESULTS, results)
    if records is not None:
        write_text(run_dir / EXAMPLES, "".join(json.dumps(r) + "\n" for r in records))


class MetricsLog:
    """Append-only JSONL log (a crash can cut only the last line, which readers skip)."""

    def __init__(self, path: Path, fresh: bool = True):
        self.path = path
        if fresh and path.exists():
            os.unlink(path)

    def write(self, **row) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")

    def close(self) -> None:
        pass  # every row is appended and closed as it is written

    def truncate_after(self, step: int) -> None:
        """Drop rows logged after `step` (a resumed run logs them again) and any cut last line."""
        keep = [r for r in read_metrics(self.path) if isinstance(r, dict) and r.get("step", 0) <= step]
        write_text(self.path, "".join(json.dumps(r) + "\n" for r in keep))


def read_metrics(path: Path) -> list[dict]:
    rows = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows

