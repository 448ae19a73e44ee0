"""``python -m assets_core.cli``: the same as the ``assets`` command."""

from assets_core.cli import main

main()
