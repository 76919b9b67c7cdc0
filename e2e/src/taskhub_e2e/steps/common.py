"""Steps every feature shares: what a person is told when TaskHub says no.

`reply` (a `target_fixture` of the `When` steps) is the latest answer; `cast.replies`
holds all of them, for steps that compare answers.
"""

from __future__ import annotations

import httpx
from pytest_bdd import parsers, then

from taskhub_e2e.actors import Cast
from taskhub_e2e.outcomes import expect_outcome, json_body

# "she is told ...", "the visitor is told ...", "they are told ..." (not "both are told").
TOLD = r"^(?!both )(?:.+?) (?:is|are) (?P<outcome>told [^,]+)$"


@then(parsers.re(TOLD))
def told(reply: httpx.Response, outcome: str) -> None:
    expect_outcome(reply, outcome)


@then(parsers.re(r"^both are (?P<outcome>told [^,]+), in the same words$"))
def both_told_alike(cast: Cast, outcome: str) -> None:
    assert len(cast.replies) >= 2, "the scenario needs two answers to compare"
    first, second = cast.replies[-2:]
    expect_outcome(first, outcome)
    expect_outcome(second, outcome)
    words = [{**json_body(answer)["error"], "request_id": None} for answer in (first, second)]
    assert words[0] == words[1], f"the two answers differ: {words[0]} / {words[1]}"
