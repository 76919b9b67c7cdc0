// TaskHub load test: a realistic mix of API calls through the gateway at a fixed rate.
//
// Run it through the driver, which registers the users and passes their tokens:
//   uv run python -m taskhub_e2e.load --rate 10 --duration 30s
// Environment (set by the driver):
//   BASE_URL   gateway URL (`taskhub-stack url gateway`; the load runner passes it)
//   TOKENS     comma-separated access tokens, one per seeded user
//   RATE       iterations (≈ requests) per second;  DURATION  e.g. 30s
//   VUS        pre-allocated virtual users;  RUN_ID  marks the tasks and request ids
//
// The mix keeps every user far below task-svc's 60 creations per minute (the driver seeds
// enough users for the rate), so a 429 here is a finding, not part of the plan.
import http from "k6/http";
import { check } from "k6";
import { Counter } from "k6/metrics";

// Unexpected answers by class, for the driver's report (k6 itself only counts "failed").
const answers4xx = new Counter("taskhub_answers_4xx");
const answers5xx = new Counter("taskhub_answers_5xx");
const answersNone = new Counter("taskhub_answers_none");

function track(response) {
  if (response.status === 0) answersNone.add(1);
  else if (response.status >= 500) answers5xx.add(1);
  else if (response.status >= 400) answers4xx.add(1);
  return response;
}

const BASE_URL = __ENV.BASE_URL;
if (!BASE_URL) {
  throw new Error("BASE_URL is required: the gateway, e.g. $(taskhub-stack url gateway)");
}
const TOKENS = (__ENV.TOKENS || "").split(",").filter((token) => token.length > 0);
const RATE = parseInt(__ENV.RATE || "10", 10);
const DURATION = __ENV.DURATION || "30s";
const RUN_ID = __ENV.RUN_ID || "load";

export const options = {
  discardResponseBodies: false,
  scenarios: {
    mix: {
      executor: "constant-arrival-rate",
      rate: RATE,
      timeUnit: "1s",
      duration: DURATION,
      preAllocatedVUs: parseInt(__ENV.VUS || "20", 10),
      maxVUs: 200,
    },
  },
  summaryTrendStats: ["avg", "min", "med", "p(90)", "p(95)", "p(99)", "max"],
  thresholds: {
    // Reported, and k6 exits non-zero when crossed.
    http_req_failed: ["rate<0.01"],
    "http_req_duration{expected_response:true}": ["p(95)<500"],
  },
};

// Weighted operations: [weight, name]; the weights add up to 100.
const MIX = [
  [35, "list_tasks"],
  [15, "create_task"],
  [15, "get_task"],
  [10, "me"],
  [8, "filter_tasks"],
  [7, "update_task"],
  [5, "complete_task"],
  [5, "notify_email"],
];

// Task ids this VU created, per token: later reads and updates use them.
const created = {};
let sequence = 0;

function headers(token) {
  sequence += 1;
  return {
    Authorization: `Bearer ${token}`,
    "Content-Type": "application/json",
    "X-Request-ID": `${RUN_ID}-${__VU}-${sequence}`,
  };
}

function pick() {
  let roll = Math.random() * 100;
  for (const [weight, name] of MIX) {
    if (roll < weight) return name;
    roll -= weight;
  }
  return MIX[0][1];
}

function knownTask(token) {
  const ids = created[token] || [];
  return ids.length ? ids[Math.floor(Math.random() * ids.length)] : null;
}

function createTask(token) {
  const body = JSON.stringify({
    title: `load ${RUN_ID} ${__VU}-${__ITER}`,
    priority: ["low", "normal", "high"][__ITER % 3],
    tags: ["load", `vu${__VU % 5}`],
  });
  const response = track(http.post(`${BASE_URL}/tasks`, body, {
    headers: headers(token),
    tags: { name: "POST /tasks" },
  }));
  check(response, { "task created": (r) => r.status === 201 });
  if (response.status === 201) {
    const ids = created[token] || (created[token] = []);
    ids.push(response.json("id"));
    if (ids.length > 50) ids.shift();
  }
}

const OPERATIONS = {
  list_tasks(token) {
    const r = track(http.get(`${BASE_URL}/tasks?limit=20`, {
      headers: headers(token),
      tags: { name: "GET /tasks" },
    }));
    check(r, { "tasks listed": (res) => res.status === 200 });
  },
  filter_tasks(token) {
    const r = track(http.get(`${BASE_URL}/tasks?status=todo&tag=load&limit=20`, {
      headers: headers(token),
      tags: { name: "GET /tasks?filter" },
    }));
    check(r, { "tasks filtered": (res) => res.status === 200 });
  },
  create_task: createTask,
  get_task(token) {
    const id = knownTask(token);
    if (id === null) return createTask(token);
    const r = track(http.get(`${BASE_URL}/tasks/${id}`, {
      headers: headers(token),
      tags: { name: "GET /tasks/{id}" },
    }));
    check(r, { "task read": (res) => res.status === 200 });
  },
  update_task(token) {
    const id = knownTask(token);
    if (id === null) return createTask(token);
    const r = track(http.patch(`${BASE_URL}/tasks/${id}`, JSON.stringify({ status: "in_progress" }), {
      headers: headers(token),
      tags: { name: "PATCH /tasks/{id}" },
    }));
    check(r, { "task updated": (res) => res.status === 200 });
  },
  complete_task(token) {
    // A task entering `done` goes through the outbox to notify-svc and a Celery delivery.
    const id = knownTask(token);
    if (id === null) return createTask(token);
    const r = track(http.patch(`${BASE_URL}/tasks/${id}`, JSON.stringify({ status: "done" }), {
      headers: headers(token),
      tags: { name: "PATCH /tasks/{id} done" },
    }));
    check(r, { "task done": (res) => res.status === 200 });
  },
  me(token) {
    const r = track(http.get(`${BASE_URL}/auth/me`, {
      headers: headers(token),
      tags: { name: "GET /auth/me" },
    }));
    check(r, { "me read": (res) => res.status === 200 });
  },
  notify_email(token) {
    const body = JSON.stringify({
      to: `load-${__VU}@example.com`,
      subject: `load ${RUN_ID}`,
      body: "Sent by the TaskHub load test.",
    });
    const r = track(http.post(`${BASE_URL}/notify/email`, body, {
      headers: headers(token),
      tags: { name: "POST /notify/email" },
    }));
    check(r, { "e-mail queued": (res) => res.status === 202 });
  },
};

export function setup() {
  if (TOKENS.length === 0) {
    throw new Error("TOKENS is empty: run the test through taskhub_e2e.load");
  }
}

export default function () {
  const token = TOKENS[Math.floor(Math.random() * TOKENS.length)];
  OPERATIONS[pick()](token);
}
