from arlearn.compile.core import *  # noqa: F403
from arlearn.compile.core import _load_for_verify  # noqa: F401
