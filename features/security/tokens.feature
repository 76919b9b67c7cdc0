@security
Feature: Only genuine tokens open doors
  OWASP API2 (broken authentication), RFC 8725. Every service accepts only access tokens
  that TaskHub signed with RS256, for TaskHub, that have not expired. Forgeries that
  features/auth.feature does not cover yet are tried here against every service: the key
  confusion attack, keys a token brings along itself, odd key ids, and tokens that carry
  TaskHub's genuine signature over claims that are wrong. A token that names a place to
  fetch its key from is never followed there.

  Background:
    Given Alice has signed in

  Scenario Outline: A token an attacker made is refused everywhere
    When she presents a forged token: <forgery>
    Then she is told to sign in
    And the tasks and notification services refuse that token too

    Examples:
      | forgery                                   |
      | unsigned in upper case                    |
      | unsigned in title case                    |
      | signed with the public key as a secret    |
      | carrying the attacker's own key           |
      | pointing at the attacker's key set        |
      | pointing at the attacker's certificate    |
      | cut short                                 |
      | not a token at all                        |

  Scenario Outline: A key location carried in a token is never fetched
    When she asks who she is with a token pointing at a key server by its <header>
    Then she is told to sign in
    And nobody fetched anything from the key server

    Examples:
      | header |
      | jku    |
      | x5u    |

  Scenario Outline: A genuinely signed token with wrong claims is refused
    Only the native stack lends the suite its signing key; elsewhere this is skipped.

    Given TaskHub's own signature is at hand
    When she asks who she is with a genuinely signed token that <flaw>
    Then she is told to sign in
    And the tasks and notification services refuse that token too

    Examples:
      | flaw                           |
      | has expired                    |
      | has no expiry                  |
      | comes from another issuer      |
      | is meant for another audience  |
      | is not valid yet               |
      | was issued in the future       |
      | names an unknown key           |
      | names a key by a file path     |
      | names a key with SQL           |
      | has no token type              |
      | is typed as a refresh token    |
      | names nobody                   |
