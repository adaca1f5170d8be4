from arlearn.circuits.core import *  # noqa: F403
from arlearn.circuits.core import _topological_order  # noqa: F401
