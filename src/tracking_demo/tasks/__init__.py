"""Training tasks: each fits, evaluates and hands results to the tracking session."""
