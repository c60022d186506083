"""Everything that imports Dash: the app factory (``app``), controls built from the parameter
declarations, shared components, figures, the shell, URL state, security and the pages."""
