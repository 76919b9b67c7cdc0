"""`python -m taskhub_stack.fuzz` (also `taskhub-fuzz`): fuzz every service through the gateway."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from taskhub_e2e.target import admin_credentials
from taskhub_stack.fuzz import SERVICES, FuzzError, FuzzOptions, run_edges, run_fuzz, summary
from taskhub_stack.native import NativeStack


def parse_args(argv: Sequence[str] | None = None) -> FuzzOptions:
    defaults = FuzzOptions()
    parser = argparse.ArgumentParser(prog="taskhub-fuzz", description=__doc__)
    parser.add_argument(
        "--base-url",
        default=os.environ.get("TASKHUB_BASE_URL", defaults.base_url),
        help=f"gateway URL (env TASKHUB_BASE_URL; default {defaults.base_url})",
    )
    parser.add_argument(
        "--service",
        action="append",
        choices=SERVICES,
        help="fuzz only this service (repeatable; default: all)",
    )
    parser.add_argument(
        "--seconds",
        type=int,
        default=defaults.seconds_per_service,
        help=f"time budget per service (default {defaults.seconds_per_service})",
    )
    parser.add_argument("--max-examples", type=int, default=defaults.max_examples)
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument("--seed", type=int, default=None, help="replay a run's seed")
    parser.add_argument("--reports-dir", type=Path, default=defaults.reports_dir)
    parser.add_argument(
        "--email-domain",
        default=os.environ.get("TASKHUB_E2E_EMAIL_DOMAIN", defaults.email_domain),
    )
    phases = parser.add_mutually_exclusive_group()
    phases.add_argument("--edges-only", action="store_true", help="only the targeted edge cases")
    phases.add_argument("--no-edges", action="store_true", help="only Schemathesis")
    parser.add_argument(
        "--webhook-url",
        default=os.environ.get("TASKHUB_FUZZ_WEBHOOK_URL", defaults.webhook_url),
        help="a webhook target the deployment accepts (env TASKHUB_FUZZ_WEBHOOK_URL)",
    )
    args = parser.parse_args(argv)
    # Administrators' operations are fuzzed too when admin credentials are known (natively
    # from the stack's environment, else TASKHUB_ADMIN_EMAIL / TASKHUB_ADMIN_PASSWORD).
    native = None if "TASKHUB_BASE_URL" in os.environ else NativeStack()
    credentials, _ = admin_credentials(os.environ, native)
    return FuzzOptions(
        base_url=args.base_url,
        services=tuple(args.service or SERVICES),
        seconds_per_service=args.seconds,
        max_examples=args.max_examples,
        workers=args.workers,
        reports_dir=args.reports_dir,
        seed=args.seed,
        email_domain=args.email_domain,
        schemathesis=not args.edges_only,
        edges=not args.no_edges,
        webhook_url=args.webhook_url,
        admin=None if credentials is None else (credentials.email, credentials.password),
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    passed = True
    try:
        if options.schemathesis:
            results = run_fuzz(options)
            print(summary(results))
            passed = all(result.passed for result in results)
        if options.edges:
            report, seconds = run_edges(options)
            print(f"{report.summary()}\n  took {seconds:.1f} s")
            passed = passed and report.passed
    except (FuzzError, OSError) as error:
        print(f"taskhub-fuzz: {error}", file=sys.stderr)
        return 2
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
