"""arlearn: auto-regressive next-token predictors trained on chain-of-thought data.

The data flows top to bottom through the package:

    tasks/ (prompt, CoT, answer; or a token stream) -> tasks/encoding.py (token batches)
    -> models/ (linear, mlp, transformer) -> training/ (the Trainer) -> evaluation/
    (greedy exact match, perplexity) -> reporting/

circuits/ and turing/ feed both the tasks and compile/ (exact weights of the linear model);
experiments/ runs grids of trainings; cli/ wires it all to the `arlearn` command. See README.md.
"""

from arlearn.errors import ArlearnError

__all__ = ["ArlearnError"]
__version__ = "0.1.0"
