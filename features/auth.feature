@auth
Feature: Accounts and sign-in
  People register with an e-mail address, a password and a name, then sign in to get a
  short-lived access token and a refresh token. A refresh token is traded once for a new
  pair: presenting a spent one is treated as theft and ends that whole chain of sessions.
  Administrators manage users and read the audit of every sign-in attempt.

  @smoke
  Scenario: Register, sign in and see who you are
    When Alice registers
    Then her account is created as an ordinary user
    When she signs in
    Then she receives a pair of tokens
    And she can see who she is

  Scenario: Nobody can see who they are without signing in
    When a visitor asks who they are without signing in
    Then they are told to sign in

  Scenario: An e-mail address can be registered only once
    Given Alice has an account
    When someone registers with Alice's e-mail address
    Then they are told the e-mail is taken

  @security
  Scenario: Registering as an admin does not make an admin
    When Mallory registers asking to be an admin
    Then she is told the request is invalid
    And her e-mail address is still free

  @security
  Scenario: A wrong password and an unknown e-mail get the same answer
    Given Alice has an account
    When she signs in with a wrong password
    And a visitor signs in with an e-mail address nobody registered
    Then both are told the credentials are wrong, in the same words

  @smoke
  Scenario: Refreshing gives a new pair and spends the old refresh token
    Given Alice has signed in
    When she refreshes her tokens
    Then she receives a new pair of tokens
    And her new access token works
    When she refreshes with the refresh token she already used
    Then she is told to sign in

  @security
  Scenario: Reusing a spent refresh token ends the whole chain of sessions
    Given Alice has signed in
    And she has refreshed her tokens
    When someone replays her first refresh token
    Then they are told to sign in
    And her latest refresh token no longer works

  Scenario: Signing out ends the session
    Given Alice has signed in
    When she signs out
    Then her refresh token no longer works

  @security
  Scenario: Each kind of token works only where it belongs
    Given Alice has signed in
    When she tries to refresh with her access token
    Then she is told to sign in
    When she asks who she is with her refresh token
    Then she is told to sign in

  @security
  Scenario Outline: A forged token is refused
    Given Alice has signed in
    When she asks who she is with a forged token: <forgery>
    Then she is told to sign in

    Examples:
      | forgery                      |
      | tampered                     |
      | unsigned                     |
      | unsigned in mixed case       |
      | signed with a stranger's key |

  @security
  Scenario: An ordinary user cannot use the administration
    Given Alice has signed in
    When she tries to list the users
    Then she is told it is forbidden
    When she tries to read the sign-in audit
    Then she is told it is forbidden

  @admin
  Scenario: An administrator sees the users and their sign-ins
    Given Alice has signed in
    And the administrator has signed in
    When the administrator lists the users
    Then Alice is among them
    When the administrator reads the sign-in audit
    Then the audit shows a sign-in of Alice

  @admin @security
  Scenario: The audit records failed sign-ins too
    Given Alice has an account
    And she has failed to sign in once
    And the administrator has signed in
    When the administrator reads the sign-in audit
    Then the audit shows a failed sign-in for Alice
