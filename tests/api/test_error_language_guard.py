"""Review 8.19: every refusal's text goes through gettext when it is raised.

Parses (``ast``) every project module outside ``tests/`` and ``devservers/``
and fails on a ``ServiceError(...)`` or ``field_error(...)`` (or a module's own
helper that passes one of its parameters on as such a message, like
``_bad(field, message)``) whose message is a bare string literal or an
f-string, or a module constant that is not marked for translation; and on a
``details`` list holding a bare string. A message must be a gettext call
(``_("…")``, ``_(MSG_…)``), a %-formatted one (``_("… %(x)s") % {…}``) or a
variable holding one. The rule then holds for code written later too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {"tests", "devservers", ".venv", "var", "node_modules", "migrations", "static", "locale"}
GETTEXT_NAMES = {"_", "gettext", "ngettext", "pgettext", "npgettext"}
# The raisers: name -> (position, keyword) of the message argument.
RAISERS: dict[str, tuple[int, str]] = {"ServiceError": (1, "message"), "field_error": (1, "message")}


@dataclass(frozen=True)
class Offence:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def project_modules() -> list[Path]:
    return sorted(
        path
        for path in ROOT.rglob("*.py")
        if not SKIPPED_DIRS & set(path.relative_to(ROOT).parts[:-1]) and path.name != "conftest.py"
    )


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _is_gettext(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and _name(node.func) in GETTEXT_NAMES


def _plain_constants(tree: ast.Module) -> set[str]:
    """Module-level names bound to a bare string (not marked for translation)."""
    names: set[str] = set()
    for statement in tree.body:
        if not isinstance(statement, ast.Assign):
            continue
        value = statement.value
        if isinstance(value, ast.JoinedStr) or (isinstance(value, ast.Constant) and isinstance(value.value, str)):
            names.update(t.id for t in statement.targets if isinstance(t, ast.Name))
    return names


def message_problem(node: ast.expr, plain: set[str]) -> str | None:
    """Why ``node`` is not an acceptable message, or None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return f"a bare string {node.value[:50]!r}"
    if isinstance(node, ast.JoinedStr):
        return "an f-string"
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Mod):
            if _is_gettext(node.left):
                return None
            if isinstance(node.left, ast.Name):  # a variable holding a translated msgid
                return message_problem(node.left, plain)
            return "a %-formatted string that is not a gettext call"
        return "a string built with + (one gettext msgid per sentence)"
    if isinstance(node, ast.Call) and _name(node.func) in {"format", "join", "replace"}:
        return "a .format()/.join()/.replace() string (use %-placeholders in a gettext msgid)"
    if isinstance(node, ast.Name) and node.id in plain:
        return f"the untranslated constant {node.id} (mark it gettext_noop and raise _({node.id}))"
    if isinstance(node, ast.Name | ast.Attribute) and _name(node).startswith(("MSG_", "_MSG_")):
        return f"the constant {_name(node)} without _()"
    if isinstance(node, ast.IfExp):
        return message_problem(node.body, plain) or message_problem(node.orelse, plain)
    return None


def _argument(call: ast.Call, position: int, keyword: str) -> ast.expr | None:
    if len(call.args) > position:
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def _helpers(tree: ast.Module) -> dict[str, tuple[int, str]]:
    """Module functions that hand one of their parameters to a raiser as its message."""
    helpers: dict[str, tuple[int, str]] = {}
    for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        parameters = [a.arg for a in function.args.posonlyargs + function.args.args]
        for call in (n for n in ast.walk(function) if isinstance(n, ast.Call)):
            spec = RAISERS.get(_name(call.func))
            message = _argument(call, *spec) if spec else None
            if isinstance(message, ast.Name) and message.id in parameters:
                helpers[function.name] = (parameters.index(message.id), message.id)
    return helpers


def _details_strings(call: ast.Call) -> Iterator[ast.expr]:
    details = next((k.value for k in call.keywords if k.arg == "details"), None)
    if not isinstance(details, ast.Dict):
        return
    for value in details.values:
        if isinstance(value, ast.List):
            for item in value.elts:
                if message_problem(item, set()) and not isinstance(item, ast.Name):
                    yield item


def offences_in(path: Path) -> list[Offence]:
    source = path.read_text(encoding="utf-8")
    if "ServiceError" not in source and "field_error" not in source:
        return []
    tree = ast.parse(source, filename=str(path))
    plain = _plain_constants(tree)
    raisers = {**RAISERS, **_helpers(tree)}
    relative = str(path.relative_to(ROOT))
    found: list[Offence] = []
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        name = _name(call.func)
        if name not in raisers:
            continue
        message = _argument(call, *raisers[name])
        problem = message_problem(message, plain) if message is not None else None
        if problem:
            found.append(Offence(relative, call.lineno, f"{name}(...) message is {problem}"))
        for item in _details_strings(call):
            found.append(
                Offence(relative, item.lineno, f"{name}(...) details list holds {message_problem(item, set())}")
            )
    return found


def test_review_8_19_the_guard_sees_the_project() -> None:
    """The scan covers the apps (not an empty list that passes by accident)."""
    paths = {str(p.relative_to(ROOT)) for p in project_modules()}
    assert {"messaging/services/sending.py", "billing/services/charging.py", "otpportal/api.py"} <= paths
    assert not any(p.startswith(("tests/", "devservers/")) for p in paths)


def test_review_8_19_the_guard_catches_each_kind_of_untranslated_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "MSG_X = 'plain'\n"
        "def _bad(field, message):\n"
        "    return ServiceError('invalid_request', message, details={field: [message]})\n"
        "raise ServiceError('not_found', 'No such thing.')\n"
        "raise ServiceError('not_found', f'No {x}.')\n"
        "raise field_error('to', MSG_X)\n"
        "raise _bad('to', 'Bare.')\n"
        "raise ServiceError('invalid_request', _('Ok.'), details={'to': ['Required.']})\n"
        "raise ServiceError('invalid_request', 'Line %s' % 1)\n"
        "raise ServiceError('invalid_request', _('Fine %(x)s.') % {'x': 1}, details={'to': [_('Fine.'), value]})\n"
    )
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        found = [o.line for o in offences_in(bad)]
    finally:
        ROOT = saved
    assert found == [4, 5, 6, 7, 8, 9]


def test_review_8_19_every_refusal_message_and_details_text_is_translated_when_raised() -> None:
    offences = [str(o) for path in project_modules() for o in offences_in(path)]
    assert not offences, "untranslated refusal texts (Review 8.19):\n" + "\n".join(offences)
