@security
Feature: Privilege follows the database, and internals stay internal
  OWASP API5 (broken function level authorization) and API9 (improper inventory). An access
  token states the role its holder had when it was issued. When an administrator is made an
  ordinary user again, the tasks and notification services stop honouring the administrator
  role of the tokens he already holds within seconds (each service confirms an
  administrator's role with the account service and keeps the answer 5 seconds), not when
  those tokens expire. He keeps what every user has: his own tasks. The routes the services
  offer only each other are neither routed by the gateway nor described in the published
  API descriptions.

  @admin
  Scenario: A demoted administrator's old token stops reading other people's tasks and dead letters
    Given the administrator has signed in
    And Bob has a task nobody else may see
    And the administrator has made Uma an administrator
    And Uma has signed in
    And Uma's token, as an administrator's, finds Bob's task and the dead letters
    When the administrator makes Uma an ordinary user again
    Then within seconds Uma's old token no longer finds Bob's task
    And Uma's old token is refused the dead letters
    And Uma's old token still lists her own tasks

  Scenario Outline: The published API descriptions leave the internal routes out
    When a developer fetches the API description of the <service> service
    Then it describes no internal route

    Examples:
      | service |
      | auth    |
      | tasks   |
      | notify  |
