@security
Feature: Guessing passwords does not pay
  OWASP API2 and API4 for signing in. Failed sign-ins are limited per account and client
  address, so a guesser is stopped (even once they try the right password from that
  address) while everybody else signs in as usual, the account's owner from another
  address included (features/security/account_protection.feature). A forged forwarding
  header neither lifts the limit nor changes the address the audit records. An unknown e-mail address costs as much time as a wrong password, so
  timing does not tell who has an account (features/auth.feature proves the answers are
  the same). The limit per client address is proven by auth-svc's own tests: on loopback
  the whole suite shares one address.

  @slow
  Scenario: An account under attack is locked for its attacker's address, others are not
    Given Alice has an account
    And Bob has an account
    When someone keeps guessing Alice's password
    Then they are told to slow down
    And the answer says when to try again
    When Alice signs in with her right password
    Then she is told to slow down
    When someone signs in as Alice pretending to come from another address
    Then they are told to slow down
    When Bob signs in
    Then he receives a pair of tokens

  @slow
  Scenario: An unknown e-mail address takes as long as a wrong password
    Given Alice has an account
    When someone times sign-ins with wrong passwords for Alice and with unknown e-mail addresses
    Then both kinds take a similar time

  @admin
  Scenario: A forged forwarding header does not change the audited address
    Given Alice has an account
    And she has failed to sign in pretending to come from another address
    And the administrator has signed in
    When the administrator reads the sign-in audit
    Then the audit shows her failed sign-in from her real address
