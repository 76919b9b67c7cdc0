"""A mixed workload of many users: list reads, single reads and status changes, next to healthz.

Usage (from the repository root, inside the workspace venv):

    python services/task-svc/benchmarks/bench_mix.py [--base-url URL] \\
        [--users 40] [--tasks-per-user 50] [--write-share 0.10] [--connections 32] \\
        [--seconds 15] [--prefix bench-mix]

What it does:
1. Registers (or logs in) `--users` users `{prefix}-{n}@example.com` and seeds each with
   `--tasks-per-user` tasks through `POST /tasks`: priorities, statuses (todo and
   in_progress), 0-3 tags of a pool of 12 and due dates from two weeks ago to two months
   ahead (a quarter without one) all vary. Users who already have their tasks are reused.
   Seeding goes through the real API: the stack must run with a raised
   `TASKS_CREATE_RATE_LIMIT` (`nox -s bench` does).
2. Runs the mix for `--warmup` seconds unmeasured (a stack just started has kept no page
   and prepared no statement yet), then `--rounds` rounds of `wrk` against
   `/tasks/healthz` followed by the mix for as long, with `--connections` connections.
   Each request is, by weight:
   - a status change (`--write-share`): `PATCH /tasks/{id} {"status": ...}` toggling one of
     the user's tasks between `todo` and `in_progress` (no notification is involved); each
     wrk thread goes round its own share of the user's tasks, so the changes in flight are
     of different tasks;
   - a single read (5 %, less when writes leave less): `GET /tasks/{id}`;
   - otherwise a list read, one of 12 filter/page shapes (status, several statuses, tags,
     two tags, due windows, pages and page sizes).
   Every request is made by one of the users, at random.
3. Prints rps, p50/p90/p99, the ratio to healthz, the list-cache hit rate of the run (the
   difference of task-svc's `taskhub_task_list_cache_lookups_total` before and after) and
   the share of each request kind sent, per round; with several rounds, the median ratio
   and p99 (one run varies by about ±5 % on the 2-core machine).

`--write-share 1 --users 1 --connections 16` is the status-change-only workload (one user
toggling 16 connections' worth of changes); `nox -s bench -- status` runs it.
It asserts nothing; it prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

# The sibling script (its folder is on sys.path when this one runs) reads wrk's output.
from bench_list import WrkResult, parse_wrk

from taskhub_stack.ports import StackPorts

HEALTH_PATH = "/tasks/healthz"
# The benchmark users are throwaway accounts of a local stack.
PASSWORD = "bench-password-123"  # noqa: S105
SINGLE_READ_SHARE = 0.05
SEED_CONCURRENCY = 8
TAG_POOL = [f"mix-{n:02d}" for n in range(12)]
METRIC = re.compile(r'^taskhub_task_list_cache_lookups_total\{result="(\w+)"\}\s+([\d.e+]+)$', re.M)


@dataclass(frozen=True)
class User:
    token: str
    task_ids: list[str]
    in_progress: list[bool]

    @classmethod
    def of(cls, token: str, tasks: list[tuple[str, bool]]) -> User:
        """From (id, in progress) pairs, as `_task_ids` reads them."""
        return cls(token, [task_id for task_id, _ in tasks], [doing for _, doing in tasks])


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base-url",
        default=StackPorts.from_env().url("gateway"),
        help="the gateway (default: the native stack's, `taskhub-stack url gateway`)",
    )
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--tasks-per-user", type=int, default=50)
    parser.add_argument("--write-share", type=float, default=0.10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=15, help="seconds per measurement")
    parser.add_argument(
        "--warmup",
        type=int,
        default=5,
        help="seconds of the mix, not measured, before the first round (default 5)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="healthz-then-mix rounds; the median is reported"
    )
    parser.add_argument("--prefix", default="bench-mix", help="e-mail prefix of the users")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if not 0 <= args.write_share <= 1:
        parser.error("--write-share is a fraction between 0 and 1")
    return args


async def _user(client: httpx.AsyncClient, email: str, tasks: int, number: int) -> User:
    credentials = {"email": email, "password": PASSWORD}
    response = await client.post("/auth/register", json={**credentials, "name": "Benchmark"})
    if response.status_code not in (201, 409):
        raise SystemExit(f"register failed: {response.status_code} {response.text}")
    response = await client.post("/auth/login", json=credentials)
    if response.status_code != 200:
        raise SystemExit(f"login failed: {response.status_code} {response.text}")
    headers = {"Authorization": f"Bearer {response.json()['access']}"}
    existing = await _task_ids(client, headers)
    for index in range(len(existing), tasks):
        # Seeded per task: a rerun varies the same way; nothing here is a secret.
        body = _task_body(random.Random(number * 100_000 + index), index)  # noqa: S311
        response = await client.post("/tasks", json=body, headers=headers)
        if response.status_code == 429:
            raise SystemExit(
                "429 while seeding: run task-svc with a raised TASKS_CREATE_RATE_LIMIT "
                "(nox -s bench does), or seed fewer tasks."
            )
        response.raise_for_status()
        created = response.json()
        existing.append((str(created["id"]), created["status"] == "in_progress"))
    token = headers["Authorization"].removeprefix("Bearer ")
    return User.of(token, existing[:tasks])


async def _task_ids(client: httpx.AsyncClient, headers: dict[str, str]) -> list[tuple[str, bool]]:
    """The user's tasks, newest first, each with whether it is in progress."""
    ids: list[tuple[str, bool]] = []
    page = 1
    while True:
        response = await client.get("/tasks", params={"limit": 100, "page": page}, headers=headers)
        response.raise_for_status()
        document = response.json()
        ids.extend((str(item["id"]), item["status"] == "in_progress") for item in document["items"])
        if len(ids) >= document["total"] or not document["items"]:
            return ids
        page += 1


