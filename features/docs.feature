@docs
Feature: Interactive API documentation
  Each service publishes its OpenAPI description and a Swagger UI page through the
  gateway, so a developer can read the API and try it from a browser without any tool.

  @smoke
  Scenario Outline: Each service publishes its API description
    When a developer fetches the API description of the <service> service
    Then it describes the operations of the <service> service

    Examples:
      | service |
      | auth    |
      | tasks   |
      | notify  |

  @browser @slow
  Scenario Outline: The documentation page of each service works in a browser
    When a developer opens the API documentation of the <service> service
    Then the page shows the service's operations
    When she tries out the health check from the page
    Then the page shows that the service answered successfully

    Examples:
      | service |
      | auth    |
      | tasks   |
      | notify  |
