"""The Trainer: cross-entropy on next tokens, AdamW, warmup + cosine decay, gradient clipping.

One trainer for every case: a single process is a data-parallel world of size 1 (the
collectives in distributed.py are then no-ops), and `train.micro_batches` > 1 is gradient
accumulation in any world. The batch of step s is a pure function of (seed, s) — epoch e is a
permutation drawn from seed+e — and the learning rate of (config, s), so a run is reproducible
from its config alone and resumes bit-exactly from any checkpoint. What to measure (exact match
or perplexity) comes from the task's evaluator; the trainer never asks what kind of task it has.
Under train.keep_best / train.early_stop_patience the run ends with its best weights by the
periodic checks, and may stop early (arlearn.training.best).

The adaptive budget: under train.target_exact_match the periodic checks (on the task's validation
split when it has one) can end the run before train.steps. With train.anneal_steps = A the first
check at the target does not stop it at a high learning rate: the rate falls linearly to 0 over
the next A steps (`lr_at`'s anneal), then a check at the end decides — still at the target: stop
("target"); fallen below: the ordinary schedule resumes, and the next check at the target anneals
again. results.json records steps_to_target / seconds_to_target (where the run stopped at the
target) and target_first_step / target_first_seconds (the first check at it); seconds are
training time, the checks' own time is check_seconds. A target is honoured only where the checks
score at least MIN_VALID validation inputs (`untrusted_target` of the evaluator: a task without a
validation split — task.valid_fraction = 0 — checks the test inputs it reports, and one whose input
space is too small for one checks training inputs): elsewhere the run warns once and trains to its
budget, still recording the first check at the target (results.json: target_honoured = false).
For the same reason train.keep_best and train.early_stop_patience are errors on a task without a
validation split.

The time bound: under train.max_minutes the run projects, from the measured rate of its steps,
the step at which its training time runs out. When that comes before train.steps, the run does not
stop wherever the schedule is: the steps to it are the final anneal, the same linear fall of the
rate to 0 (`lr_at`) over train.anneal_steps (or, where that is 0, the last TIME_ANNEAL_FRACTION of
the projected steps), begun when the projection leaves that many; the run stops where the anneal
ends (or the time does). It logs one line, and results.json records stopped_by = "time",
annealed_from_step and annealed_steps.
"""

from __future__ import annotations

import json
import signal
import sys
import time
import warnings
from pathlib import Path

import torch
from tqdm.auto import tqdm

from arlearn.config import RunConfig, from_dict
from arlearn.device import RunContext, flush_denormals, machine_info, usable_device
from arlearn.errors import ArlearnError, TrainingStopped
from arlearn.signals import StopFlag, check_stop
from arlearn.evaluation import evaluator_for
from arlearn.evaluation.variants import run_variants
from arlearn.training import checkpoint
from arlearn.training.best import BestKeeper
from arlearn.training.tensorboard import FanOut, TensorBoardLog, require_tensorboard
from arlearn.training.distributed import any_rank, broadcast_object, shard_rows, world
from arlearn.training.step import (accumulate_gradients, block_layers, lr_at, make_optimizer, seed_everything,
                                   shrink_blocks)
from arlearn.training.memory import check_fits
from arlearn.rundir import (
    METRICS,
    RESULTS,
    MetricsLog,
    build,
    claim_run_dir,
    finished_steps,
    load_run_config,
    portable_config,
    prepare_run_dir,
    save_model,
    task_assets,
    unfinish,
    write_results,
)

#: weight of the newest step in the progress bar's running loss / accuracy
SMOOTHING = 0.05
#: steps timed before train.max_minutes' estimate of the last step is made (after as many that
#: are not timed: the first ones, allocation and warm-up, are slow)
RATE_STEPS = 5
#: under train.max_minutes with train.anneal_steps = 0: the share of the projected steps the final
#: anneal spans
TIME_ANNEAL_FRACTION = 0.1
#: offset between ranks' seeds (each rank draws its own dropout stream)
RANK_SEED_STRIDE = 1_000_003


