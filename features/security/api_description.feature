@security
Feature: One description of the whole API, and a Python client made from it
  Integrators get one OpenAPI document for all of TaskHub at the gateway: every public
  operation of the three services with an id named for what it does (`tasks.list`), every
  error as the one envelope, the gateway as the server, and nothing of the probes or the
  internal routes. The Python client (taskhub-client) is generated from that document and
  speaks to TaskHub like any integrator would.

  @smoke
  Scenario: The gateway publishes one description of the whole API
    When a developer fetches the API description of the gateway
    Then it describes every public operation of the auth, tasks and notify services
    And each operation is named for what it does and documents its errors as the envelope
    And it names the gateway as its server
    And it leaves the probes and the internal routes out

  Scenario: The documentation page of the whole API needs nothing but TaskHub
    When a developer opens the API documentation of the gateway
    Then the page shows the gateway's API description with assets TaskHub serves itself

  @smoke
  Scenario: An integrator uses TaskHub from Python
    When Bob registers, signs in, creates a task and completes it with the Python client
    Then the Python client lists his task as done
    And the Python client raises a task that is not there as NOT_FOUND, with a request id
