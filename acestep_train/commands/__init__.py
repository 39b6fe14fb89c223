"""One module per CLI command (see ``acestep_train.cli``)."""
