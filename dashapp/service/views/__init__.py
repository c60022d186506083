"""One module per page view. Each function takes a :class:`~dashapp.service.filters.Filters`
and the page's parameters (validated against :mod:`dashapp.service.params`), memoizes its
result, and returns a typed :class:`~dashapp.service.results.View`. The statistics are in
:mod:`dashapp.analytics`; these modules only fetch, combine and shape."""
