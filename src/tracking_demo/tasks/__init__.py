"""Training and evaluation tasks: each fits or scores models and hands its results to the
tracking session. `models/` holds the networks they build."""
