"""The scenarios load the suite's plugin: options, tags, fixtures, steps and reports."""

pytest_plugins = ["taskhub_e2e.plugin"]
