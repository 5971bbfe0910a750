"""多源校核: suites, cross-source rules (one module each, rules/), findings and scores."""
