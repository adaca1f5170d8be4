"""Run configuration: typed sections loaded from TOML presets, TOML or YAML files and
`key=value` overrides.

    [task]   name + the task's own options (validated by the task's dataclass)
    [model]  ModelConfig
    [train]  TrainConfig
    [eval]   EvalConfig

Unknown sections or keys, ill-typed values and non-finite floats (nan, inf) are errors that
name the key. A config file is read as YAML when its name ends in .yaml/.yml (same schema; needs
PyYAML, the `yaml` extra), else as TOML.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from arlearn.errors import ArlearnError, did_you_mean
from arlearn.plugins import model_class


def _check_type(owner: str, key: str, value, annotation) -> None:
    """Reject ill-typed config values with a message naming the key."""
    expected = {"int": int, "float": (int, float), "str": str, "bool": bool}
    ann = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    ann = ann.replace(" ", "")
    optional = ann.endswith("|None") or ann.startswith("Optional")
    base = ann.replace("|None", "").replace("Optional[", "").rstrip("]")
    if value is None and optional:
        return
    want = expected.get(base)
    if want is None:
        return
    ok = isinstance(value, want) and not (base in ("int", "float") and isinstance(value, bool))
    if not ok:
        raise ArlearnError(f"{owner}: '{key}' must be {base}, got {type(value).__name__} {value!r}")
    if base == "float" and isinstance(value, float) and not math.isfinite(value):
        raise ArlearnError(f"{owner}: '{key}' must be a finite number, got {value!r}")


def build_dataclass(cls, options: dict, owner: str):
    """Instantiate a dataclass from a dict, rejecting unknown keys and ill-typed values."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in options.items():
        if key not in fields:
            raise ArlearnError(f"{owner}: unknown option {key!r}{did_you_mean(str(key), fields)}")
        _check_type(owner, key, value, fields[key].type)
    try:
        return cls(**options)
    except TypeError as e:
        raise ArlearnError(f"{owner}: {e}") from None


#: the built-in model classes, whose config is `ModelConfig` (arlearn.models.builtin registers
#: them; a plug-in registers its own with `arlearn.plugins.register_model`)
MODELS = ("linear", "mlp", "transformer")
#: ModelConfig.weights of the block-causal models: one block per (t, s), or per distance t − s
WEIGHTS = ("per-pair", "shared")
#: ModelConfig.activation of the mlp
ACTIVATIONS = ("relu", "gelu")


