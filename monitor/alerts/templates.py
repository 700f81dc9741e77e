"""Per-rule message templates in a sandboxed Jinja2 environment.

Templates come from the config file, and the values they show come from feeds:
both are untrusted. The sandbox stops a template from reaching Python internals;
the HTML environment autoescapes every value, so a feed's ``<script>`` or tracking
pixel arrives as text. A template that fails at render time never loses the
alert: the default rendering is used and the failure is logged.

Variables: ``rule``, ``article`` (title, url, feed, published, when, summary,
lead), ``evidence`` (terms, snippet, marked_title, excerpts), ``matches``
(digests: the listed matches, newest first, each with the keys of ``article``
and ``evidence``), ``more_count``, ``kind`` ("alert" or "digest"), ``story``
(alerts: id, title, link, articles, outlets of the article's story, or None); see
docs/delivery.md. Filter ``md`` escapes text for Markdown.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from monitor.alerts.render import RenderedAlert, md_escape, one_line
from monitor.redact import redact

if TYPE_CHECKING:  # Jinja2 is imported on first use: most configs have no template
    from jinja2 import Template
    from jinja2.sandbox import SandboxedEnvironment

log = logging.getLogger(__name__)

PARTS = ("title", "text", "markdown", "html")
#: The largest value ``*`` and ``**`` may build in a template: characters or items of a
#: repeated string or list, bits of a power. ``{{ "x" * 10**9 }}`` would take a gigabyte
#: and ``9**9**9`` minutes, holding up every alert behind it; they fail instead (and
#: the alert goes out in the default format).
MAX_TEMPLATE_VALUE = 100_000


def bounded_binop(operator: str, left: Any, right: Any) -> None:
    """Raise SecurityError when ``left operator right`` would exceed MAX_TEMPLATE_VALUE."""
    from jinja2.exceptions import SecurityError

    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if (isinstance(seq, (str, list, tuple)) and isinstance(times, int)
                    and len(seq) * times > MAX_TEMPLATE_VALUE):
                raise SecurityError(f"the template builds a value of over "
                                    f"{MAX_TEMPLATE_VALUE:,} items with *")
    elif (operator == "**" and isinstance(left, int) and isinstance(right, int)
          and abs(left) > 1 and abs(left).bit_length() * right > MAX_TEMPLATE_VALUE):
        raise SecurityError(f"the template builds a number of over {MAX_TEMPLATE_VALUE:,}"
                            " bits with **")


@functools.cache
def _env(autoescape: bool) -> SandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    class BoundedSandbox(SandboxedEnvironment):
        # Intercepted operators are also never folded at compile time (start-up).
        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            bounded_binop(operator, left, right)
            return super().call_binop(context, operator, left, right)

    env = BoundedSandbox(autoescape=autoescape, undefined=StrictUndefined,
                         trim_blocks=True, lstrip_blocks=True)
    env.filters["md"] = md_escape
    return env


def template_error(source: str) -> str | None:
    """The syntax error in a template source (with its line), or None when it compiles."""
    from jinja2 import TemplateError

    try:
        _env(autoescape=False).parse(source)
    except TemplateError as e:
        line = getattr(e, "lineno", None)
        return f"line {line}: {e.message}" if line else str(e)
    return None


@dataclass(frozen=True)
class RuleTemplate:
    """A rule's compiled templates; a part left None uses the default rendering."""

    rule: str
    parts: Mapping[str, Template]

    @classmethod
    def compile(cls, rule: str, sources: Mapping[str, str | None]) -> RuleTemplate:
        """Compile the given parts (config checks already caught syntax errors)."""
        parts = {}
        for part, source in sources.items():
            if source is not None:
                env = _env(autoescape=part == "html")
                parts[part] = env.from_string(source)
        return cls(rule, parts)

    def render(self, context: Mapping[str, Any], default: RenderedAlert) -> RenderedAlert:
        """Render every templated part; on any error, the whole default message."""
        try:
            out = {part: self.parts[part].render(context) for part in self.parts}
        except Exception as e:  # a template bug must not lose the alert
            log.warning("template.failed rule=%s error=%s", self.rule,
                        redact(f"{type(e).__name__}: {e}")[:500])
            return default
        return RenderedAlert(
            title=one_line(out["title"]) if "title" in out else default.title,
            text=out.get("text", default.text),
            markdown=out.get("markdown", default.markdown),
            html=out.get("html", default.html),
        )
