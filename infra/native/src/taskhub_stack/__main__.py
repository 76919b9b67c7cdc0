"""`python -m taskhub_stack`: the native stack's command line."""

from taskhub_stack.cli import main

raise SystemExit(main())
