Feature: Notifications are delivered through faults
  Webhook receivers that hang take webhook workers only, never e-mail's. A worker killed
  in the middle of a delivery costs its job one counted attempt: the notification goes
  out again with the same delivery id, within a minute, and never once more after it is
  delivered. (The stack runs the sweep every second after 10 s, the documented
  scale-down of production's 10 s after 30 s; the broker redelivers after 45 s in both.)

  @webhooks @slow
  Scenario: Hanging webhook receivers of five users do not slow anyone's e-mail
    Given Alice has signed in
    And Alice has timed how fast her e-mails are delivered while nothing else runs
    And five other users each have a webhook receiver that never answers
    When each of them sends a webhook notification to their receiver
    And Alice times how fast her e-mails are delivered while the receivers hang
    Then her e-mails are delivered at most twice as slowly as when nothing else ran, or at most 50 ms slower

  @chaos @webhooks @slow
  Scenario: Every notification goes out exactly once when the webhook worker is killed mid-delivery
    Given Alice has signed in
    And Bob has signed in
    And Alice has a webhook receiver that holds the first delivery for 3 seconds
    And Bob has a webhook receiver
    When Alice sends a webhook notification to her receiver
    And Bob sends a webhook notification to his receiver
    And Bob sends an e-mail notification
    And the webhook worker is killed while Alice's receiver holds the delivery
    Then every notification of the scenario is delivered within 60 seconds of the kill
    And the killed attempt was counted: Alice's notification took 2 attempts
    And a minute after the kill every receiver has accepted each notification exactly once

  @chaos @slow
  Scenario: An e-mail scheduled for a Redis outage goes out as soon as Redis is back
    Given Alice has signed in
    And Alice has scheduled an e-mail notification for in 3 seconds
    When Redis is stopped until 3 seconds after the e-mail was due
    And Redis is started again
    Then the scheduler kept running through the outage and logged it as JSON
    And the e-mail is released within 3 seconds of Redis being back and then delivered
