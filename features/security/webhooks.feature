@security
Feature: Webhooks cannot be aimed inside
  OWASP API7 (SSRF) and API10. A webhook goes only to a public http(s) address. The
  obvious places are in features/notifications.feature; here are the disguises: loopback
  spelt in hex, octal, short and IPv4-mapped forms, with credentials or a trailing dot,
  the other private, shared, link-local and multicast ranges, the IPv6 metadata address
  and schemes other than http(s). That redirects are never followed and addresses are
  checked again at delivery is proven by notify-svc's worker tests, where a receiver can
  answer with a redirect.

  Background:
    Given Alice has signed in

  Scenario Outline: A webhook to an internal address is refused
    When Alice asks for a webhook to <url>
    Then she is told the request is invalid
    And no notification was queued for her

    Examples: loopback in its many spellings
      | url                             |
      | http://127.1/                   |
      | http://0x7f000001/              |
      | http://0177.0.0.1/              |
      | http://0.0.0.0:6379/            |
      | http://[::ffff:127.0.0.1]/      |
      | http://[::ffff:7f00:1]/         |
      | http://user:pw@127.0.0.1/       |
      | http://LOCALHOST./              |

    Examples: private, shared and link-local ranges
      | url                             |
      | http://172.16.0.1/              |
      | http://192.168.1.1/             |
      | http://100.64.0.1/              |
      | http://[fd00::1]/               |
      | http://[fe80::1]/               |
      | http://224.0.0.1/               |

    Examples: cloud metadata over IPv6
      | url                                          |
      | http://[fd00:ec2::254]/latest/meta-data/     |

    Examples: other schemes
      | url                             |
      | ftp://example.com/              |
      | gopher://127.0.0.1:6379/_INFO   |
      | javascript:alert(1)             |
      | //127.0.0.1/                    |
