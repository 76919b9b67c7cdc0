@auth
Feature: API keys for integrations
  Integrations (a CI job closing tasks, a chat bot creating them, a dashboard reading them)
  must not hold a person's password or tokens. A person gives each one an API key instead:
  it acts for its owner, as an ordinary user, and only within the scopes it was given
  (tasks:read, tasks:write, notify:read, notify:write). Its secret is shown once, when it is
  created; the owner and the administrators see the key's name, scopes, creation, last use
  and revocation afterwards, never the secret. A revoked key is refused everywhere within
  10 seconds (each service keeps an answer about a key that long).

  Background:
    Given Alice has signed in

  Scenario: A read-only key lists its owner's tasks and cannot create one
    Given Alice has a task "Ship the release"
    When Alice creates an API key "dashboard" with the scopes tasks:read
    Then the dashboard key's secret is shown once, recognisable as a TaskHub key
    And the dashboard key lists Alice's tasks, "Ship the release" among them
    When the dashboard key is used to create a task
    Then it is refused for lacking the scope tasks:write

  Scenario: A key with tasks:write creates tasks as its owner until it is revoked
    Given Alice has an API key "ci" with the scopes tasks:read, tasks:write
    When the ci key is used to create a task
    Then the task is created as Alice's
    When Alice revokes the ci key
    Then the ci key is refused within 10 seconds

  Scenario: A key cannot read another person's tasks
    Given Bob has a task "Bob's plans"
    And Alice has an API key "bot" with the scopes tasks:read
    When the bot key is used to read Bob's task
    Then it is told that nothing is there

  Scenario: A key's secret is never shown again
    Given Alice has an API key "ci" with the scopes tasks:read
    And the ci key has been used
    When Alice lists her API keys
    Then the ci key is listed with its scopes and its last use, without its secret

  @admin
  Scenario: An administrator revokes Alice's key
    Given Alice has an API key "bot" with the scopes tasks:read
    And the administrator has signed in
    When the administrator revokes Alice's bot key
    Then Alice sees the bot key revoked by the administrator
    And the bot key is refused within 10 seconds
