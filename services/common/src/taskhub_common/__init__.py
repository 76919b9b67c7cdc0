"""taskhub_common."""
