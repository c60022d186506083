"""Pure statistics over frames: RFM, the Overview's KPIs, cohorts, CLV models (``clv``),
clustering (``clustering``) and the action list. Imports only numpy, pandas, scipy and
scikit-learn, and the ingest layer's contracts."""
