"""Episodes and the evaluation protocol, the figures' training and evaluation plans, sweeps on Ray, figures."""
