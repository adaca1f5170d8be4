from arlearn.turing.core import *  # noqa: F403
