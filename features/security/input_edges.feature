@security
Feature: No input reaches a server error
  Every field of every service is checked where the request comes in: text without lone
  surrogates or NUL characters (no database or encoder can hold them), date-times from
  1970-01-01T00:00:00Z to 9999-12-30T23:59:59Z once their offset is applied, webhook
  addresses whose host is valid IDNA and whose port exists, page numbers within bounds.
  Anything else is a 422 naming the field, never a 500 and never a job stuck in a worker.
  The services' own tests try every field of their API description; these are the cases
  that once reached a 500, through the gateway.

  Scenario Outline: A date-time outside the supported range is refused, naming the range
    Given Alice has signed in
    When Alice sends <value> as the <field> of <request>
    Then she is told the request is invalid
    And the answer names the <field> field, saying "1970-01-01T00:00:00Z to 9999-12-30T23:59:59Z"

    Examples:
      | request                | field      | value                     |
      | a new task             | due_at     | 9999-12-31T23:59:59-14:00 |
      | a new task             | due_at     | 0001-01-01T00:00:00+14:00 |
      | a task change          | due_at     | 9999-12-31T23:59:59-14:00 |
      | the task list          | due_before | 0001-01-01T00:00:00+14:00 |
      | the task list          | due_after  | 9999-12-31T23:59:59-14:00 |
      | an e-mail notification | send_at    | 0001-01-01T00:00:00+14:00 |
      | a webhook notification | send_at    | 9999-12-31T23:59:59-14:00 |

  Scenario Outline: The ends of the supported range are accepted, whatever the offset
    Given Alice has signed in
    When Alice sends <value> as the due_at of a new task
    Then the task is due at <rendered>

    Examples:
      | value                     | rendered                    |
      | 1970-01-01T14:00:00+14:00 | 1970-01-01T00:00:00.000000Z |
      | 9999-12-30T09:59:59-14:00 | 9999-12-30T23:59:59.000000Z |

  Scenario Outline: Text no database can store is refused in every service
    Given Alice has signed in
    When Alice sends <value> as the <field> of <request>
    Then she is told the request is invalid
    And the answer names the <field> field, saying "<words>"

    Examples:
      | request                | field    | value            | words     |
      | a registration         | name     | a lone surrogate | surrogate |
      | a sign-in              | password | a lone surrogate | surrogate |
      | a new task             | title    | a lone surrogate | surrogate |
      | a new task             | tags     | a NUL character  | NUL       |
      | a task change          | title    | a lone surrogate | surrogate |
      | the task list          | tag      | a NUL character  | NUL       |
      | an e-mail notification | subject  | a lone surrogate | surrogate |
      | an e-mail notification | body     | a lone surrogate | surrogate |
      | a webhook notification | payload  | a lone surrogate | surrogate |

  Scenario Outline: A webhook address the sender could not use is refused at once
    Given Alice has signed in
    When Alice sends <url> as the <field> of <request>
    Then she is told the request is invalid
    And the answer names the <field> field, saying "<words>"

    Examples:
      | request                | field       | url                       | words |
      | a new task             | webhook_url | http://xn--ls8h.la/       | host  |
      | a task change          | webhook_url | http://xn--a/             | host  |
      | a webhook notification | url         | http://xn--ls8h.la/       | host  |
      | a webhook notification | url         | http://example.com:65536/ | port  |

  Scenario Outline: A page number at a machine-integer border is refused
    Given Alice has signed in
    When Alice sends <number> as the page of <request>
    Then she is told the request is invalid

    Examples:
      | request               | number |
      | the task list         | 2^31   |
      | the task list         | 2^63   |
      | the notification list | 2^64   |

  Scenario Outline: One address in another Unicode spelling is the same account
    Given Renee has registered with an accented e-mail address in <registered> form
    When she signs in spelling it in <typed> form
    Then she receives a pair of tokens

    Examples:
      | registered | typed      |
      | decomposed | composed   |
      | composed   | decomposed |
