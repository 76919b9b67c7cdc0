"""`python -m taskhub_e2e.stack`: the native stack's command line."""

from taskhub_e2e.stack.cli import main

raise SystemExit(main())
