"""`python -m datalab` is the `datalab` command."""

from datalab.cli import main

main()
