"""Resumable checkpoints: everything needed to continue a run bit-for-bit.

    <run_dir>/checkpoints/step-00001200/
        model.safetensors      the weights
        optimizer.safetensors  optimizer tensors (AdamW moments, step counts) and torch RNG states
        state.json             step, training time, python/numpy RNG states, optimizer structure,
                               the run's config, and the size + SHA-256 of both tensor files
    <run_dir>/checkpoints/best-00001100.safetensors
                               under train.keep_best: the weights of the best periodic check
                               (arlearn.training.best; its tracker state is in state.json)

The batch at a step is a pure function of (seed, step) and the learning rate of (config, step),
so "data position" and "schedule position" are the step. A checkpoint is written into a temporary
directory which is then renamed into place (`os.replace`), so a crash at any instant leaves
either the old set of checkpoints or the new one, never half a checkpoint; the last `keep` are
kept. A run with checkpoints on (the default) also ends with one, so a finished run can be
extended. Loading verifies sizes, checksums, names and shapes before touching the model, and
reads tensors with safetensors only (nothing is ever unpickled); resuming takes the newest
checkpoint that reads back intact (`newest_intact`), skipping damaged newer ones with a
`CheckpointWarning`.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from arlearn.errors import ArlearnError
from arlearn.fileio import save_safetensors, sha256_file

class CheckpointWarning(UserWarning):
    """A damaged checkpoint was skipped for an older intact one (the CLI prints it as one line)."""


FORMAT = "arlearn-checkpoint-v1"
DIRNAME = "checkpoints"
MODEL, OPTIM, STATE = "model.safetensors", "optimizer.safetensors", "state.json"
_STEP_DIR = re.compile(r"^step-(\d{8,})$")


def checkpoint_root(run_dir: str | Path) -> Path:
    return Path(run_dir) / DIRNAME


def list_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """Completed checkpoints as (step, path), oldest first (temporary directories are ignored)."""
    root = checkpoint_root(run_dir)
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        m = _STEP_DIR.match(p.name)
        if m and p.is_dir():
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1][1] if found else None


# -- state <-> files ------------------------------------------------------------------------------
def _optimizer_split(opt: torch.optim.Optimizer) -> tuple[dict, dict]:
    """(tensors, JSON structure) of an optimizer's state_dict."""
    sd = opt.state_dict()
    tensors, state = {}, {}
    for idx, entries in sd["state"].items():
        state[str(idx)] = {}
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{idx}.{name}"] = value
                state[str(idx)][name] = {"tensor": f"state.{idx}.{name}"}
            else:
                state[str(idx)][name] = {"value": value}
    groups = [{k: list(v) if isinstance(v, tuple) else v for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"state": state, "param_groups": groups}


def _optimizer_join(structure: dict, tensors: dict) -> dict:
    state = {}
    for idx, entries in structure["state"].items():
        state[int(idx)] = {n: tensors[e["tensor"]] if "tensor" in e else e["value"] for n, e in entries.items()}
    groups = []
    for g in structure["param_groups"]:
        g = dict(g)
        if isinstance(g.get("betas"), list):
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    return {"state": state, "param_groups": groups}


def _rng_state() -> tuple[dict, dict]:
    """(tensors, JSON) of the python, numpy and torch (CPU + CUDA) generators."""
    version, internal, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    tensors = {"rng.torch": torch.get_rng_state(), "rng.numpy": torch.from_numpy(np_keys.astype(np.int64))}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    info = {"python": [version, list(internal), gauss],
            "numpy": [np_name, int(np_pos), int(np_has_gauss), float(np_gauss)]}
    return tensors, info


def _set_rng_state(tensors: dict, info: dict) -> None:
    version, internal, gauss = info["python"]
    random.setstate((version, tuple(internal), gauss))
    np_name, np_pos, np_has_gauss, np_gauss = info["numpy"]
    np.random.set_state((np_name, tensors["rng.numpy"].numpy().astype(np.uint32), np_pos, np_has_gauss, np_gauss))
    torch.set_rng_state(tensors["rng.torch"])
    cuda = sorted(k for k in tensors if k.startswith("rng.cuda."))
    if cuda and torch.cuda.is_available():
        states = [tensors[k] for k in cuda][: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(states)


def _write_tensors(path: Path, tensors: dict) -> None:
    save_safetensors(path, tensors, metadata={"format": FORMAT})


def _fresh_dir(parent: Path, prefix: str) -> Path:
    """A new directory with a unique name, created with the user's umask (mkdtemp forces 0700)."""
    for _ in range(100):
        path = parent / f"{prefix}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise ArlearnError(f"cannot create a temporary directory in {parent}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def estimate_bytes(model: torch.nn.Module) -> int:
    """Upper-bound size of one checkpoint: weights + two AdamW moments (fp32) + slack."""
    n = sum(p.numel() for p in model.parameters())
    return sum(t.numel() * t.element_size() for t in model.state_dict().values()) + 2 * 4 * n + (1 << 20)


def check_space(run_dir: Path, model: torch.nn.Module, keep: int) -> None:
    """Fail before training when the run directory cannot hold `keep`+1 checkpoints and the model
    (measured on the directory, or on its nearest existing parent before it is created)."""
    need = estimate_bytes(model) * (keep + 1) + estimate_bytes(model) // 3
    probe = Path(run_dir)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError as e:
        raise ArlearnError(f"cannot write checkpoints in {run_dir}: {e.strerror}") from None
    if free < need:
        raise ArlearnError(
            f"not enough disk space in {run_dir}: {keep} checkpoints of this model need about "
            f"{need / 1e9:.2f} GB, {free / 1e9:.2f} GB free (lower train.keep_checkpoints or free space)")


def save_checkpoint(run_dir: str | Path, step: int, model: torch.nn.Module, opt: torch.optim.Optimizer,
                    extra: dict | None = None, keep: int = 2) -> Path:
    """Write checkpoint `step` atomically, then delete all but the newest `keep`. Returns its path."""
    root = checkpoint_root(run_dir)
    final = root / f"step-{step:08d}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = _fresh_dir(root, f".step-{step:08d}")
        try:
            opt_tensors, opt_structure = _optimizer_split(opt)
            rng_tensors, rng_info = _rng_state()
            model_state = model.state_dict()
            _write_tensors(tmp / MODEL, model_state)
            _write_tensors(tmp / OPTIM, {**opt_tensors, **rng_tensors})
            files = {}
            for name in (MODEL, OPTIM):
                _fsync(tmp / name)
                files[name] = {"bytes": (tmp / name).stat().st_size, "sha256": sha256_file(tmp / name)}
            state = {"format": FORMAT, "step": step, **(extra or {}), "rng": rng_info,
                     "optimizer": opt_structure, "files": files,
                     "shapes": {k: list(v.shape) for k, v in model_state.items()}}
            (tmp / STATE).write_text(json.dumps(state) + "\n", encoding="utf-8")
            _fsync(tmp / STATE)
            if final.exists():  # the same step saved again (e.g. SIGTERM right after a periodic save)
                shutil.rmtree(final)
            os.replace(tmp, final)
            _fsync(root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    except OSError as e:
        last = latest_checkpoint(run_dir)
        kept = f"; the last good checkpoint is {last}" if last else ""
        raise ArlearnError(f"cannot write checkpoint {final}: {e.strerror or e}{kept}") from None
    for _, old in list_checkpoints(run_dir)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


@dataclass
class Checkpoint:
    path: Path
    step: int
    state: dict  #: state.json
    model: dict  #: name -> tensor
    optimizer: dict  #: optimizer state_dict, ready for load_state_dict
    rng_tensors: dict


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read and verify one checkpoint directory; any damage is an ArlearnError naming it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    bad = f"checkpoint {path} is damaged"
    if not path.is_dir():
        raise ArlearnError(f"checkpoint not found: {path}")
    try:
        raw = (path / STATE).read_bytes()
    except OSError as e:
        raise ArlearnError(f"{bad}: cannot read {STATE} ({e.strerror})") from None
    try:
        state = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ArlearnError(f"{bad}: {STATE} is not valid JSON ({type(e).__name__})") from None
    try:
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise ArlearnError(f"{bad}: {STATE} is not an {FORMAT} record")
        step = state["step"]
        if type(step) is not int or step < 0:
            raise ArlearnError(f"{bad}: step must be a non-negative integer, got {step!r}")
        files = state["files"]
        tensors = {}
        for name in (MODEL, OPTIM):
            rec = files[name]
            f = path / name
            if not f.is_file():
                raise ArlearnError(f"{bad}: {name} is missing")
            size = f.stat().st_size
            if size != rec["bytes"]:
                raise ArlearnError(f"{bad}: {name} has {size} bytes, {rec['bytes']} were written "
                                   f"({'truncated' if size < rec['bytes'] else 'extended'})")
            if sha256_file(f) != rec["sha256"]:
                raise ArlearnError(f"{bad}: {name} does not match the checksum recorded at save (modified)")
            try:
                tensors[name] = load_file(str(f))
            except (SafetensorError, OSError, ValueError) as e:
                raise ArlearnError(f"{bad}: {name} does not load ({e})") from None
        model = tensors[MODEL]
        shapes = state["shapes"]
        if sorted(shapes) != sorted(model) or any(list(model[k].shape) != shapes[k] for k in model):
            raise ArlearnError(f"{bad}: {MODEL} tensors do not match the shapes recorded at save")
        opt_t = {k: v for k, v in tensors[OPTIM].items() if k.startswith("state.")}
        rng_t = {k: v for k, v in tensors[OPTIM].items() if k.startswith("rng.")}
        optimizer = _optimizer_join(state["optimizer"], opt_t)
        for k in ("python", "numpy"):
            if not isinstance(state["rng"][k], list):
                raise ArlearnError(f"{bad}: rng.{k} is not a list")
        for k in ("rng.torch", "rng.numpy"):
            if k not in rng_t:
                raise ArlearnError(f"{bad}: {OPTIM} lacks {k}")
    except ArlearnError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        raise ArlearnError(f"{bad}: {STATE} is missing or has a malformed field ({type(e).__name__}: {e})") from None
    return Checkpoint(path, step, state, model, optimizer, rng_t)


def newest_intact(run_dir: str | Path) -> tuple[Checkpoint | None, list[str]]:
    """The newest checkpoint that reads back intact, and why each newer one was skipped (the
    `read_checkpoint` errors, newest first). (None, [...]) when none is intact."""
    skipped = []
    for _, path in reversed(list_checkpoints(run_dir)):
        try:
            return read_checkpoint(path), skipped
        except ArlearnError as e:
            skipped.append(str(e))
    return None, skipped


def restore(ckpt: Checkpoint, model: torch.nn.Module, opt: torch.optim.Optimizer) -> None:
    """Load a verified checkpoint into the model, the optimizer and the global RNGs."""
    expected = model.state_dict()
    if sorted(expected) != sorted(ckpt.model):
        missing = sorted(set(expected) - set(ckpt.model))[:3]
        extra = sorted(set(ckpt.model) - set(expected))[:3]
        raise ArlearnError(f"checkpoint {ckpt.path} does not match the config's model "
                           f"(missing {missing}, unexpected {extra})")
    for k, v in ckpt.model.items():
        if v.shape != expected[k].shape or v.dtype != expected[k].dtype:
            raise ArlearnError(f"checkpoint {ckpt.path}: '{k}' is {tuple(v.shape)} {v.dtype}, the config's "
                               f"model needs {tuple(expected[k].shape)} {expected[k].dtype}")
    params = [p for g in opt.param_groups for p in g["params"]]
    try:
        for idx, entries in ckpt.optimizer["state"].items():
            for name, t in entries.items():
                if isinstance(t, torch.Tensor) and t.dim() > 0 and t.shape != params[idx].shape:
                    raise ArlearnError(f"checkpoint {ckpt.path}: optimizer state {idx}.{name} has shape "
                                       f"{tuple(t.shape)}, the parameter is {tuple(params[idx].shape)}")
        model.load_state_dict(ckpt.model)
        opt.load_state_dict(ckpt.optimizer)
        _set_rng_state(ckpt.rng_tensors, ckpt.state["rng"])
    except ArlearnError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as e:
        raise ArlearnError(f"checkpoint {ckpt.path} does not fit this run: {str(e).splitlines()[0]}") from None


# -- signals ----------------------------------------------------------------------------------------
