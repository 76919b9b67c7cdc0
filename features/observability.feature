@observability
Feature: Operators see what TaskHub is doing
  Every process exports metrics that Prometheus scrapes, writes one JSON object per log
  line and takes part in one trace per request, so an operator can tell how busy and how
  fast each service is, whether the workers deliver, and follow one request from the
  gateway to the worker that finished it, without reading anyone's personal data.

  Counters only grow and other people use TaskHub meanwhile, so the checks read
  "grew by at least what this scenario did".

  @metrics @slow
  Scenario: Steady traffic shows in every service's request metrics, within the latency bound
    Given Olivia has signed in
    When she uses TaskHub at 10 requests per second for 10 seconds
    Then Prometheus counts at least the requests each service was sent
    And the 95th percentile latency of those requests is under 250 ms in every service

  @metrics @slow
  Scenario: A delivered notification counts as a successful Celery task
    Given Olivia has signed in
    And the operators have noted the worker counters
    When she queues an e-mail to herself and it is delivered
    Then Prometheus counts at least 1 more successful delivery task

  @metrics @slow
  Scenario: A notification given up as a dead letter counts as a failed Celery task
    Given Olivia has signed in
    And the operators have noted the worker counters
    When she completes a task whose webhook points at a private address
    Then the webhook notification about it ends as a dead letter
    And Prometheus counts at least 1 more failed delivery task and 1 more dead letter

  @logs @slow
  Scenario: A completed task can be followed by one trace id through every process
    Given Olivia has signed in
    When she completes a task and notes the trace id of her request
    Then that trace id is in the logs of the gateway, task-svc, notify-svc and the Celery worker

  @logs @slow
  Scenario: Logs are JSON lines that hold no password or e-mail address
    Given the operators have marked the end of every log
    When Penny registers
    And she signs in
    And she queues an e-mail to herself and it is delivered
    Then every line TaskHub logged since is a JSON object with its time, level, service, message, request id and trace ids
    And no log line holds her password or her e-mail address
