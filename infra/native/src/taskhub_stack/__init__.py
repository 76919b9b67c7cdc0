"""Control of a TaskHub deployment: the native stack, compose, or an external URL."""
