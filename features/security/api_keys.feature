@security
Feature: API keys cannot be guessed, forged or stretched beyond their owner
  OWASP API2 (broken authentication) and API5 (broken function level authorization). A key
  is `thk_`, 32 random characters and a checksum: a key that is malformed (cut short,
  mistyped, of another vendor) is refused before any lookup, and a well-formed one is found
  by its keyed hash alone, so a near miss takes as long to refuse as a random guess. A key
  never makes its holder an administrator, never reaches the account service, and is never
  written to a log.

  Background:
    Given Alice has signed in
    And Alice has an API key "ci" with the scopes tasks:read, tasks:write

  Scenario Outline: A key that is not a live key is refused
    When someone presents <a wrong key> to the task service
    Then they are told to sign in

    Examples:
      | a wrong key                              |
      | a guessed key                            |
      | Alice's key cut short                    |
      | Alice's key with a wrong checksum        |
      | Alice's key with another vendor's prefix |
      | Alice's key as a query parameter         |

  Scenario: A near miss of a key takes as long to refuse as a random guess
    When someone times near misses of Alice's key and random guesses
    Then both kinds of wrong key take a similar time

  Scenario: A key cannot manage keys or accounts
    When the ci key is used to create another API key
    Then it is told to sign in

  Scenario: A key asking for an administrator's scope is not created
    When Alice asks for an API key with the scopes tasks:read, admin
    Then she is told the request is invalid

  @admin
  Scenario: An administrator's key acts as an ordinary user
    Given the administrator has signed in
    And the administrator has an API key "ops" with the scopes tasks:read, tasks:write, notify:read, notify:write
    When the ops key is used to read the notifications that failed for good
    Then it is told it is forbidden

  @logs
  Scenario: Keys never appear in the logs
    Given the ci key has been used
    When someone presents Alice's key with a wrong checksum to the task service
    Then no log of the stack holds the ci key or a near copy of it
