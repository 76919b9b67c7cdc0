"""TaskHub template-svc: the starting point of a new service (docs/new-service.md)."""
