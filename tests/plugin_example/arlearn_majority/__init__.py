"""An example arlearn plug-in: the task `majority` (arlearn_majority.task) and the model class
`bag` (arlearn_majority.model). Importing the package registers both."""

__version__ = "0.1.0"

from arlearn_majority import model, task  # noqa: F401,E402  (registers `bag` and `majority`)
