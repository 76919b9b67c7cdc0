@flagship
Feature: TaskHub end to end
  The whole journey through the one front door, as the design card describes it: a
  newcomer signs up, signs in, fills her board until TaskHub asks her to slow down,
  finishes her work in one go and is told about it, while the operators see the traffic
  and the deliveries in their metrics.

  @smoke
  Scenario: From signing up to a delivered notification, seen in the metrics
    Given the operators have noted the metrics
    When Alice registers
    And she signs in
    And she creates 60 tasks within a minute
    And she creates one more task
    Then she is told to slow down
    When she marks 10 of her tasks done at once
    Then all 10 are reported updated
    And a notification about each of them is delivered to her
    And the metrics show her task requests and the deliveries
