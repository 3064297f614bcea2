"""``python -m tapeflow``: the same as the ``tapeflow`` command."""

from tapeflow.cli import main

main()
