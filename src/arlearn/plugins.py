"""Plug-ins: how arlearn finds tasks and model classes, built-in or a user's.

There is one door. A module registers what it defines when it is imported — tasks with
`arlearn.tasks.register_task`, model classes with `register_model` (below, re-exported by
`arlearn.models`) — and `load()` imports, once each:

1. the built-ins (`arlearn.tasks`, `arlearn.models`), which register through the same calls;
2. the modules named in the environment variable ARLEARN_PLUGINS (comma-separated) — the
   CLI's `arlearn --plugin MODULE` adds to it, so worker processes load the same plug-ins;
3. the entry points of the groups `arlearn.tasks` and `arlearn.models` of installed
   distributions (`[project.entry-points."arlearn.tasks"]` in a plug-in's pyproject.toml): each
   names a module (imported) or a function of no arguments (called).

A module that is not importable from `sys.path` is looked for in the current directory too (as
`python -m` would), so `--plugin my_task` works on a file my_task.py next to the command.

A model class is a `ModelClass`: its name, its config dataclass (its own fields; a `name: str`
field among them; validated like every config section, one-line errors), `build(cfg,
vocab_size, T) -> ARModel`, and `size(cfg, vocab_size, T) -> (stored parameters, live
parameters, widths)`, the arithmetic `arlearn.training.memory` estimates a run's memory from
(`widths`: the activation widths a token passes through; `size=None`: count the parameters
of a model built on torch's meta device, activations unknown).

`origin(module)` names where a task or model class came from — {"module", "distribution",
"version"} — which a run directory records (`arlearn.rundir`), so loading a run whose
plug-in is missing says which one in one line.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
from dataclasses import dataclass
from typing import Callable

from arlearn.errors import ArlearnError, did_you_mean

#: the environment variable naming plug-in modules (comma-separated)
ENV = "ARLEARN_PLUGINS"
#: the entry-point groups an installed distribution registers its tasks and model classes under
GROUPS = ("arlearn.tasks", "arlearn.models")
#: the built-ins, loaded first through the same door
BUILTIN = ("arlearn.tasks", "arlearn.models")
#: what an unknown task or model name adds: a plug-in's names are known once its module is loaded
NOT_LOADED = ("; a plug-in's {kind} is known once its module is loaded (`arlearn --plugin MODULE`, "
              "ARLEARN_PLUGINS=MODULE or an installed entry point; docs/plugins.md)")


@dataclass(frozen=True)
class ModelClass:
    """A model class: what `model.name = NAME` selects."""

    name: str
    config: type  #: a dataclass with a `name: str` field; [model]'s other keys are its fields
    build: Callable  #: (config, vocab_size, T) -> arlearn.models.ARModel
    size: Callable | None = None  #: (config, vocab_size, T) -> (stored, live parameters, widths)
    about: str = ""  #: one line for `arlearn list`
    module: str = ""  #: the module that registered it

    @property
    def builtin(self) -> bool:
        return self.module.split(".")[0] == "arlearn"


#: every registered model class by name (`register_model`; `load()` fills it)
MODEL_CLASSES: dict[str, ModelClass] = {}


def register_model(name: str, config: type, build: Callable, size: Callable | None = None,
                   about: str = "") -> ModelClass:
    """Register a model class `name`: its config dataclass, its builder and its size. Call it at
    the top level of the module that defines the class (importing the module registers it)."""
    if not (isinstance(name, str) and name.isidentifier()):
        raise ArlearnError(f"model class name must be an identifier, got {name!r}")
    if not dataclasses.is_dataclass(config) or "name" not in {f.name for f in dataclasses.fields(config)}:
        raise ArlearnError(f"model class {name!r}: its config must be a dataclass with a `name: str` field")
    module = getattr(build, "__module__", None) or config.__module__
    mc = ModelClass(name, config, build, size, about, module)
    MODEL_CLASSES[name] = mc
    return mc


def model_class(name: str) -> ModelClass:
    """The model class `name` (on a miss the built-ins, then the plug-ins are loaded, so a broken
    plug-in never stands in the way of a built-in); unknown: one line with the known."""
    if name not in MODEL_CLASSES:
        for module in BUILTIN:
            importlib.import_module(module)
    if name not in MODEL_CLASSES:
        load()
    if name not in MODEL_CLASSES:
        raise ArlearnError(f"unknown model '{name}'{did_you_mean(str(name), MODEL_CLASSES)}"
                           + NOT_LOADED.format(kind="model class"))
    return MODEL_CLASSES[name]


# -- the loader ------------------------------------------------------------------------------------
_loaded: set[str] = set()  #: modules imported (and entry points run) by `load`
_entry_points_done = False


def env_modules() -> list[str]:
    """The modules ARLEARN_PLUGINS names."""
    return [m.strip() for m in os.environ.get(ENV, "").split(",") if m.strip()]


def add(modules) -> None:
    """Name more plug-in modules (appended to ARLEARN_PLUGINS, which worker processes inherit)
    and load them now; when one fails to load, ARLEARN_PLUGINS is left as it was (a misspelt
    name would otherwise fail every later load in this process)."""
    before = os.environ.get(ENV)
    names = env_modules()
    names += [m for m in (x.strip() for x in modules) if m and m not in names]
    if names:
        os.environ[ENV] = ",".join(names)
    try:
        load()
    except ArlearnError:
        if before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = before
        raise


def import_plugin(module: str):
    """Import a plug-in module (once); a missing or broken one is one line naming it."""
    if module.endswith(".py") or "/" in module or os.sep in module:  # a file, not a module name
        name = os.path.splitext(os.path.basename(module))[0]
        raise ArlearnError(f"plug-in {module!r} is a file: name its module instead, {name!r} (found in the current "
                           "directory or on PYTHONPATH)")
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        top = module.split(".")[0]
        if e.name not in (module, top) and not module.startswith(f"{e.name}."):
            raise ArlearnError(f"plug-in {module!r} failed to load: it imports {e.name!r}, which is not "
                               "installed") from None
        cwd = os.getcwd()
        if cwd not in sys.path and "" not in sys.path:
            sys.path.append(cwd)  # as `python -m` would; spawned workers inherit sys.path
            return import_plugin(module)
        raise ArlearnError(f"plug-in module {module!r} not found (install it, or put it on PYTHONPATH or in "
                           "the current directory)") from None
    except ArlearnError as e:
        raise ArlearnError(f"plug-in {module!r}: {e}") from None
    except Exception as e:  # noqa: BLE001 — a user's module may raise anything on import
        raise ArlearnError(f"plug-in {module!r} failed to load: {type(e).__name__}: {e}") from None


def _entry_points() -> list:
    from importlib import metadata

    return [ep for group in GROUPS for ep in metadata.entry_points(group=group)]


def load() -> None:
    """Import the built-ins, the ARLEARN_PLUGINS modules and the entry points (each once)."""
    global _entry_points_done
    for module in (*BUILTIN, *env_modules()):
        if module not in _loaded:
            _loaded.add(module)
            try:
                import_plugin(module)
            except ArlearnError:
                _loaded.discard(module)
                raise
    if _entry_points_done:
        return
    _entry_points_done = True
    for ep in _entry_points():
        key = f"{ep.group}={ep.value}"
        if key in _loaded:
            continue
        _loaded.add(key)
        try:
            obj = ep.load()
        except Exception as e:  # noqa: BLE001
            raise ArlearnError(f"plug-in entry point {ep.name!r} ({ep.value}, group {ep.group}) failed to load: "
                               f"{type(e).__name__}: {e}") from None
        if callable(obj) and not isinstance(obj, type):
            obj()


def origin(module: str) -> dict:
    """Where code of `module` comes from: {"module": top-level module, "distribution": the
    installed distribution providing it (or None), "version": its version (or the module's
    __version__, or None)}."""
    from importlib import metadata

    top = module.split(".")[0]
    dists = metadata.packages_distributions().get(top, [])
    version = None
    if dists:
        try:
            version = metadata.version(dists[0])
        except metadata.PackageNotFoundError:
            pass
    if version is None:
        version = getattr(sys.modules.get(top), "__version__", None)
    return {"module": top, "distribution": dists[0] if dists else None,
            "version": None if version is None else str(version)}


__all__ = ["ENV", "GROUPS", "MODEL_CLASSES", "NOT_LOADED", "ModelClass", "add", "import_plugin", "load", "model_class",
           "origin", "register_model"]
