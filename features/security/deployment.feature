@security
Feature: Redirects stay on the gateway
  OWASP API8 (security misconfiguration). A service answers a path with a trailing slash
  by redirecting to the path without it, and builds that address from the Host header the
  client sent. The gateway turns every such address into a path on itself, so a link with
  a forged Host can never send a browser elsewhere. gateway/tests covers every form of
  address (scheme-relative, backslashes, every redirect status) against a real nginx.

  Scenario Outline: A trailing-slash redirect names no host the client chose
    When a visitor asks for <path> naming the host evil.example
    Then the visitor is redirected to <target> on the gateway itself

    Examples:
      | path          | target       |
      | /tasks/       | /tasks       |
      | /auth/login/  | /auth/login  |
      | /notify/jobs/ | /notify/jobs |
