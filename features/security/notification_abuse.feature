@security @notifications
Feature: One user cannot crowd out everyone else's notifications, nor replay a webhook
  OWASP API4 (unrestricted resource consumption) and API2/API8 for webhooks. A user may
  submit at most 60 e-mails and webhooks together within any minute. However slow a
  user's webhook receivers are, they hold one delivery slot at a time, so other people's
  notifications keep flowing. A webhook's signature covers the time it was sent, its
  delivery id and its body, so a receiver following TaskHub's documented check refuses a
  delivery replayed later or with its timestamp changed.

  Background:
    Given Alice has signed in

  Scenario: A user who floods the notification API is limited
    Given Bob has signed in
    And Alice has sent 60 notifications within the last minute
    When she sends an e-mail notification
    Then she is told to slow down
    And the answer says when to try again, within a minute
    When Bob sends an e-mail notification
    Then it is accepted for delivery

  @webhooks @slow
  Scenario: One user's slow webhook receivers do not hold another user's e-mail
    Given Bob has signed in
    And Alice has a webhook receiver that answers just before TaskHub gives up
    When she sends 6 webhook notifications to her receiver
    And Bob sends an e-mail notification meanwhile
    Then it is delivered while Alice's receiver still holds her first delivery
    And Alice's receiver never held more than one delivery at once

  @webhooks
  Scenario: A replayed webhook delivery with an old timestamp is rejected by the documented check
    Given she has a webhook receiver that accepts signatures up to 2 seconds old
    When she sends a webhook notification to her receiver
    Then it is delivered at the first attempt
    And her receiver gets it exactly once, signed, naming the notification
    When the delivery is replayed to her receiver 3 seconds later
    Then her receiver refuses the replay
    When the delivery is replayed with its timestamp changed to now
    Then her receiver refuses the replay