@dataclass
class ModelConfig:
    name: str = "mlp"
    d: int = 128  #: embedding width
    hidden: int = 0  #: mlp hidden width (0: same as d)
    layers: int = 1  #: block-causal layers (mlp) or transformer blocks
    heads: int = 4  #: transformer attention heads
    chunk: int = 8  #: block-causal output positions per stored chunk (speed knob; 1 = exact packing)
    context: int = 0  #: context T (0: the task's sequence length − 1)
    dropout: float = 0.0  #: transformer: attention dropout
    #: linear/mlp: "per-pair" (the paper's form: a d×d block per pair of positions (t, s)) or
    #: "shared" (the block depends only on t − s: a causal convolution, T·d·d weights per map)
    weights: str = "per-pair"
    #: linear/mlp with weights = "shared": the kernel holds distances 0 … window−1 and one bias
    #: serves every position, so the model is time-invariant and runs on sequences of any length
    #: (generation past the training context); 0: the kernel spans the whole context T
    window: int = 0
    #: linear/mlp: the output head is the input embedding transposed (needs the head's input
    #: width, d for linear and hidden for mlp, to equal d)
    tie_embeddings: bool = False
    embed_dropout: float = 0.0  #: linear/mlp: dropout on the token embeddings while training, in [0, 1)
    #: mlp: the non-linearity, "relu" (the paper's) or "gelu" (no unit dies for good: a position whose
    #: own hidden units all went inactive under ReLU could never learn again)
    activation: str = "relu"

    def __post_init__(self):
        if self.name not in MODELS:
            raise ArlearnError(f"unknown model '{self.name}'{did_you_mean(self.name, MODELS)}")
        for key in ("d", "layers", "heads", "chunk"):
            if getattr(self, key) < 1:
                raise ArlearnError(f"model: '{key}' must be ≥ 1, got {getattr(self, key)}")
        if self.hidden < 0 or self.context < 0:
            raise ArlearnError("model: 'hidden' and 'context' must be ≥ 0")
        if self.name == "transformer" and self.d % self.heads:
            raise ArlearnError(f"model: d={self.d} must be divisible by heads={self.heads}")
        if not 0.0 <= self.dropout < 1.0:
            raise ArlearnError(f"model: dropout must be in [0, 1), got {self.dropout}")
        self._check_block_options()

    def _check_block_options(self) -> None:
        """The options of the block-causal models (linear, mlp): valid values, and only there."""
        if self.weights not in WEIGHTS:
            raise ArlearnError(f"model: weights must be {' or '.join(map(repr, WEIGHTS))}, got {self.weights!r}")
        if self.activation not in ACTIVATIONS:
            raise ArlearnError(f"model: activation must be {' or '.join(map(repr, ACTIVATIONS))}, "
                               f"got {self.activation!r}")
        if self.activation != "relu" and self.name != "mlp":
            raise ArlearnError(f"model: activation is an option of the mlp model, not of {self.name}")
        if not 0.0 <= self.embed_dropout < 1.0:
            raise ArlearnError(f"model: embed_dropout must be in [0, 1), got {self.embed_dropout}")
        if self.window < 0:
            raise ArlearnError(f"model: window must be ≥ 1 (or 0: the whole context), got {self.window}")
        if self.window and self.weights != "shared":
            raise ArlearnError(f"model: window={self.window} needs weights = \"shared\" (a per-pair map has "
                               "a block per position pair, nothing to slide)")
        if self.name == "transformer":
            if self.weights != "per-pair" or self.tie_embeddings or self.embed_dropout:
                raise ArlearnError("model: weights, tie_embeddings and embed_dropout are options of the linear "
                                   "and mlp models, not of transformer")
        elif self.tie_embeddings and self.name == "mlp" and (self.hidden or self.d) != self.d:
            raise ArlearnError(f"model: tie_embeddings needs the head's input width (hidden={self.hidden}) "
                               f"to equal d={self.d}")


