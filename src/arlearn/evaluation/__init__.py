from arlearn.evaluation.core import *  # noqa: F403
