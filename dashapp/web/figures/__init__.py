"""Figure builders, one module per page, on a shared template (:mod:`.base`): plain Plotly
figure dicts from the service's results. They format and lay out; they never compute."""
