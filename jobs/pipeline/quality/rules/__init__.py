"""Cross-source rules (多源校核), one module each.

Each rule module holds the rule's paragraph for officers (its docstring), its settings (a
``RuleSettings`` model validating its section of conf/quality.yaml), its pure ``evaluate`` and,
beside it, its golden cases (``<rule_id>.cases.yaml``, checked by tests/unit/test_rules.py).
Adding a rule is adding a module that defines ``RULE``, and its section in conf/quality.yaml.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from jobs.pipeline.quality.rules.common import (  # noqa: F401  (the rules' shared vocabulary)
    CHECK_COLUMNS,
    Rule,
    RuleInputs,
    RuleSettings,
)
from jobs.platform import settings
from jobs.platform.config import ConfigError, project_dir

HELPERS = {"common", "persons", "legal_persons"}  # modules of shared code, not rules


@cache
def rules() -> dict[str, Rule]:
    """Every rule module's RULE, by rule id."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name in HELPERS:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        rule = module.RULE
        if rule.rule_id != info.name:
            raise ConfigError(f"{module.__file__}: RULE is {rule.rule_id!r}, not {info.name!r}")
        found[rule.rule_id] = rule
    return found


def rule_settings(rule_id: str) -> RuleSettings:
    """The rule's section of conf/quality.yaml, validated by the rule's own model (once per
    project directory, like every settings file)."""
    return _rule_settings(rule_id, project_dir())


@cache
def _rule_settings(rule_id: str, _root) -> RuleSettings:
    return settings.validated(
        rules()[rule_id].settings,
        settings.quality().rules[rule_id],
        where=f"conf/quality.yaml: rules.{rule_id}",
    )


def description(rule_id: str) -> str:
    """A cross-source rule's one-line description (conf/quality.yaml); empty for other ids."""
    return rule_settings(rule_id).description if rule_id in settings.quality().rules else ""


def weight(rule_id: str) -> float:
    """A result's weight within its dimension: a cross-source rule's ``weight``, else 1."""
    return rule_settings(rule_id).weight if rule_id in settings.quality().rules else 1.0


def enabled_rules() -> list[str]:
    """The rules to evaluate, in the order of conf/quality.yaml; a rule with no section there
    or a section with no rule is an error."""
    conf = settings.quality().rules
    code = rules()
    if unknown := sorted(set(conf) - set(code)):
        raise ConfigError(f"conf/quality.yaml: rules without code: {', '.join(unknown)}")
    if missing := sorted(set(code) - set(conf)):
        raise ConfigError(f"conf/quality.yaml: no section for the rules {', '.join(missing)}")
    return [r for r in conf if rule_settings(r).enabled]
