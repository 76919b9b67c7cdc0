@security
Feature: Nobody reaches what is not theirs
  OWASP API1, API3 and API5, beyond what features/tasks.feature and notifications.feature
  already prove (another person's task or notification can be neither seen nor touched,
  also in bulk; an assignee may move the status only). Fields the server owns (a task's id and
  timestamps, a person's role; tasks.feature covers the owner on creation) cannot be set by a client; an assignee
  learns the owner's id but not their e-mail address; the administration stays closed to
  ordinary users, and even an administrator's role change carries nothing but the role.

  Background:
    Given Alice has signed in
    And Bob has signed in

  Scenario Outline: A client cannot set what the server owns on a new task
    When Alice creates a task that sets its <field>
    Then she is told the request is invalid

    Examples:
      | field         |
      | id            |
      | creation time |
      | update time   |

  Scenario: A task cannot be handed to someone else by changing its owner
    Given Alice has a task of her own
    When Alice tries to make Bob the owner of her task
    Then she is told the request is invalid
    And Alice's task is unchanged

  Scenario: An assignee sees the task but not the owner's e-mail address
    Given Alice has a task of her own assigned to Bob
    When Bob reads Alice's task
    Then the answer tells nothing about Alice but her id

  Scenario Outline: The administration is closed to ordinary users
    When Alice tries to make <whom> an administrator
    Then she is told it is forbidden
    And neither of them became an administrator

    Examples:
      | whom    |
      | herself |
      | Bob     |

  @admin
  Scenario: A role change carries the role and nothing else
    Given the administrator has signed in
    When the administrator makes Bob an administrator and changes his e-mail address too
    Then the administrator is told the request is invalid
    And Bob is still an ordinary user
