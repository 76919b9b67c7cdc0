"""taskhub_e2e."""