@dataclass
class TrainConfig:
    steps: int = 1000  #: optimizer steps (upper bound; see max_minutes)
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup: int = 100  #: linear warmup steps, then cosine decay to min_lr_ratio·lr
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    #: group lasso on the blocks of block-causal layers (per-pair: each W[t,s]; shared: each
    #: distance t − s): every block shrinks by
    #: lr_t·block_l1·sqrt(d_in·d_out) per step in Frobenius norm (applied every 4 steps), to
    #: exactly zero below that (block_l1 = 1: an Adam step's size in every entry; 0: off)
    block_l1: float = 0.0
    seed: int = 0  #: drives data, init and order
    train_examples: int = 100_000  #: size of the training pool drawn from the train split
    loss_on: str = "cot_answer"  #: "all" or "cot_answer"
    dtype: str = "auto"  #: "auto" (bf16 autocast where fast), "bf16" or "fp32"
    device: str = "auto"  #: "auto" (cuda → mps → cpu), or a torch device string
    threads: int = 0  #: CPU threads (0: torch default)
    #: stop after this much training time (0: no limit). Not at a high learning rate: when the rate of
    #: steps projects the time to run out before `steps`, the last anneal_steps steps to it (0: the
    #: last tenth) are the final anneal (the rate falls linearly to 0), and the run stops where it ends
    max_minutes: float = 0.0
    eval_every: int = 0  #: steps between held-out exact-match checks (0: only at the end)
    log_every: int = 10
    target_exact_match: float = 0.0  #: stop early once a periodic eval reaches this (0: never)
    #: with target_exact_match: when a periodic check first reaches the target, the learning rate falls
    #: linearly from its value then to 0 over this many steps, then a check decides: still at the
    #: target → stop; else the ordinary schedule goes on (0: stop at once, at the rate of that step).
    #: The length of max_minutes' final anneal too
    anneal_steps: int = 0
    micro_batches: int = 1  #: gradient-accumulation micro-steps per step (batch_size is the global batch)
    checkpoint_every: int = 0  #: steps between resumable checkpoints (0: only by checkpoint_minutes)
    checkpoint_minutes: float = 10.0  #: training minutes between resumable checkpoints (0: only by steps)
    keep_checkpoints: int = 2  #: newest checkpoints kept in <run_dir>/checkpoints
    logger: str = "jsonl"  #: "jsonl" (metrics.jsonl) or "tensorboard" (metrics.jsonl and TensorBoard events)
    #: stop after this many periodic checks (every eval_every steps) in a row without improvement
    #: of the validation loss (text) or held-out exact match (sequence tasks); 0: never. Implies keep_best
    early_stop_patience: int = 0
    early_stop_min_delta: float = 0.0  #: an improvement must beat the best by more than this
    #: end with the best weights by the periodic checks (model.safetensors; results.json: best_step,
    #: best_epoch, best_val_loss ...), the final weights included as a candidate; needs eval_every
    keep_best: bool = False

    def __post_init__(self):
        positive = ("steps", "batch_size", "train_examples", "log_every", "micro_batches")
        for k in positive:
            if getattr(self, k) < 1:
                raise ArlearnError(f"train: '{k}' must be ≥ 1, got {getattr(self, k)}")
        if self.lr <= 0 or min(self.weight_decay, self.grad_clip, self.warmup, self.block_l1) < 0:
            raise ArlearnError("train: lr must be > 0; weight_decay, grad_clip, warmup, block_l1 ≥ 0")
        if self.loss_on not in ("all", "cot_answer"):
            raise ArlearnError(f"train: loss_on must be 'all' or 'cot_answer', got {self.loss_on!r}")
        if self.checkpoint_every < 0 or self.checkpoint_minutes < 0 or self.keep_checkpoints < 1:
            raise ArlearnError("train: checkpoint_every, checkpoint_minutes ≥ 0 and keep_checkpoints ≥ 1")
        if self.logger not in ("jsonl", "tensorboard"):
            raise ArlearnError(f"train: logger must be jsonl or tensorboard, got {self.logger!r}")
        if self.dtype not in ("auto", "bf16", "fp32"):
            raise ArlearnError(f"train: dtype must be auto, bf16 or fp32, got {self.dtype!r}")
        if self.anneal_steps < 0:
            raise ArlearnError(f"train: anneal_steps must be ≥ 0, got {self.anneal_steps}")
        if self.early_stop_patience < 0 or self.early_stop_min_delta < 0:
            raise ArlearnError("train: early_stop_patience and early_stop_min_delta must be ≥ 0")
        if self.keeps_best and self.eval_every < 1:
            raise ArlearnError("train: early_stop_patience and keep_best need periodic checks: set eval_every > 0")

    @property
    def keeps_best(self) -> bool:
        """Whether the run ends with its best weights by the periodic checks."""
        return self.keep_best or self.early_stop_patience > 0