async def _as_now(args: argparse.Namespace, users: list[User]) -> list[User]:
    """`users` with their tasks' statuses as they are now. Each wrk run toggles from the
    statuses it is given: from stale ones, a run's first change of a task would set the
    status it already has, a change that changes nothing and keeps every page fresh."""
    async with httpx.AsyncClient(base_url=args.base_url, timeout=60) as client:

        async def one(user: User) -> User:
            headers = {"Authorization": f"Bearer {user.token}"}
            return User.of(user.token, (await _task_ids(client, headers))[: args.tasks_per_user])

        return list(await asyncio.gather(*(one(user) for user in users)))


def _task_body(rng: random.Random, index: int) -> dict[str, object]:
    body: dict[str, object] = {
        "title": f"mix task {index} {uuid.uuid4().hex[:6]}",
        "priority": rng.choice(["low", "normal", "normal", "high"]),
        "status": rng.choice(["todo", "todo", "in_progress"]),
        "tags": rng.sample(TAG_POOL, rng.randint(0, 3)),
    }
    if rng.random() < 0.75:
        due = datetime.now(UTC) + timedelta(hours=rng.randint(-14 * 24, 60 * 24))
        body["due_at"] = due.isoformat()
    return body


async def _seed(args: argparse.Namespace) -> list[User]:
    semaphore = asyncio.Semaphore(SEED_CONCURRENCY)
    async with httpx.AsyncClient(base_url=args.base_url, timeout=60) as client:

        async def one(number: int) -> User:
            async with semaphore:
                email = f"{args.prefix}-{number}@example.com"
                return await _user(client, email, args.tasks_per_user, number)

        return list(await asyncio.gather(*(one(n) for n in range(args.users))))


