"""arlearn: auto-regressive next-token predictors trained on chain-of-thought data.

The data flows top to bottom through the package:

    tasks/ (prompt, CoT, answer over a Vocab) -> data.py (token tensors, loss masks)
    -> models/ (linear, mlp, transformer) -> train.py -> evaluate.py (greedy exact match)

See README.md for the command line; every command is also a plain function call.
"""

from arlearn.errors import ArlearnError

__all__ = ["ArlearnError"]
__version__ = "0.1.0"