@dataclass
class EvalConfig:
    """The final evaluation scores eval.examples distinct held-out inputs of the test split, drawn
    with eval.seed (results.json). `variants` names other settings of the run's task to score the
    trained model on as well, each a table of task options over the run's own — longer operands of
    addition, longer runs of a Turing machine — on as many test inputs drawn with the same seed;
    results.json's `variants.<name>` holds its options and scores (exact_match with its interval,
    sequence_exact_match, n, token_accuracy, ...), which a claim reads as the metric
    `variants.<name>.exact_match`. In TOML `[eval.variants]` then `n16 = { n = 16, min_n = 16 }`;
    on the command line `--set 'eval.variants={n16={n=16,min_n=16}}'` (the whole table) or
    `--set 'eval.variants.n16={n=16,min_n=16}'` (one entry, the others kept). A variant must keep
    the run's vocabulary, and only a windowed shared model (model.weights = "shared",
    model.window > 0) runs sequences longer than its context T; both are checked, with the task's
    options, before training starts. `arlearn eval RUN` scores the variants again (test split)."""

    examples: int = 1000  #: distinct held-out examples for exact match (text: validation windows of periodic checks)
    batch_size: int = 500
    seed: int = 1234
    show_mistakes: int = 3
    #: named variants of the run's task, each a table of task options over the run's own (TOML:
    #: `[eval.variants]` then `n16 = { n = 16, min_n = 16 }`): the final evaluation also scores the
    #: model on eval.examples held-out examples of each (results.json: variants.<name>)
    variants: dict = field(default_factory=dict)

    def __post_init__(self):
        for k in ("examples", "batch_size"):
            if getattr(self, k) < 1:
                raise ArlearnError(f"eval: '{k}' must be ≥ 1, got {getattr(self, k)}")
        if self.show_mistakes < 0:
            raise ArlearnError(f"eval: 'show_mistakes' must be ≥ 0, got {self.show_mistakes}")
        _check_variants(self.variants)


#: a variant's name: a key of results.json's `variants` and of a claim's dotted metric path
VARIANT_NAME = re.compile(r"[A-Za-z0-9_-]+")


def _check_variants(variants) -> None:
    """eval.variants is {name: {task option: value}}; which options the task has is checked where
    the task is built (`arlearn.evaluation.variants`)."""
    if not isinstance(variants, dict):
        raise ArlearnError("eval: 'variants' must be a table of named task-option tables (e.g. "
                           f"variants = {{ n16 = {{ n = 16 }} }}), got {type(variants).__name__} {variants!r}")
    for name, options in variants.items():
        if not isinstance(name, str) or not VARIANT_NAME.fullmatch(name):
            raise ArlearnError(f"eval.variants: a variant's name must be letters, digits, '_' or '-' (it is a key "
                               f"of results.json and of a claim's metric path), got {name!r}")
        if not isinstance(options, dict) or not options:
            raise ArlearnError(f"eval.variants.{name}: must be a non-empty table of task options (e.g. "
                               f"{name} = {{ n = 16 }}), got {options!r}")
        if "name" in options:
            raise ArlearnError(f"eval.variants.{name}: 'name' cannot be set: a variant is the run's task with "
                               "other options")


@dataclass
class RunConfig:
    task: dict = field(default_factory=lambda: {"name": "multiplication"})
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    @property
    def task_name(self) -> str:
        return self.task.get("name", "")

    @property
    def task_options(self) -> dict:
        return {k: v for k, v in self.task.items() if k != "name"}

    def to_dict(self) -> dict:
        return {
            "task": dict(self.task),
            "model": dataclasses.asdict(self.model),
            "train": dataclasses.asdict(self.train),
            "eval": dataclasses.asdict(self.eval),
        }


SECTIONS = {"model": ModelConfig, "train": TrainConfig, "eval": EvalConfig}


def from_dict(d: dict) -> RunConfig:
    if not isinstance(d, dict):
        raise ArlearnError(f"config: expected a table of sections, got {type(d).__name__}")
    unknown = set(d) - {"task", *SECTIONS}
    if unknown:
        k = str(sorted(unknown, key=str)[0])
        shown = k if k.isprintable() else repr(k)
        raise ArlearnError(f"config: unknown section [{shown}]{did_you_mean(k, ['task', *SECTIONS])}")
    if not isinstance(d.get("task", {}), dict):
        raise ArlearnError("config: [task] must be a table")
    task = dict(d.get("task", {}))
    if not isinstance(task.get("name"), str):
        raise ArlearnError("config: [task] needs a 'name' (e.g. name = \"multiplication\")")
    kw = {}
    for sec, cls in SECTIONS.items():
        val = d.get(sec, {})
        if not isinstance(val, dict):
            raise ArlearnError(f"config: [{sec}] must be a table")
        if sec == "model":  # the model class `name` picks its own config dataclass
            cls = model_config_class(val.get("name", ModelConfig.name))
        kw[sec] = build_dataclass(cls, val, sec)
    return RunConfig(task=task, **kw)


