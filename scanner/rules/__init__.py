"""Business rules: CertLogic and the EU DCC rule format, evaluated on a verified code. Pure, no I/O.

    datetimes.py  CertLogic's date-times: allowed strings, `plusTime` calendar arithmetic, `dccDateOfBirth`
    certlogic.py  the CertLogic evaluator: `compile_expression` checks an expression and compiles it,
                  `evaluate(expr, data)`; every problem is a `CertLogicError`
    model.py      EU-format rules (`parse_rule` -> `BusinessRule`) and a rules list's content (`RuleBook`:
                  country, rules, named rule sets, value sets)
    engine.py     which rules apply (`select_rules`: sets, type, country/region, version in force) and
                  running them (`evaluate_book` -> `RulesOutcome`)
    verdict.py    `apply_rules`: a verified code that fails a rule gets verdict `rules` and `failed_rule`
    ruleslist.py  the signed rules list (`RulesList`, `sign_rules_list`) and `RulesStore` (rollback,
                  atomic persistence, set-aside, bootstrap, `refresh` for the kiosk)
    valuesets.py  EU value sets (`load_value_sets`; the shipped copy in eu-valuesets/)
    shipped.py    the example rule sets in example-rules/ (3G, 2G, test-only, hcc1-transport)
"""
