@tasks
Feature: Tasks
  People keep their work as tasks: a title, a status, a priority, a deadline, tags and
  someone to do it. Everyone sees only the tasks they own or are assigned to, finds them
  by status, tag, assignee and deadline, one page at a time, and changes many at once.
  The owner may change everything; the assignee only moves the status along. Creating
  tasks is limited per person, so one busy account cannot crowd out the others.

  Background:
    Given Alice has signed in

  @smoke
  Scenario: Create, read, change and delete a task
    When she creates a task:
      | title    | Write the report   |
      | priority | high               |
      | tags     | Work, urgent, work |
      | due      | in 2 days          |
    Then the task is created as hers, to do
    And its tags read "urgent, work"
    And she can read the task back
    When she changes the task:
      | title    | Write the final report |
      | priority | low                    |
    Then the task reads:
      | title    | Write the final report |
      | priority | low                    |
      | status   | to do                  |
    When she deletes the task
    Then the task is gone

  @slow
  Scenario: A hundred tasks are found by status, tag and assignee, page by page
    Given Bob has signed in
    And these tasks exist:
      | owner | count | status      | tags         | assignee |
      | Alice | 30    | to do       | home         |          |
      | Alice | 20    | in progress | work         | Bob      |
      | Bob   | 35    | to do       | work, urgent | Alice    |
      | Bob   | 15    | canceled    | work         | Alice    |
    Then Alice finds these numbers of tasks:
      | status      | tags         | assignee | total |
      |             |              |          | 100   |
      | to do       |              |          | 65    |
      | in progress |              |          | 20    |
      | canceled    |              |          | 15    |
      | done        |              |          | 0     |
      |             | home         |          | 30    |
      |             | work         |          | 70    |
      |             | work, urgent |          | 35    |
      |             |              | Bob      | 20    |
      |             |              | Alice    | 50    |
      | to do       | urgent       | Alice    | 35    |
      | in progress | home         |          | 0     |
    And Bob finds these numbers of tasks:
      | status      | tags | assignee | total |
      |             |      |          | 70    |
      |             | home |          | 0     |
      |             |      | Bob      | 20    |
      | in progress |      |          | 20    |
    When Alice reads her tasks 30 at a time
    Then she gets pages of 30, 30, 30 and 10, every task once, and nothing after the last page
    When she reads her tasks tagged "work" 25 at a time
    Then she gets pages of 25, 25 and 20, every task once, and nothing after the last page

  Scenario: Tasks are found by their deadline
    Given she has these tasks:
      | title        | due       |
      | Pay the rent | 1 day ago |
      | Call Bob     | in 1 day  |
      | Book a trip  | in 7 days |
      | Read a book  |           |
    Then she finds these tasks by their deadline:
      | due                                  | titles                 |
      | before 3 days from now               | Pay the rent, Call Bob |
      | after now                            | Call Bob, Book a trip  |
      | after now and before 3 days from now | Call Bob               |
      | before 2 days ago                    | nothing                |

  Scenario Outline: A request that breaks the rules is refused
    When she <mistake>
    Then she is told the request is invalid
    And she still has no tasks

    Examples:
      | mistake                                            |
      | creates a task with the status "someday"           |
      | creates a task without a title                     |
      | creates a task with a field TaskHub does not know  |
      | creates a task assigned to someone with no account |
      | creates a task that claims another owner           |
      | lists her tasks 1000 at a time                     |
      | lists her tasks with the status "someday"          |
      | marks 101 tasks done at once                       |

  @security
  Scenario: Someone else's task can be neither seen nor touched
    Given she has a task "Surprise party"
    And Bob has signed in
    When Bob looks at Alice's task
    Then he is told that nothing is there
    When he tries to change Alice's task
    Then he is told that nothing is there
    When he tries to delete Alice's task
    Then he is told that nothing is there
    When he marks Alice's task done in bulk
    Then her task is reported as not found
    And Alice's task is still "Surprise party", to do
    And Bob's task list does not show Alice's task

  Scenario: A change shows at once in every list it concerns
    Given Bob has signed in
    And Alice has a task "Paint the shed" assigned to Bob
    And Alice and Bob have looked at their task lists
    When Bob moves the task to done
    Then Alice's task list shows the task as done
    When Alice deletes the task
    Then Bob's task list does not show Alice's task

  @security
  Scenario: The assignee may move the status along, and nothing else
    Given Bob has signed in
    And Alice has a task "Fix the fence" assigned to Bob
    When Bob moves the task to in progress
    Then the task reads:
      | status | in progress |
    When he tries to rename the task
    Then he is told it is forbidden
    When he tries to delete the task
    Then he is told it is forbidden
    And Alice's task is still "Fix the fence", in progress

  @security
  Scenario: The 61st task in a minute must wait, and others are not held up
    Given Bob has signed in
    And Alice has created 60 tasks within the last minute
    When she creates one more task
    Then she is told to slow down
    And the answer says when to try again, within a minute
    When Bob creates a task
    Then the task is created
