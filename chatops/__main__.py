"""`python -m chatops` is the `chatops` command."""

from chatops.cli.main import main

raise SystemExit(main())
