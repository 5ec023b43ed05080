"""`python -m trainlab` runs the command-line tool."""

from trainlab.cli import main

raise SystemExit(main())
