"""A concrete URL for each rule of the app's URL map (the tests that walk every route)."""

from __future__ import annotations

from werkzeug.routing import AnyConverter, IntegerConverter


def sample_url(app, rule) -> str:
    """A concrete URL for a rule: 1 for numbers, the first choice of an any(), else 'x'."""
    values = {}
    for arg in rule.arguments:
        converter = rule._converters[arg]
        if isinstance(converter, IntegerConverter):
            values[arg] = 1
        elif isinstance(converter, AnyConverter):
            values[arg] = sorted(converter.items)[0]
        else:
            values[arg] = "x"
    return app.url_map.bind("localhost").build(rule.endpoint, values, method=sorted(rule.methods)[0])
