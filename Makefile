# TaskHub make targets. The spec's targets (up, down, logs, migrate) drive Docker Compose;
# the native-* targets do the same for the native stack, which needs no Docker.
COMPOSE ?= docker compose -f compose/docker-compose.yml --env-file compose/.env
NOX ?= uv run nox

.PHONY: help up down logs migrate lint typecheck test e2e load bench \
	native-up native-down native-logs native-migrate native-status clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

up: ## compose: build and start every container, wait until healthy
	$(COMPOSE) up -d --build --wait

down: ## compose: stop and remove the containers (volumes are kept)
	$(COMPOSE) down

logs: ## compose: follow every container's logs
	$(COMPOSE) logs -f

migrate: ## compose: apply every service's migrations
	$(COMPOSE) up auth-migrate tasks-migrate notify-migrate

native-up: ## native: start the whole stack without Docker (address: taskhub-stack url gateway)
	$(NOX) -s up

native-down: ## native: stop every process of the native stack (data is kept)
	$(NOX) -s down

native-status: ## native: show the processes of the native stack
	$(NOX) -s status

native-logs: ## native: follow the native stack's logs
	$(NOX) -s logs

native-migrate: ## native: apply every service's migrations to the native databases
	uv run taskhub-stack migrate

lint: ## ruff, format check, gixy, hadolint, shellcheck, workflow and compose schemas
	$(NOX) -s lint typecheck

typecheck: ## mypy --strict on every package
	$(NOX) -s typecheck

test: ## unit + integration tests of every service (real PostgreSQL and Redis)
	$(NOX) -s tests

e2e: ## the Gherkin end-to-end suite through the gateway
	$(NOX) -s e2e

load: ## a realistic traffic mix through the gateway; prints RPS and latency percentiles
	$(NOX) -s load

bench: ## the benchmarks (login, task list, done-to-notification)
	$(NOX) -s bench

fuzz: ## schemathesis against every service's OpenAPI through the gateway
	$(NOX) -s fuzz

backup: ## pg_dump every database of the native stack into backups/
	$(NOX) -s backup

restore: ## restore one database: make restore FILE=backups/...dump
	$(NOX) -s restore -- $(FILE)

clean: ## stop the native stack and delete its data and the reports
	$(NOX) -s clean