def _list_paths() -> list[str]:
    """12 filter/page shapes; dates are whole days so repeated requests hit the same page."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    def day(offset: int) -> str:
        return (today + timedelta(days=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")

    return [
        "/tasks",
        "/tasks?limit=50",
        "/tasks?page=2&limit=20",
        "/tasks?page=3&limit=10",
        "/tasks?status=todo",
        "/tasks?status=todo&status=in_progress&limit=50",
        f"/tasks?tag={TAG_POOL[3]}",
        f"/tasks?tag={TAG_POOL[1]}&tag={TAG_POOL[5]}",
        f"/tasks?due_before={day(7)}",
        f"/tasks?due_after={day(0)}&due_before={day(30)}",
        f"/tasks?status=in_progress&due_before={day(14)}",
        f"/tasks?status=todo&tag={TAG_POOL[7]}&limit=50",
    ]


def _lua_string_list(values: list[str]) -> str:
    return "{" + ", ".join(json.dumps(value) for value in values) + "}"


def _lua_script(users: list[User], write_share: float, threads: int) -> str:
    started = (
        "{"
        + ", ".join(
            "{" + ", ".join("true" if doing else "false" for doing in user.in_progress) + "}"
            for user in users
        )
        + "}"
    )
    single_share = min(SINGLE_READ_SHARE, 1 - write_share)
    tokens = _lua_string_list([user.token for user in users])
    tasks = "{" + ", ".join(_lua_string_list(user.task_ids) for user in users) + "}"
    return f"""
local tokens = {tokens}
local tasks = {tasks}
local lists = {_lua_string_list(_list_paths())}
local started = {started}
local nthreads = {threads}
local write_share = {write_share!r}
local read_share = {write_share + single_share!r}
local threads = {{}}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(id * 7919 + os.time())
  -- Each thread toggles its own share of the tasks (index = id + 1 modulo the number of
  -- threads), starting from their seeded status, so a toggle is always a change.
  doing = {{}}
  turn = {{}}
  counts = {{list = 0, get = 0, patch = 0}}
end

local todo = '{{"status":"todo"}}'
local doing_body = '{{"status":"in_progress"}}'