def model_config_class(name) -> type:
    """The config dataclass of model class `name` (`arlearn.plugins.register_model`; the
    built-ins share `ModelConfig`)."""
    if not isinstance(name, str):
        raise ArlearnError(f"model: 'name' must be str, got {type(name).__name__} {name!r}")
    return model_class(name).config


def _parse_file(path: str | Path, fmt: str, parse, parse_errors) -> object:
    """A config file's text parsed by `parse`; every failure is one line naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ArlearnError(f"config file not found: {path}") from None
    except UnicodeDecodeError as e:
        raise ArlearnError(f"config file {path} is not valid {fmt}: {e}") from None
    except OSError as e:
        raise ArlearnError(f"cannot read config file {path}: {e.strerror}") from None
    try:
        return parse(text)
    except parse_errors as e:
        raise ArlearnError(f"config file {path} is not valid {fmt}: {' '.join(str(e).split())}") from None


def load_toml(path: str | Path) -> dict:
    return _parse_file(path, "TOML", tomllib.loads, tomllib.TOMLDecodeError)


YAML_SUFFIXES = (".yaml", ".yml")


def load_yaml(path: str | Path) -> dict:
    """A YAML config file (`yaml.safe_load`: plain data only) as the same {section: {key: value}}
    dict a TOML file gives; an empty file is an empty config."""
    try:
        import yaml
    except ImportError:
        raise ArlearnError(f"config file {path}: reading YAML needs PyYAML "
                           "(pip install 'arlearn[yaml]'), or write the config as TOML") from None
    d = _parse_file(path, "YAML", yaml.safe_load, yaml.YAMLError)
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise ArlearnError(f"config file {path}: expected a mapping of sections, got {type(d).__name__}")
    return d


def load_config_file(path: str | Path) -> dict:
    """A `--config` file: YAML by its suffix (.yaml/.yml), else TOML."""
    return load_yaml(path) if Path(path).suffix.lower() in YAML_SUFFIXES else load_toml(path)


def preset_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("arlearn.presets").iterdir() if p.name.endswith(".toml"))


def load_preset(name: str) -> dict:
    if name not in preset_names():
        raise ArlearnError(f"unknown preset '{name}'{did_you_mean(name, preset_names())}")
    return tomllib.loads(resources.files("arlearn.presets").joinpath(f"{name}.toml").read_text())


def parse_value(text: str):
    """A command-line override value: TOML syntax if it parses, else a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(d: dict, overrides: list[str]) -> dict:
    d = {k: dict(v) if isinstance(v, dict) else v for k, v in d.items()}
    for item in overrides:
        key, eq, value = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not eq or not dot or not name:
            raise ArlearnError(f"override must look like section.key=value, got {item!r}")
        d.setdefault(section, {})
        if not isinstance(d[section], dict):
            raise ArlearnError(f"override {item!r}: '{section}' is not a section")
        name, dot, entry = name.partition(".")
        value = parse_value(value.strip())
        if dot:  # one entry of a table-valued option (eval.variants.n16={n=16}), the others kept
            table = d[section].get(name, {})
            if not isinstance(table, dict) or not entry:
                raise ArlearnError(f"override {item!r}: '{section}.{name}' is not a table of named entries")
            value = {**table, entry: value}
        d[section] = _merge_section(section, d[section], {name: value})
    return d


