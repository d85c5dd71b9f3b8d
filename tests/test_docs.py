"""Review 8.25: the project carries its own documentation (docs/), and
nothing in it points outside the repository.

- no shipped file mentions the internal folder next to the checkout;
- every rule number cited anywhere (code, tests, templates, catalogues,
  docs) is defined in docs/rules.md, under the numbering the offer's rules
  have always had;
- every `docs/….md` named anywhere exists;
- docs/api.md lists every stable error code with its HTTP status, and its
  Python webhook-signature example accepts what the platform signs;
- the dashboard says how a text is billed, R-SEG-3's UTF-16 policy included.
"""

from __future__ import annotations

import functools
import re
import time

import pytest
from django.urls import reverse

from messaging.services.events import sign
from otpportal.errors import STATUS_BY_CODE
from tests.conftest import Cast
from tests.helpers import signed_in
from tests.shipped import ROOT, shipped_files

DOCS = ROOT / "docs"
RULES = (DOCS / "rules.md").read_text()
API = (DOCS / "api.md").read_text()


def _flat(markdown: str) -> str:
    """The text as read: line breaks and bold markers do not matter."""
    return re.sub(r"\s+", " ", markdown.replace("**", ""))


# Spelled in two halves so that this file does not mention them itself.
OUTSIDE_REFERENCES = ("../" + "shared", "/work/" + "shared")
RULE_NUMBER = re.compile(r"\bR-[A-Z]+-\d+\b")
# A rule is defined where docs/rules.md opens a bullet with its number in bold.
RULE_DEFINITION = re.compile(r"^- \*\*(R-[A-Z]+-\d+)\*\*", re.MULTILINE)
RULE_GROUPS = {"CH": 5, "OP": 3, "SEG": 4, "PL": 2, "PRE": 6, "POST": 8, "SID": 8}
BINARY_SUFFIXES = {".mo", ".png", ".jpg", ".ico", ".pdf", ".woff", ".woff2", ".sqlite3"}


@functools.cache
def _texts() -> dict[str, str]:
    texts = {}
    for path in shipped_files():
        if path.suffix in BINARY_SUFFIXES:
            continue
        texts[path.relative_to(ROOT).as_posix()] = path.read_text(errors="replace")
    return texts


def test_no_shipped_file_points_outside_the_repository_review_8_25() -> None:
    """Review 8.25: "the README points to files that don't exist"."""
    offenders = sorted(
        path.relative_to(ROOT).as_posix()
        for path in shipped_files()
        if any(reference.encode() in path.read_bytes() for reference in OUTSIDE_REFERENCES)
    )
    assert offenders == []


def test_rules_keep_the_offers_numbering_review_8_25() -> None:
    """Review 8.25: docs/rules.md defines R-CH-1…5, R-OP-1…3, R-SEG-1…4,
    R-PL-1…2, R-PRE-1…6, R-POST-1…8, R-SID-1…8, each once."""
    defined = RULE_DEFINITION.findall(RULES)
    expected = [f"R-{group}-{n}" for group, count in RULE_GROUPS.items() for n in range(1, count + 1)]
    assert sorted(defined) == sorted(expected)
    assert len(defined) == len(set(defined)), "a rule is defined twice"


def test_every_cited_rule_number_is_defined_in_docs_rules_review_8_25() -> None:
    """Review 8.25: every `R-PRE-2` in the code resolves inside the repository."""
    defined = set(RULE_DEFINITION.findall(RULES))
    cited: dict[str, set[str]] = {}
    for name, text in _texts().items():
        for number in RULE_NUMBER.findall(text):
            cited.setdefault(number, set()).add(name)
    assert len(cited) > 20, "hardly any rule number found: the pattern is stale"
    undefined = {number: sorted(files) for number, files in cited.items() if number not in defined}
    assert undefined == {}


def test_every_named_docs_page_exists_review_8_25() -> None:
    """Review 8.25: README, CONTRIBUTING, code and the pages' own links name only pages that exist."""
    named: dict[str, set[str]] = {}
    for name, text in _texts().items():
        for page in re.findall(r"\bdocs/[\w-]+\.md\b", text):
            named.setdefault(page, set()).add(name)
        if name.startswith("docs/"):  # relative links between the pages
            for page in re.findall(r"\]\(([\w-]+\.md)(?:#[\w-]*)?\)", text):
                named.setdefault(f"docs/{page}", set()).add(name)
    assert {"docs/rules.md", "docs/api.md", "docs/operations.md", "docs/architecture.md"} <= set(named)
    missing = {page: sorted(files) for page, files in named.items() if not (ROOT / page).is_file()}
    assert missing == {}


def test_api_guide_lists_every_stable_error_code_with_its_status_review_8_25() -> None:
    """Review 8.25: docs/api.md "Errors" matches otpportal/errors.py: a table row
    ``| `code` | status |`` or, for staff-only codes, ``` `code` (status) ```."""
    api = _flat(API)
    undocumented = [
        f"{code} {status}"
        for code, status in STATUS_BY_CODE.items()
        if f"| `{code}` | {status} |" not in api and f"`{code}` ({status})" not in api
    ]
    assert undocumented == []


def _python_example(title: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", API, re.DOTALL)
    matching = [block for block in blocks if title in block]
    assert len(matching) == 1, f"expected one ```python block with {title!r} in docs/api.md"
    return matching[0]


def test_api_guide_webhook_signature_example_accepts_what_the_platform_signs_review_8_25() -> None:
    """Review 8.25: the integrator's Python example checks signatures exactly as
    messaging.services.events.sign makes them, and refuses tampering and replays."""
    namespace: dict[str, object] = {}
    exec(_python_example("def signature_is_valid"), namespace)  # noqa: S102 - our own documentation
    check = namespace["signature_is_valid"]
    secret, body, now = "whsec_example", b'{"id":"evt_1","type":"message.status"}', int(time.time())
    header = sign(secret, body, now)
    assert check(secret, body, header) is True  # type: ignore[operator]
    assert check(secret, body + b" ", header) is False  # type: ignore[operator]
    assert check("whsec_other", body, header) is False  # type: ignore[operator]
    assert check(secret, body, sign(secret, body, now - 3600)) is False  # type: ignore[operator]
    assert check(secret, body, "garbage") is False  # type: ignore[operator]


@pytest.mark.django_db
def test_templates_page_says_ucs2_length_is_counted_in_utf16_units_r_seg_3(cast: Cast) -> None:
    """Review 8.25, R-SEG-3: the policy is written down where customers write their texts: an emoji counts 2.
    Issue 12: without the rule's number (no R-… in customer-facing text)."""
    page = signed_in(cast.owner.email).get(reverse("messaging:templates"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "UTF-16" in text and "R-SEG" not in text and "R-CH" not in text


def test_rules_state_the_utf16_policy_and_top_ups_as_activity_review_8_25() -> None:
    """Review 8.25: R-SEG-3 counts UTF-16 code units; R-PRE-6 counts a top-up as activity."""
    rules = _flat(RULES)
    seg3 = rules[rules.index("R-SEG-3 ") : rules.index("R-SEG-4 ")]
    assert "UTF-16 code units" in seg3 and "counts 2" in seg3
    pre6 = rules[rules.index("R-PRE-6 ") : rules.index("R-POST-1 ")]
    assert "or a top-up" in pre6 and "later of the last send and the last top-up" in pre6
