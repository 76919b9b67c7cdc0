@notifications
Feature: Notifications
  TaskHub tells people about their work by e-mail and calls the webhooks they give it.
  A notification is a job: accepted at once, delivered in the background, tried three
  times before it is given up and kept as a dead letter for the administrators. A job can
  wait for its time and be canceled until then; the same request sent twice with one
  idempotency key makes one job. A task that is done is announced once, and a task with
  a deadline is reminded of ahead of it. Webhooks go only to public addresses, signed, so
  that the receiver can tell they come from TaskHub.

  Background:
    Given Alice has signed in

  @smoke
  Scenario: An e-mail is delivered
    When she sends an e-mail notification
    Then it is accepted for delivery
    And it is delivered at the first attempt

  @webhooks
  Scenario: A webhook arrives once, signed by TaskHub
    Given she has a webhook receiver
    When she sends a webhook notification to her receiver
    Then it is delivered at the first attempt
    And her receiver gets it exactly once, signed, naming the notification

  @webhooks @admin @slow
  Scenario: A receiver that always fails gets three attempts, then a dead letter
    Given the administrator has signed in
    And Alice has a webhook receiver that always fails
    When she sends a webhook notification to her receiver
    Then it fails after exactly 3 attempts
    And her receiver was called exactly 3 times
    And the administrator finds it among the dead letters

  @security
  Scenario: Only administrators read the dead letters
    When she tries to read the dead letters
    Then she is told it is forbidden

  Scenario: The same idempotency key makes one job
    When she sends an e-mail notification with an idempotency key
    And she sends the same e-mail notification with the same key again
    Then both answers name the same notification
    When she sends a different e-mail notification with the same key
    Then she is told the key was used for another request

  Scenario: A scheduled e-mail waits for its time
    When she schedules an e-mail notification for 2 seconds from now
    Then it is scheduled
    And it is delivered at its time, not before

  Scenario: A canceled e-mail is never delivered
    When she schedules an e-mail notification for 2 seconds from now
    And she cancels it
    Then it is canceled
    And it is still canceled well after its time
    When she cancels it again
    Then she is told it can no longer be canceled

  Scenario Outline: A task that is done is announced once
    Given she has a task "Ship the release"
    When she marks the task done <how>
    Then one notification about the task is delivered to her

    Examples:
      | how             |
      | by changing it  |
      | in bulk         |

  @webhooks
  Scenario: A task that is done calls its webhook
    Given she has a webhook receiver
    And she has a task "Ship the release" that calls her receiver when done
    When she marks the task done in bulk
    Then her receiver gets the task's done event exactly once, signed

  Scenario: A deadline is reminded of before it comes
    Given she has a task "Renew the passport" whose reminder is due in 2 seconds
    Then she gets a reminder about the task before its deadline

  @security
  Scenario Outline: Webhooks to private places are refused
    When she sends a webhook notification to <place>
    Then she is told the request is invalid

    Examples:
      | place                              |
      | the loopback address               |
      | the loopback by name               |
      | the IPv6 loopback address          |
      | a loopback address spelt as number |
      | a private network address          |
      | a link-local address               |
      | the cloud metadata address         |
      | the cloud metadata service by name |
      | a file on the server               |

  @security
  Scenario: Someone else's notification can be neither read nor canceled
    Given Bob has signed in
    And Alice has scheduled an e-mail notification for an hour from now
    When Bob looks at Alice's notification
    Then he is told that nothing is there
    When he tries to cancel Alice's notification
    Then he is told that nothing is there
    And Bob's notification list does not show Alice's notification
    And Alice's notification is still scheduled

  @chaos @slow
  Scenario: A task done while notifications are down is announced once they are back
    Given she has a task "Ship the release"
    And the notify service is down
    When she marks the task done by changing it
    And the notify service is started again
    Then one notification about the task is delivered to her

  @chaos @webhooks @slow
  Scenario: A webhook survives the worker dying in the middle of its delivery
    Given she has a webhook receiver that holds the first delivery for 3 seconds
    When she sends a webhook notification to her receiver
    And the notification worker is killed while her receiver holds the delivery
    Then it is delivered, once the worker is back
    And her receiver accepted it exactly once, signed, naming the notification
