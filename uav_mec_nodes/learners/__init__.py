"""Learners of the paper: SAC, SAC-PER and REDQ (PyTorch), their buffers, networks and training loop."""
