Feature: An outage of a dependency is answered honestly
  When a service cannot reach its database, a client is told to come back later (503 with
  Retry-After, in the error envelope), never that something broke (500); once the database
  is back, every service recovers by itself.

  @chaos @slow
  Scenario: While the databases restart, every request is told to retry, and all recover
    Given Alice has signed in
    And Alice keeps a task and a notification from before the outage
    And the databases are down
    When Alice uses every part of TaskHub
    Then every answer asks her to retry later, none is an internal error
    When the databases are started again
    Then every part of TaskHub answers Alice again within 60 seconds

  @chaos @slow
  Scenario: A service whose master process is killed answers again by itself within seconds
    Given Alice has signed in
    When the master process of the task service is killed
    Then the task service is healthy again within 10 seconds
    And Alice can list her tasks

  @chaos @slow
  Scenario: Tasks done during a minute-long notification outage are announced within seconds of its end
    Given Alice has signed in
    And notifications are down
    When she creates 50 tasks within a minute
    And she marks 50 of her tasks done at once
    And notifications come back after 60 seconds of outage
    Then each of her 50 done tasks is announced to her once, within 5 seconds of their return

  @chaos
  Scenario: An event notify-svc refuses is parked, and the task's later events still go out
    Given Alice has signed in
    And she has a task whose pending event notify-svc refuses
    And the administrator has signed in
    When Alice completes that task and another one
    Then both completions are announced to her
    And the administrator sees the refused event parked, with notify-svc's answer

  @chaos @slow
  Scenario: A database restart in the middle of a burst of changes loses and doubles no notification
    Given Alice, Bob, Carol and Dan have signed in
    When they create tasks and complete them, four at once, while the databases restart
    Then no answer was an internal error
    And every task that ended done is announced to its owner exactly once
