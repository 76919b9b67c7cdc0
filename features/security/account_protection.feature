@security
Feature: An account stays in its owner's hands
  OWASP API2 and API5 for accounts. Privilege follows the database, not an old token: a
  demoted administrator's token no longer opens the administration, and the role change
  ends his sessions. Guessing a password is stopped per account and address, but a
  stranger cannot lock the owner out: from an address of her own she still signs in.
  Two refreshes of one session at once both succeed. An address is one account however
  its letters are encoded. (Registration limits per address are proven by auth-svc's
  tests: the native stack raises them, every local client being 127.0.0.1.)

  @admin
  Scenario: A demoted administrator cannot use his old token to re-promote himself
    Given Bob has an account
    And the administrator has signed in
    And the administrator has made Bob an administrator
    And Bob has signed in as an administrator
    And the administrator has made Bob an ordinary user again
    When Bob tries to make himself an administrator
    Then he is told it is forbidden
    When he tries to list the users
    Then he is told it is forbidden
    When he tries to read the sign-in audit
    Then he is told it is forbidden
    When he refreshes his tokens
    Then he is told to sign in
    And the administrator sees Bob as an ordinary user

  @slow
  Scenario: A stranger who exhausts an account from his address does not lock its owner out
    Given Alice has an account
    When someone keeps guessing Alice's password from another address
    Then they are told to slow down
    And the answer says when to try again
    When Alice signs in with her right password from an address of her own
    Then she receives a pair of tokens

  Scenario: Two refreshes of one session at once both succeed
    Given Alice has signed in
    When Alice refreshes her tokens twice at once
    Then both refreshes give her a new pair of tokens
    And both new refresh tokens still work

  Scenario: An e-mail address is one account however its accents are encoded
    Given Alice has an account under an accented address written decomposed
    When she signs in with that address written composed and in capitals
    Then she receives a pair of tokens
