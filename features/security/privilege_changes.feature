@security @admin
Feature: Privilege follows the database, not an old token
  OWASP API5 (broken function level authorization). An access token states the role its
  holder had when it was issued. When an administrator is made an ordinary user again, the
  tasks and notification services stop honouring the administrator role of the tokens he
  already holds within seconds (each service confirms an administrator's role with the
  account service and keeps the answer 5 seconds), not when those tokens expire. He keeps
  what every user has: his own tasks.

  Background:
    Given the administrator has signed in
    And Bob has a task nobody else may see

  Scenario: A demoted administrator's old token stops reading other people's tasks and dead letters
    Given the administrator has made Uma an administrator
    And Uma has signed in
    And Uma's token, as an administrator's, finds Bob's task and the dead letters
    When the administrator makes Uma an ordinary user again
    Then within seconds Uma's old token no longer finds Bob's task
    And Uma's old token is refused the dead letters
    And Uma's old token still lists her own tasks