#: task options that are alternatives to each other (the circuit task reads a .bench `file` or a
#: `generator`; `sha256` pins a file): a layer that sets one drops the others set before it
TASK_ALTERNATIVES = (frozenset({"file", "generator", "sha256"}),)


def _merge_section(section: str, old: dict, new: dict) -> dict:
    """`new`'s keys over `old`'s — except that naming a different task starts the [task] section
    afresh: the previous task's options (n, cot, ...) mean nothing to another task, and setting
    one of `TASK_ALTERNATIVES` drops the others. (Model options merge while the class keeps its
    config dataclass: `switch_model`.)"""
    if section == "task" and "name" in new and new["name"] != old.get("name", new["name"]):
        return dict(new)
    if section == "task":  # one source of several (a circuit's file or generator): the newest wins
        for group in TASK_ALTERNATIVES:
            given = group & new.keys()
            if given:
                old = {k: v for k, v in old.items() if k not in group or k in given}
    if section == "model" and "name" in new:
        return {**switch_model(old, new["name"]), **new}
    return {**old, **new}


def switch_model(section: dict, name) -> dict:
    """A [model] section with its class switched to `name`: every option kept when both classes
    share a config dataclass (linear, mlp and transformer share `ModelConfig`), else only the
    options the new class's config also has, set away from the old class's defaults (a resolved
    config lists every default; the new class keeps its own)."""
    old = section.get("name", ModelConfig.name)
    try:
        old_cls, new_cls = model_config_class(old), model_config_class(name)
    except ArlearnError:
        return {**section, "name": name}  # an unknown name: from_dict says so in one line
    if old_cls is new_cls:
        return {**section, "name": name}
    keep = {f.name for f in dataclasses.fields(new_cls)}
    defaults = {f.name: f.default for f in dataclasses.fields(old_cls) if f.default is not dataclasses.MISSING}
    return {**{k: v for k, v in section.items() if k in keep and (k not in defaults or v != defaults[k])},
            "name": name}


def resolve(preset: str | None = None, config_file: str | None = None, overrides=(),
            sources: dict | None = None) -> RunConfig:
    """The config of a preset, then a config file merged over it, then `section.key=value`
    overrides. `sources` (a dict, filled when given): "section.key" → where its value came from,
    "preset NAME", "config FILE" or "override"; keys absent from it keep their default."""
    d: dict = {}
    if preset:
        d = load_preset(preset)
        _note(sources, d, d, f"preset {preset}")
    if config_file:
        file_d = load_config_file(config_file)
        for sec, val in file_d.items():
            if isinstance(val, dict) and isinstance(d.get(sec), dict):
                d[sec] = _merge_section(sec, d[sec], val)
            else:
                d[sec] = val
        _note(sources, d, file_d, f"config {config_file}")
    for item in overrides:
        d = apply_overrides(d, [item])
        section, _, name = item.partition("=")[0].strip().partition(".")
        _note(sources, d, {section: {name.partition(".")[0]: None}}, "override")
    return from_dict(d)


def _note(sources: dict | None, d: dict, layer: dict, label: str) -> None:
    """Record `label` as the source of every key `layer` set, and forget keys a merge dropped."""
    if sources is None:
        return
    for sec, table in layer.items():
        if isinstance(table, dict):
            sources.update({f"{sec}.{k}": label for k in table})
    for key in list(sources):
        sec, _, k = key.partition(".")
        if not isinstance(d.get(sec), dict) or k not in d[sec]:
            del sources[key]


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):  # an inline table (eval.variants)
        keys = (k if VARIANT_NAME.fullmatch(k) else _toml_value(k) for k in map(str, v))
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in zip(keys, v.values()) if x is not None) + "}"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def dumps_toml(d: dict) -> str:
    """Write a {section: {key: scalar|list|table}} dict as TOML (tables inline; None values are omitted)."""
    lines = []
    for sec, table in d.items():
        lines.append(f"[{sec}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in table.items() if v is not None]
        lines.append("")
    return "\n".join(lines)
