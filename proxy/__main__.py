"""`python -m proxy` runs the vecgate command line."""

from proxy.cli import main

raise SystemExit(main())
