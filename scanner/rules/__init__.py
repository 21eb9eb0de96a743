"""Business rules: CertLogic and the EU DCC rule format, evaluated on a verified code. Pure, no I/O.

    datetimes.py  CertLogic's date-times: allowed strings, `plusTime` calendar arithmetic, `dccDateOfBirth`
    certlogic.py  the CertLogic evaluator: `compile_expression` checks an expression and compiles it,
                  `evaluate(expr, data)`; every problem is a `CertLogicError`
"""