function request()
  local user = math.random(#tokens)
  local headers = {{Authorization = "Bearer " .. tokens[user]}}
  local roll = math.random()
  local ids = tasks[user]
  if roll < write_share then
    -- Round robin over the thread's own tasks of this user: the requests in flight change
    -- different tasks (as one user's clients would), instead of queueing on one task's lock.
    local index = math.random(#ids)
    if #ids > id then
      local mine = math.floor((#ids - 1 - id) / nthreads) + 1
      turn[user] = ((turn[user] or math.random(mine)) % mine) + 1
      index = id + 1 + (turn[user] - 1) * nthreads
    end
    local key = user * 100000 + index
    if doing[key] == nil then doing[key] = started[user][index] end
    local body = doing[key] and todo or doing_body
    doing[key] = not doing[key]
    counts.patch = counts.patch + 1
    headers["Content-Type"] = "application/json"
    return wrk.format("PATCH", "/tasks/" .. ids[index], headers, body)
  elseif roll < read_share then
    counts.get = counts.get + 1
    return wrk.format("GET", "/tasks/" .. ids[math.random(#ids)], headers)
  end
  counts.list = counts.list + 1
  return wrk.format("GET", lists[math.random(#lists)], headers)
end

function done(summary, latency, requests)
  local total = {{list = 0, get = 0, patch = 0}}
  for _, thread in ipairs(threads) do
    local c = thread:get("counts")
    for kind, n in pairs(c) do total[kind] = total[kind] + n end
  end
  io.write(string.format("KINDS list=%d get=%d patch=%d\\n", total.list, total.get, total.patch))
end
"""


def _wrk(
    args: argparse.Namespace, name: str, url: str, *options: str, seconds: int | None = None
) -> tuple[WrkResult, str]:
    """wrk's figures for `url` (for `seconds`, else `--seconds`), and its whole output
    (the mix script adds a line to it)."""
    command = [
        "wrk",
        f"--threads={args.threads}",
        f"--connections={args.connections}",
        f"--duration={seconds or args.seconds}s",
        "--timeout=5s",
        "--latency",
        *options,
        url,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    return parse_wrk(name, completed.stdout), completed.stdout


def _cache_lookups(base_url: str) -> dict[str, float]:
    response = httpx.get(base_url.rstrip("/") + "/tasks/metrics", timeout=10)
    response.raise_for_status()
    return {result: float(value) for result, value in METRIC.findall(response.text)}


def _kind_shares(output: str) -> dict[str, float]:
    found = re.search(r"KINDS list=(\d+) get=(\d+) patch=(\d+)", output)
    if found is None:
        return {}
    counts = dict(zip(("list", "get", "patch"), map(int, found.groups()), strict=True))
    total = sum(counts.values()) or 1
    return {kind: count / total for kind, count in counts.items()}


@dataclass(frozen=True)
class Round:
    health: WrkResult
    mix: WrkResult
    lookups: dict[str, float]
    shares: dict[str, float]

    @property
    def ratio(self) -> float:
        return self.mix.requests_per_second / self.health.requests_per_second

    @property
    def hit_rate(self) -> float | None:
        hits, misses = self.lookups.get("hit", 0.0), self.lookups.get("miss", 0.0)
        return hits / (hits + misses) if hits + misses else None

    def figures(self) -> dict[str, object]:
        return {
            "healthz": asdict(self.health),
            "mix": asdict(self.mix),
            "ratio": round(self.ratio, 4),
            "list_cache_hit_rate": self.hit_rate,
            "list_cache_lookups": self.lookups,
            "kind_shares": self.shares,
        }


def _write_script(args: argparse.Namespace, users: list[User], script: Path) -> None:
    script.write_text(
        _lua_script(asyncio.run(_as_now(args, users)), args.write_share, args.threads)
    )


def _round(args: argparse.Namespace, users: list[User], script: Path) -> Round:
    """healthz, then the mix for as long, back to back."""
    base = args.base_url.rstrip("/")
    _write_script(args, users, script)
    health, _ = _wrk(args, "healthz", base + HEALTH_PATH)
    before = _cache_lookups(base)
    mix, mix_output = _wrk(args, "mix", base + "/tasks", "--script", str(script))
    after = _cache_lookups(base)
    lookups = {result: after.get(result, 0) - before.get(result, 0) for result in after}
    return Round(health, mix, lookups, _kind_shares(mix_output))


def _print_round(result: Round) -> None:
    for measured in (result.health, result.mix):
        print(
            f"{measured.path:<8} {measured.requests_per_second:9.1f} req/s  "
            f"p50 {measured.p50_ms:7.2f} ms  p90 {measured.p90_ms:7.2f} ms  "
            f"p99 {measured.p99_ms:7.2f} ms  errors {measured.errors}"
        )
    print(f"mix/healthz = {result.ratio:.1%}")
    rate = "n/a (no list reads kept)" if result.hit_rate is None else f"{result.hit_rate:.1%}"
    print(f"list cache hit rate: {rate} ({result.lookups})")
    print("request kinds: " + ", ".join(f"{k} {v:.1%}" for k, v in result.shares.items()))


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    users = asyncio.run(_seed(args))
    base = args.base_url.rstrip("/")
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "mix.lua"
        if args.warmup > 0:
            # A stack just started has kept no page and prepared no statement on its pooled
            # connections yet: the first seconds measure the start, not the service.
            _write_script(args, users, script)
            _wrk(args, "warm-up", base + "/tasks", "--script", str(script), seconds=args.warmup)
        rounds = [_round(args, users, script) for _ in range(args.rounds)]
    ratios = sorted(result.ratio for result in rounds)
    median_ratio = statistics.median(ratios)
    median_p99 = statistics.median(result.mix.p99_ms for result in rounds)
    if args.json:
        figures = {
            "users": args.users,
            "tasks_per_user": args.tasks_per_user,
            "write_share": args.write_share,
            "connections": args.connections,
            "seconds": args.seconds,
            "warmup_seconds": args.warmup,
            "rounds": [result.figures() for result in rounds],
            "median_ratio": round(median_ratio, 4),
            "median_mix_p99_ms": median_p99,
        }
        print(json.dumps(figures, indent=2))
        return 0
    print(
        f"{args.users} users x {args.tasks_per_user} tasks, write share {args.write_share:.0%}, "
        f"{args.connections} connections, {args.seconds} s each, after {args.warmup} s of "
        "warm-up"
    )
    for number, result in enumerate(rounds, start=1):
        if len(rounds) > 1:
            print(f"-- round {number} of {len(rounds)}")
        _print_round(result)
    if len(rounds) > 1:
        print(
            f"median of {len(rounds)} rounds: mix/healthz = {median_ratio:.1%} "
            f"(from {ratios[0]:.1%} to {ratios[-1]:.1%}), mix p99 {median_p99:.2f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