def _without_steps(config: dict) -> dict:
    """A stored config with train.steps left out (the one value a resumed run may change), its
    sections filled with the defaults of options added since it was written (as JSON stores it)."""
    try:
        config = json.loads(json.dumps(from_dict(config).to_dict()))
    except ArlearnError:
        pass  # not a valid config: compared as it is (and found different)
    out = dict(config)
    out["train"] = {k: v for k, v in config.get("train", {}).items() if k != "steps"}
    return out


class _NullLog:
    """The metrics log of ranks other than 0 (only rank 0 writes)."""

    def write(self, **row) -> None:
        pass

    def truncate_after(self, step: int) -> None:
        pass

    def close(self) -> None:
        pass


class Trainer:
    """Trains `cfg` into `run_dir`. A new run needs an absent or empty directory (or `overwrite`:
    the run's own files there are deleted first); `resume` continues the run in `run_dir` from its
    newest intact checkpoint, and a `cfg.train.steps` above its config.toml's extends it.
    Everything that can fail (task options, data, device, the directory) is checked before
    anything is written."""

    @property
    def device(self):
        """The run's torch device (`ctx.device`)."""
        return self.ctx.device

    @property
    def bf16(self) -> bool:
        """Whether the run computes under bf16 autocast (`ctx.bf16`)."""
        return self.ctx.bf16

    def __init__(self, cfg: RunConfig, run_dir: str | Path, progress: bool = True, resume: bool = False,
                 overwrite: bool = False):
        self.cfg, tc = cfg, cfg.train
        self.world = w = world()
        if w.size > 1 and tc.max_minutes:
            raise ArlearnError("train.max_minutes is not supported with several processes (each rank's clock "
                               "would stop it at a different step); bound the run by train.steps")
        if resume and overwrite:
            raise ArlearnError("resume continues the run in the directory, overwrite replaces it: choose one")
        shard_rows(tc.batch_size, w, tc.micro_batches)  # fail early on indivisible batches
        self.progress = progress and w.is_main
        # the run's device, precision, threads and eval batch size, once (a missing device fails here)
        self.ctx = RunContext.from_config(cfg, device=usable_device(tc.device), progress=self.progress)
        self.ctx.use_threads()
        seed_everything(tc.seed)
        # bad task options, or a model too big for this machine, fail here, before anything is written
        self.task, self.model = build(cfg, before_model=lambda task, T: check_fits(
            cfg.model, cfg.train, len(task.vocab), T, world=w.size))
        variants = run_variants(cfg, self.task, self.model)  # eval.variants the model cannot run fail here too
        if tc.logger == "tensorboard":
            require_tensorboard()  # a missing package fails here too
        if not resume and not overwrite:  # a non-empty directory fails now, before data generation
            self._on_main(lambda: claim_run_dir(run_dir, overwrite=False))
        self.model.to(self.device)
        self.opt = make_optimizer(self.model, tc.lr, tc.weight_decay)
        self.sparse_layers = block_layers(self.model, "train.block_l1") if tc.block_l1 else []
        self.step = 0
        self.train_seconds = 0.0
        self.check_seconds = 0.0  # time spent in periodic checks
        self.anneal_from: int | None = None  # the step an anneal began (None: none running)
        self.anneal_steps = tc.anneal_steps  # its length
        self.anneal_cause: str | None = None  # "target" (a check reached it) or "time" (train.max_minutes)
        self.clock = time.perf_counter  # the clock of training time (tests give a fake one)
        self.target_first: tuple[int, float] | None = None  # (step, train seconds) of the first check at target
        self.target_honoured = True  # whether a check at the target may stop the run (see _fit)
        self.data = self.task.train_data(tc, self.progress)
        self.evaluator = evaluator_for(self.task, cfg.eval, self.ctx, variants)
        if tc.keeps_best and getattr(self.evaluator, "check_split", None) == "test":
            raise ArlearnError(f"train.keep_best and train.early_stop_patience pick weights by the periodic checks, and "
                               f"task {self.task.name!r} has no validation split: they would score the test inputs the "
                               "final results report; give it one with task.valid_fraction (e.g. 0.1)")
        self.last_checkpoint = (0, 0.0)  # (step, train_seconds) of the newest checkpoint
        self.run_dir, self.extending = Path(run_dir), False
        self.best = BestKeeper(self.run_dir, tc, len(self.data), write=w.is_main) if tc.keeps_best else None
        if tc.checkpoint_every or tc.checkpoint_minutes:
            checkpoint.check_space(self.run_dir, self.model, tc.keep_checkpoints)
        assets = task_assets(self.task)  # read before an overwritten directory is cleared
        self._on_main(lambda: self._check_resumable() if resume else claim_run_dir(self.run_dir, overwrite))
        ckpt = self.resume() if resume else None  # nothing is written before this point
        self.run_dir, self.cfg = self._on_main(lambda: self._write_run_dir(run_dir, cfg, assets),  # cfg: as stored
                                               lambda: prepare_run_dir(run_dir, cfg, assets, write=False))
        self.log = _NullLog()
        if w.is_main:
            self.log = MetricsLog(self.run_dir / METRICS, fresh=not resume)
            if tc.logger == "tensorboard":
                self.log = FanOut(self.log, TensorBoardLog(self.run_dir))
        if ckpt is not None:
            self.log.truncate_after(self.step)  # rows logged after the checkpoint are logged again
        if not w.is_main:
            torch.manual_seed(tc.seed + RANK_SEED_STRIDE * w.rank)  # own dropout stream per rank
        self.net = self.model
        if w.size > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [torch.cuda.current_device()] if self.device.type == "cuda" else None
            # a context longer than the sequences leaves the last block-causal chunks unused
            unused = getattr(self.model, "T", 0) > self.task.seq_len - 1
            self.net = DDP(self.model, device_ids=ids, find_unused_parameters=unused)

    def _on_main(self, fn, elsewhere=lambda: None):
        """`fn()` on rank 0, `elsewhere()` on the other ranks, which wait until rank 0 is done;
        an ArlearnError of rank 0 is raised on every rank (so none waits forever in a collective)."""
        out, err = None, None
        if self.world.is_main:
            try:
                out = fn()
            except ArlearnError as e:
                err = str(e)
        err = broadcast_object(err, self.world)
        if err:
            raise ArlearnError(err)
        return out if self.world.is_main else elsewhere()

    def _write_run_dir(self, run_dir, cfg: RunConfig, assets: dict):
        """Create the run directory with the task's input files and config.toml; a run extended
        beyond its finish loses its old results.json."""
        out = prepare_run_dir(run_dir, cfg, assets)
        if self.extending:
            unfinish(out[0])
        return out

    def _check_resumable(self) -> None:
        """A resumed run is unfinished, or `cfg.train.steps` extends it beyond its config.toml's."""
        stored = load_run_config(self.run_dir).train.steps
        steps = self.cfg.train.steps
        if steps < stored:
            raise ArlearnError(f"{self.run_dir} was configured for train.steps={stored}; a resumed run can "
                               f"only train longer, not stop at {steps}")
        done = finished_steps(self.run_dir)
        if done is not None and steps == stored:
            raise ArlearnError(f"{self.run_dir} has finished ({done} of {stored} steps, {RESULTS} written); "
                               "nothing to resume. To train it further, resume with a larger train.steps "
                               "(--steps N)")

    # -- checkpoints ------------------------------------------------------------------------
    def resume(self) -> checkpoint.Checkpoint:
        """Continue from the newest intact checkpoint: weights, optimizer, RNGs, step (a damaged
        newer one is skipped with a warning). The caller truncates the metrics log."""
        ckpt, damaged = checkpoint.newest_intact(self.run_dir)
        if ckpt is None:
            if damaged:
                raise ArlearnError(f"nothing to resume in {self.run_dir}: no intact checkpoint ({damaged[0]})")
            raise ArlearnError(f"nothing to resume in {self.run_dir}: no checkpoints/step-* directory "
                               "(checkpoints are written every train.checkpoint_every steps)")
        if damaged and self.world.is_main:
            warnings.warn(f"{'; '.join(damaged)}; resuming from the newest intact checkpoint, {ckpt.path.name}",
                          checkpoint.CheckpointWarning, stacklevel=2)
        stored = ckpt.state.get("config")
        mine = json.loads(json.dumps(portable_config(self.cfg, self.run_dir)))  # as JSON stored it
        old_steps = stored.get("train", {}).get("steps") if isinstance(stored, dict) else None
        if not isinstance(old_steps, int) or _without_steps(stored) != _without_steps(mine):
            raise ArlearnError(f"checkpoint {ckpt.path} was written by a different config than "
                               f"{self.run_dir}/config.toml")
        if ckpt.step > self.cfg.train.steps:
            raise ArlearnError(f"checkpoint {ckpt.path} is at step {ckpt.step}, beyond train.steps="
                               f"{self.cfg.train.steps}")
        self.extending = self.cfg.train.steps > old_steps
        checkpoint.restore(ckpt, self.model, self.opt)
        if self.best is not None:
            self.best.load_json(ckpt.state.get("best"))
        self.step, self.train_seconds = ckpt.step, float(ckpt.state.get("train_seconds", 0.0))
        self.check_seconds = float(ckpt.state.get("check_seconds", 0.0))  # absent in older checkpoints
        self.anneal_from = ckpt.state.get("anneal_from")
        self.anneal_steps = ckpt.state.get("anneal_steps", self.cfg.train.anneal_steps)
        self.anneal_cause = ckpt.state.get("anneal_cause", "target" if self.anneal_from is not None else None)
        first = ckpt.state.get("target_first")
        self.target_first = tuple(first) if first else None
        self.last_checkpoint = (self.step, self.train_seconds)
        return ckpt

    def save_checkpoint(self) -> Path | None:
        """Write a checkpoint (rank 0 only; the others just note the step)."""
        path = None
        if self.world.is_main:
            tc = self.cfg.train
            extra = {"train_seconds": self.train_seconds, "check_seconds": self.check_seconds,
                     "config": portable_config(self.cfg, self.run_dir),
                     "anneal_from": self.anneal_from, "anneal_steps": self.anneal_steps,
                     "anneal_cause": self.anneal_cause, "target_first": self.target_first}
            if self.best is not None:
                extra["best"] = self.best.to_json()
            path = checkpoint.save_checkpoint(self.run_dir, self.step, self.model, self.opt, extra,
                                              tc.keep_checkpoints)
            if self.best is not None:
                self.best.prune()  # best weights no kept checkpoint refers to
        self.last_checkpoint = (self.step, self.train_seconds)
        return path

    def maybe_checkpoint(self, stop: StopFlag | None = None) -> float:
        """Checkpoint when due (or when a signal on any rank asked to stop); returns the seconds it took."""
        tc = self.cfg.train
        t = self.clock()
        if stop is not None and any_rank(stop.signal is not None, self.world, self.device) and stop.signal is None:
            stop.signal = signal.SIGTERM  # another rank was asked to stop: stop after the same step
        due = (tc.checkpoint_every and self.step % tc.checkpoint_every == 0) or (
            tc.checkpoint_minutes and self.train_seconds - self.last_checkpoint[1] >= 60 * tc.checkpoint_minutes)
        if ((due and self.step < tc.steps) or (stop and stop.signal)) and self.last_checkpoint[0] != self.step:
            self.save_checkpoint()
        if stop and stop.signal:
            raise TrainingStopped(stop.name, self.step, self.run_dir)
        return self.clock() - t

    # -- one step ---------------------------------------------------------------------------
    def train_step(self) -> tuple[float, float, float]:
        tc = self.cfg.train
        x, m = self.data.batch(self.step)  # the global batch: the same on every rank
        x, m = x.to(self.device), m.to(self.device)
        lr = lr_at(self.step, tc, self.anneal_from, self.anneal_steps)
        for g in self.opt.param_groups:
            g["lr"] = lr
        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        loss, acc = accumulate_gradients(self.net, x, m, self.world, tc.micro_batches,
                                         self.ctx.autocast)
        params = [p for p in self.model.parameters() if p.grad is not None]
        if tc.grad_clip:
            norm = torch.nn.utils.clip_grad_norm_(params, tc.grad_clip)
        else:
            norm = torch.nn.utils.get_total_norm([p.grad for p in params])
        if not bool(torch.isfinite(loss) & torch.isfinite(norm.to(loss.device))):  # never step on NaN/inf
            what = "loss" if not torch.isfinite(loss) else "gradient norm"
            last = checkpoint.latest_checkpoint(self.run_dir)
            raise ArlearnError(f"step {self.step + 1}: {what} is {float(loss if what == 'loss' else norm)}; "
                               f"training stopped, weights not updated; last good checkpoint: {last or 'none'}")
        self.opt.step()
        self.step += 1
        shrink_blocks(self.sparse_layers, self.step, tc, self.anneal_from, self.anneal_steps)  # train.block_l1's group lasso
        return loss.item(), acc.item(), lr

    # -- evaluation: rank 0 evaluates, every rank gets its result ------------------------------
    def check(self) -> dict:
        """A periodic held-out check (a metrics row)."""
        full = bool(self.cfg.train.target_exact_match) or self.best is not None  # all of it when it can stop the run
        row = self.evaluator.check(self.model, full) if self.world.is_main else None
        return broadcast_object(row, self.world)

    def final_evaluation(self) -> tuple[dict, list[dict] | None]:
        summary, records = self.evaluator.final(self.model) if self.world.is_main else (None, None)
        return broadcast_object(summary, self.world), records

    # -- the loop ---------------------------------------------------------------------------
    def fit(self, stop: StopFlag | None = None) -> dict:
        """Train to the end. SIGINT/SIGTERM finish the current step, checkpoint and raise
        TrainingStopped (`stop`: an already active StopFlag, as `train()` holds one)."""
        if stop is None:
            with StopFlag() as stop:
                return self.fit(stop)
        self.stop = stop
        with flush_denormals():  # a learned model's subnormal gradients would slow CPU GEMMs ~90×
            return self._fit()

    def _fit(self) -> dict:
        tc = self.cfg.train
        bar = tqdm(total=tc.steps, initial=self.step, disable=not self.progress, desc="train",
                   unit="step", dynamic_ncols=True)
        run_loss = run_acc = None
        t0 = self.clock() - self.train_seconds
        first = (self.step, self.train_seconds)
        origin = None  # (step, train seconds) from which train.max_minutes measures the rate of steps
        stopped = "steps"
        untrusted = self.evaluator.untrusted_target() if tc.target_exact_match and tc.eval_every else None
        self.target_honoured = untrusted is None
        if untrusted and self.world.is_main:
            warnings.warn(f"train.target_exact_match = {tc.target_exact_match:g} is not honoured: {untrusted}; "
                          "the run trains to its budget", stacklevel=2)
        while self.step < tc.steps:
            loss, acc, lr = self.train_step()
            run_loss = loss if run_loss is None else (1 - SMOOTHING) * run_loss + SMOOTHING * loss
            run_acc = acc if run_acc is None else (1 - SMOOTHING) * run_acc + SMOOTHING * acc
            self.train_seconds = self.clock() - t0
            bar.update(1)
            if tc.max_minutes:
                if origin is None and self.step - first[0] >= RATE_STEPS:
                    origin = (self.step, self.train_seconds)
                end = time_bound(self.step, self.train_seconds, origin, 60 * tc.max_minutes, tc.steps)
                if end is not None and end != bar.total:
                    bar.total = end
                    bar.refresh()
                if end is not None and end < tc.steps and self.anneal_from is None:
                    self._anneal_for_time(end, bar)
            if self.step % tc.log_every == 0 or self.step == tc.steps:
                bar.set_postfix(loss=f"{run_loss:.4f}", acc=f"{run_acc:.3f}")
                self.log.write(step=self.step, loss=loss, token_acc=acc, lr=lr,
                               seconds=round(self.train_seconds, 3))
            annealing = self.anneal_from is not None
            anneal_done = annealing and self.step >= self.anneal_from + self.anneal_steps
            if anneal_done and self.anneal_cause == "time":
                stopped = "time"  # the time bound's anneal is over: the rate is 0
                break
            due = tc.eval_every and self.step % tc.eval_every == 0 and not annealing
            if (due or anneal_done) and self.step < tc.steps:
                row = self.check()
                self.log.write(step=self.step, **row, seconds=round(self.train_seconds, 3))
                bar.write(f"step {self.step}: {self.evaluator.message(row)}", file=sys.stderr)
                self.check_seconds += time.perf_counter() - t0 - self.train_seconds
                t0 = time.perf_counter() - self.train_seconds  # eval time is not training time
                if self.best is not None and self.best.observe(self.step, row, self.model):
                    stopped = "early_stop"  # train.early_stop_patience checks without improvement
                    bar.write(f"stopping early: no improvement since step {self.best.state.step}", file=sys.stderr)
                    break
                reached = self.evaluator.reached(row, tc.target_exact_match)
                if reached and self.target_first is None:
                    self.target_first = (self.step, round(self.train_seconds, 1))
                reached = reached and self.target_honoured  # an untrusted check records the target, never stops
                if reached and (anneal_done or not tc.anneal_steps):
                    stopped = "target"
                    break
                if reached:  # first time at the target: anneal the rate to 0, then check again
                    self.anneal_from, self.anneal_steps, self.anneal_cause = self.step, tc.anneal_steps, "target"
                    bar.write(f"target reached: annealing the learning rate to 0 over {tc.anneal_steps} steps",
                              file=sys.stderr)
                elif anneal_done:  # fell below the target while annealing: the ordinary schedule resumes
                    self.anneal_from = self.anneal_cause = None
            if tc.max_minutes and self.train_seconds >= 60 * tc.max_minutes:
                stopped = "time"
                break
            t0 += self.maybe_checkpoint(self.stop)  # checkpoint time is not training time
        bar.close()
        return self.finish(stopped)

    def _anneal_for_time(self, end: int, bar) -> None:
        """Begin the final anneal when the time bound's projected last step `end` (before
        train.steps) leaves no more steps than the anneal spans: it ends at `end`."""
        tc = self.cfg.train
        span = tc.anneal_steps or max(round(TIME_ANNEAL_FRACTION * end), 1)
        if self.step < end - span:
            return
        self.anneal_from, self.anneal_steps, self.anneal_cause = self.step, max(end - self.step, 1), "time"
        bar.write(f"step {self.step}: train.max_minutes = {tc.max_minutes:g} allows about {end} of "
                  f"train.steps = {tc.steps}: annealing the learning rate to 0 over the last {self.anneal_steps} "
                  "steps", file=sys.stderr)

    def _time_summary(self) -> dict:
        """results.json's record of the time bound's anneal (runs with train.max_minutes)."""
        if not self.cfg.train.max_minutes:
            return {}
        timed = self.anneal_cause == "time"
        return {"annealed_from_step": self.anneal_from if timed else None,
                "annealed_steps": self.anneal_steps if timed else None}

    def _target_summary(self, stopped: str) -> dict:
        """results.json's record of the adaptive budget (runs with train.target_exact_match)."""
        tc = self.cfg.train
        if not tc.target_exact_match or not tc.eval_every:
            return {}
        at = stopped == "target"
        first = self.target_first or (None, None)
        return {"target_exact_match": tc.target_exact_match, "check_split": getattr(self.evaluator, "check_split", None),
                "check_n": len(getattr(self.evaluator, "check_examples", ())) or None,
                "steps_to_target": self.step if at else None,
                "seconds_to_target": round(self.train_seconds, 1) if at else None,
                "target_first_step": first[0], "target_first_seconds": first[1],
                "target_honoured": self.target_honoured,
                "check_seconds": round(self.check_seconds, 1)}

    def finish(self, stopped: str) -> dict:
        """Save the weights (the best ones under train.keep_best) and evaluate them (and on the task
        variants of eval.variants: results.json's `variants`); rank 0 writes results.json (and
        per-example records) and returns them."""
        tc = self.cfg.train
        if self.best is not None and self.best.state.checked != self.step:  # the final weights are a candidate
            row = self.check()
            self.log.write(step=self.step, **row, seconds=round(self.train_seconds, 3))
            self.best.observe(self.step, row, self.model)
        if (tc.checkpoint_every or tc.checkpoint_minutes) and self.last_checkpoint[0] != self.step:
            self.save_checkpoint()  # a finished run can be extended (resumed with more steps)
        if self.world.is_main:
            if self.best is not None:
                self.best.prune()
                self.best.restore(self.model, self.step)  # from here on the model holds the best weights
            save_model(self.run_dir, self.model)
        summary, records = self.final_evaluation()
        if not self.world.is_main:
            return {}
        results = {
            "task": self.task.describe(),
            "model": self.cfg.model.name,
            "parameters": self.model.live_parameters(),
            **summary,
            "steps": self.step,
            "stopped_by": stopped,
            **self._target_summary(stopped),
            **self._time_summary(),
            **(self.best.summary() if self.best is not None else {}),
            **self.data.consumed(self.step, self.train_seconds),
            "train_seconds": round(self.train_seconds, 1),
            "device": str(self.device),
            "dtype": "bf16" if self.bf16 else "fp32",
            "machine": machine_info(self.device, self.bf16),
        }
        self.log.write(step=self.step, **self.evaluator.row(summary), final=True)
        self.log.close()
        write_results(self.run_dir, results, records)
        return results


