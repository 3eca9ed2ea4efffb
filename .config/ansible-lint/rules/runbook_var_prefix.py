"""var-naming[no-role-prefix] for this collection: a role's variables carry its prefix, or `rollback_`.

The runbook's steps share the run's state under the collection-wide `rollback_` prefix: the settings of
roles/common (rollback_app_dir, rollback_hooks, ...), the run record rollback_run and the facts one step
hands to the next (rollback_target_version, rollback_release, ...). A role-prefixed name there would tie
every reader to the role that happens to write it. Every other variable a role sets, registers or passes
on must carry that role's prefix, as ansible-lint's own rule says; this rule is that rule with the one
shared prefix allowed (`.ansible-lint` skips the built-in one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from ansiblelint.rules.var_naming import VariableNamingRule

if TYPE_CHECKING:
    from ansiblelint.errors import MatchError
    from ansiblelint.file_utils import Lintable

SHARED_PREFIX = "rollback_"


class RunbookVariablePrefixRule(VariableNamingRule):
    """Variables set within a role use the role's prefix or the shared rollback_ prefix."""

    id = "runbook-var-prefix"
    description = (
        "A role's variables carry the role's prefix; the run's shared state and settings use rollback_."
    )
    severity = "MEDIUM"
    tags: ClassVar[list[str]] = ["idiom"]
    version_changed = "26.10.1"
    _ids: ClassVar[dict[str, str]] = {
        "runbook-var-prefix[no-role-prefix]": "Variables names from within roles use the role's prefix or rollback_.",
    }

    def get_var_naming_matcherror(self, ident, *, prefix=None, file: Lintable) -> MatchError | None:
        found = super().get_var_naming_matcherror(ident, prefix=prefix, file=file)
        # Everything but the prefix is the built-in rule's to say (it runs too).
        if found is None or found.tag != "var-naming[no-role-prefix]":
            return None
        if isinstance(ident, str) and ident.lstrip("_").startswith(SHARED_PREFIX):
            return None
        return self.create_matcherror(
            tag=f"{self.id}[no-role-prefix]",
            message=f"Variables names from within roles should use {prefix.value}_ or {SHARED_PREFIX} as a prefix.",
            filename=file,
            data=ident,
        )
