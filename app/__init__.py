"""The trainer web app: one module per tab, thin, calling ``acestep_train``."""
