@scale
Feature: Several instances of every service behave as one
  TaskHub grows by running more instances of each service and worker behind the gateway.
  Nothing a person sees may depend on which instance answered: what one instance kept in
  its own memory (a page of a list, a count of requests, a spent token) would show here as
  a stale list, a limit that lets twice as many through, a stolen session that lives on, a
  notification sent twice. These scenarios reach each instance on its own, so such state
  cannot hide behind the gateway's balancing; a deployment with one instance skips them.

  Background:
    Given every service and worker runs as two instances or more, with one scheduler
    And Alice has signed in

  Scenario: A change made through one instance shows at once in lists read through another
    Given she has read her task list through each instance
    When she creates a task through the first instance
    Then her task list read through the second instance shows it at once
    When she marks the task done through the second instance
    Then her task list read through the first instance shows the task as done at once

  Scenario: The limit of 60 new tasks a minute is exact across instances
    When she creates 60 tasks within a minute, taking turns between the instances
    Then every one of them is created
    And one more task is refused by each instance, each telling her when to try again

  @security
  Scenario: A refresh token replayed on another instance still ends the session
    Given she has refreshed her tokens through the first instance
    When someone replays her first refresh token on the second instance
    Then the replay is refused
    And her latest refresh token no longer works on the first instance

  Scenario: With a relay in every instance, each done task is announced once
    Given she has 8 tasks, created in turn through each instance
    When she marks each of them done, in turn through each instance
    Then a notification about each of them is delivered to her
    And none of them is announced a second time while every relay has had its turn

  Scenario: Reminders are sent once although several workers run
    Given she has 4 tasks whose reminders are due in 3 seconds
    Then each of them is reminded of exactly once, before its deadline

  @chaos @slow
  Scenario: Restarting one instance at a time under load loses no request
    Given Bob and Carol have signed in
    When the instances of the task service are restarted one at a time while Alice, Bob and Carol keep listing and creating tasks through the gateway
    Then every list they asked for was answered
    And every task they created was either created or refused in a way the client retries
