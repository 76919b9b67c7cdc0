@gateway
Feature: One front door
  Everything TaskHub offers is reached through one gateway. It tells anyone whether the
  system is up, answers every mistake in the same JSON shape with a request id that
  support can look up, and keeps what is internal or operational out of a visitor's reach.

  @smoke
  Scenario: The gateway is healthy
    When a visitor checks the health of the gateway
    Then the gateway reports that it is healthy

  @smoke
  Scenario Outline: Every service reports its health through the gateway
    When a visitor checks the health of the <service> service
    Then the <service> service reports that it is healthy

    Examples:
      | service |
      | auth    |
      | tasks   |
      | notify  |

  Scenario: An unknown address is answered with a not-found error and a request id
    When a visitor asks for an address TaskHub does not have
    Then the visitor is told that nothing is there
    And the answer carries a request id that matches the response header

  @security
  Scenario: A body larger than the gateway accepts is refused
    When a visitor sends a body larger than the gateway accepts
    Then the visitor is told the body is too large

  Scenario: The request id a client sends is kept
    When a visitor calls with their own request id
    Then the answer carries the same request id

  @security
  Scenario: A request id that is not a plain token is replaced
    When a visitor calls with a request id full of odd characters
    Then the answer carries a request id of the gateway's own making

  @security
  Scenario Outline: The internal endpoints of a service cannot be reached from outside
    When a visitor tries to reach the internal endpoints of the <service> service
    Then the visitor is told that nothing is there

    Examples:
      | service |
      | auth    |
      | tasks   |
      | notify  |

  @observability @trusted
  Scenario Outline: Operators on a trusted network read each service's metrics
    When an operator on a trusted network reads the metrics of the <service> service
    Then the metrics are shown in Prometheus' text format

    Examples:
      | service |
      | auth    |
      | tasks   |
      | notify  |

  @security @outside
  Scenario: Metrics are refused to the outside world
    Only a client on a public network can show this: the gateway serves metrics to
    loopback and private networks, where the suite usually runs.

    When a visitor from the internet reads the metrics of the auth service
    Then the visitor is told it is forbidden

  @chaos @slow
  Scenario: A service that is down is reported as unavailable, and recovers
    Given the notify service is down
    When a visitor checks the health of the notify service
    Then the visitor is told the service is unavailable
    When the notify service is started again
    Then the notify service is healthy again within 30 seconds
