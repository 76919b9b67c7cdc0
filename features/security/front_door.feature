@security
Feature: The front door gives nothing away
  OWASP API4 (resource consumption), API8 (security misconfiguration) and API9 (inventory)
  at the gateway. Every answer, errors included, carries the security headers; browsers on
  foreign origins get no CORS permission and nobody gets a wildcard; page sizes are
  bounded; the internal routes stay unreachable however their address is disguised.
  Metrics refused to the outside world cannot be shown from loopback, where the suite
  runs: gateway/tests proves it against a real nginx, and gateway.feature has a scenario
  for a client on a public network.

  Scenario Outline: Every answer carries the security headers
    When a visitor receives <answer>
    Then the answer carries the security headers

    Examples:
      | answer                      |
      | the gateway's health        |
      | a service's health          |
      | the API description         |
      | an unknown address          |
      | a wrong method              |
      | a request without a token   |
      | an invalid request          |
      | a body too large            |

  Scenario Outline: Only the configured origin may call a service from a browser
    When a page on <origin> asks the <service> service whether it may call it
    Then <verdict>

    Examples:
      | origin                  | service | verdict                          |
      | http://localhost        | auth    | that origin alone is allowed     |
      | http://localhost        | tasks   | that origin alone is allowed     |
      | http://localhost        | notify  | that origin alone is allowed     |
      | https://evil.example    | auth    | no origin is allowed             |
      | https://evil.example    | tasks   | no origin is allowed             |
      | null                    | notify  | no origin is allowed             |
      | http://localhost.evil.example | auth | no origin is allowed          |

  Scenario Outline: A page size beyond the maximum is refused
    Given Alice has signed in
    When Alice asks for her <things> <size> at a time
    Then she is told the request is invalid

    Examples:
      | things        | size       |
      | tasks         | 1000000000 |
      | notifications | 101        |
      | notifications | -1         |

  Scenario: A page far beyond the end is refused rather than searched for
    Given Alice has signed in
    When Alice asks for page 9999999999 of her tasks
    Then she is told the request is invalid

  Scenario Outline: The internal endpoints stay out of reach however they are spelled
    When a visitor tries to reach an internal endpoint spelled <spelling>
    Then the visitor is told that nothing is there

    Examples:
      | spelling                          |
      | /internal/users/1                 |
      | /auth/internal/users/1            |
      | /%69nternal/users/1               |
      | /internal%2Fusers/1               |
      | /auth/%2e%2e/internal/users/1     |
      | /tasks/%2E%2E/internal/events     |
      | /notify/%2e%2e%2finternal/events  |
      | /INTERNAL/users/1                 |
