"""Step definitions, one module per capability; `taskhub_e2e.plugin` registers them all.

`common` holds the cast of people and the outcomes every feature shares ("she is told to
sign in"); the other modules hold the steps of one area of the product.
"""
