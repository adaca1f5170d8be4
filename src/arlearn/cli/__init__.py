from arlearn.cli.core import main  # noqa: F401