def time_bound(step: int, seconds: float, origin: tuple[int, float] | None, limit_s: float, steps: int) -> int | None:
    """Under train.max_minutes: the step at which the run's training time reaches `limit_s`
    (at most `steps`), at the rate measured since `origin` (step, seconds); None until RATE_STEPS
    steps have been timed since it. The progress bar's total (and so its ETA), and the step the
    final anneal ends at. The estimate follows the measured rate both ways; `origin` leaves out
    the run's first steps (allocation, warm-up), which are slow: a total fixed from them would stay
    too small for the whole run."""
    if origin is None or step - origin[0] < RATE_STEPS:
        return None
    rate = (step - origin[0]) / max(seconds - origin[1], 1e-9)
    return max(min(steps, step + int(rate * max(limit_s - seconds, 0.0))), step)


def train(cfg: RunConfig, run_dir: str | Path, progress: bool = True, resume: bool = False,
          overwrite: bool = False) -> dict:
    """Train a model as configured, write the run directory, return the final results.
    With `resume`, continue from the run directory's newest checkpoint (bit-exact); with
    `overwrite`, replace the run in a non-empty `run_dir`. SIGINT/SIGTERM stop promptly in every
    phase: before training starts (data generation, setup) with `Interrupted`, during training
    after the current step with a checkpoint and `TrainingStopped`."""
    with StopFlag() as stop:
        trainer = Trainer(cfg, run_dir, progress, resume, overwrite)
        check_stop("setup")
        return trainer.fit(stop)
