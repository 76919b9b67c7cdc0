Feature: Symptoms page the operator, and the page ends when they do
  TaskHub's alerts fire on what its users feel, measured against the SLOs of
  docs/observability.md (multi-window burn rates), and go to Alertmanager, which tells the
  on-call receiver. On the native stack started with TASKHUB_ALERT_TIME_SCALE, the alert
  windows are shortened so that an outage of seconds shows what a real one shows after
  minutes.

  @chaos @slow @metrics @notifications
  Scenario: Notifications held back by a notify-svc outage page the on-call receiver, and their return resolves the page
    Given the on-call receiver listens for TaskHub's alerts
    And Alice has signed in
    And notifications are down
    When she creates 3 tasks within a minute
    And she marks 3 of her tasks done at once
    Then the on-call receiver is paged for the delivery SLO within 90 seconds
    When notifications are back
    Then the on-call receiver gets word that the delivery page is resolved within 90 seconds
